//! The store's binary records: log chunks and item records.
//!
//! A **chunk** holds consecutive transactions of a feed's log (ascending
//! seq; compaction may leave gaps) as a run of entries:
//!
//! ```text
//! entry  := seq u64 | stamp u64 | len u32 | body[len]
//! body   := born u64 | action u8 | id str | payload   (no payload for a delete)
//! str    := len u32 | UTF-8 bytes
//! payload:= 6 x opt-str (title, link, summary, content, content_type, author)
//!           | n u32 | n x str (categories)
//!           | n u32 | n x (url str | length u64 | mime str) (enclosures)
//!           | opt-str (published)
//!           [ | 1 u8 | n x opt-str (each enclosure's via) ]  (only when one has it)
//! opt-str:= 0 | 1 str
//! ```
//!
//! All integers are big-endian. The entry header carries seq and stamp, so a
//! reader skips entries (to a position, or to find a stamp) without decoding
//! their bodies. An **item record** is `0 | seq | stamp | born | payload`
//! for a live item, `1 | seq` for a deleted one (the seq of its tombstone).
//!
//! Decoding never panics on bad bytes: it returns [`CodecError`], which the
//! store reports as a corrupt record.

use super::ItemState;
use crate::model::{Action, Enclosure, Payload, Txn};

/// Bytes of an entry's header: seq, stamp, body length.
const HEADER: usize = 8 + 8 + 4;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("record truncated")]
    Truncated,
    #[error("record holds invalid UTF-8")]
    Utf8,
    #[error("record holds an unknown tag {0}")]
    Tag(u8),
}

/// The parts of a transaction an entry's body holds, borrowed from it.
pub struct TxnHead<'a> {
    pub born: u64,
    pub action: Action,
    pub id: &'a str,
}

/// One entry of a chunk, its body not decoded yet.
#[derive(Clone, Copy)]
pub struct RawEntry<'a> {
    pub seq: u64,
    pub stamp: u64,
    /// The whole entry, header included (copied as is when a chunk is rewritten).
    pub bytes: &'a [u8],
}

impl<'a> RawEntry<'a> {
    fn body(&self) -> &'a [u8] {
        &self.bytes[HEADER..]
    }

    /// born, action and id, without the payload.
    pub fn head(&self) -> Result<TxnHead<'a>, CodecError> {
        self.parts().map(|(head, _)| head)
    }

    /// The whole transaction.
    pub fn txn(&self) -> Result<Txn, CodecError> {
        let (head, mut rest) = self.parts()?;
        let payload = match head.action {
            Action::Delete => None,
            _ => Some(rest.payload()?),
        };
        Ok(Txn {
            seq: self.seq,
            id: head.id.to_string(),
            action: head.action,
            stamp: self.stamp,
            born: head.born,
            payload,
        })
    }

    /// The body's head, and a reader at the payload.
    fn parts(&self) -> Result<(TxnHead<'a>, Reader<'a>), CodecError> {
        let mut r = Reader(self.body());
        let born = r.u64()?;
        let action = match r.u8()? {
            0 => Action::Add,
            1 => Action::Update,
            2 => Action::Delete,
            t => return Err(CodecError::Tag(t)),
        };
        let id = r.str()?;
        Ok((TxnHead { born, action, id }, r))
    }
}

/// Append one transaction's entry to `out`.
pub fn put_entry(
    out: &mut Vec<u8>,
    seq: u64,
    stamp: u64,
    born: u64,
    action: Action,
    id: &str,
    payload: Option<&Payload>,
) {
    let start = out.len();
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&stamp.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&born.to_be_bytes());
    out.push(match action {
        Action::Add => 0,
        Action::Update => 1,
        Action::Delete => 2,
    });
    put_str(out, id);
    if let Some(p) = payload {
        put_payload(out, p);
    }
    let len = u32::try_from(out.len() - start - HEADER).unwrap_or(u32::MAX);
    out[start + 16..start + HEADER].copy_from_slice(&len.to_be_bytes());
}

/// The entries of a chunk, oldest first; a malformed entry ends the
/// iteration with an error.
pub fn entries(chunk: &[u8]) -> impl Iterator<Item = Result<RawEntry<'_>, CodecError>> {
    let mut rest = chunk;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let entry = (|| {
            let mut r = Reader(rest);
            let seq = r.u64()?;
            let stamp = r.u64()?;
            let len = usize::try_from(r.u32()?).map_err(|_| CodecError::Truncated)?;
            let total = HEADER.checked_add(len).ok_or(CodecError::Truncated)?;
            if rest.len() < total {
                return Err(CodecError::Truncated);
            }
            let (bytes, tail) = rest.split_at(total);
            Ok((RawEntry { seq, stamp, bytes }, tail))
        })();
        match entry {
            Ok((e, tail)) => {
                rest = tail;
                Some(Ok(e))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

/// An item's record: its current state, or the seq of its tombstone.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // decoded and consumed at once; boxing buys nothing
pub enum Record {
    Live(ItemState),
    Tomb(u64),
}

pub fn put_live(out: &mut Vec<u8>, seq: u64, stamp: u64, born: u64, payload: &Payload) {
    out.push(0);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&stamp.to_be_bytes());
    out.extend_from_slice(&born.to_be_bytes());
    put_payload(out, payload);
}

pub fn tomb(seq: u64) -> [u8; 9] {
    let mut b = [1u8; 9];
    b[1..].copy_from_slice(&seq.to_be_bytes());
    b
}

pub fn record(bytes: &[u8]) -> Result<Record, CodecError> {
    let mut r = Reader(bytes);
    match r.u8()? {
        0 => Ok(Record::Live(ItemState {
            seq: r.u64()?,
            stamp: r.u64()?,
            born: r.u64()?,
            payload: r.payload()?,
        })),
        1 => Ok(Record::Tomb(r.u64()?)),
        t => Err(CodecError::Tag(t)),
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..len as usize]);
}

fn put_opt(out: &mut Vec<u8>, s: &Option<String>) {
    match s {
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
        None => out.push(0),
    }
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_payload(out: &mut Vec<u8>, p: &Payload) {
    for field in [
        &p.title,
        &p.link,
        &p.summary,
        &p.content,
        &p.content_type,
        &p.author,
    ] {
        put_opt(out, field);
    }
    put_count(out, p.categories.len());
    for c in &p.categories {
        put_str(out, c);
    }
    put_count(out, p.enclosures.len());
    for e in &p.enclosures {
        put_str(out, &e.url);
        out.extend_from_slice(&e.length.to_be_bytes());
        put_str(out, &e.mime);
    }
    put_opt(out, &p.published);
    // An extension older records lack: each enclosure's `via`, written only
    // when one has it (so every payload without one keeps its bytes).
    if p.enclosures.iter().any(|e| e.via.is_some()) {
        out.push(VIAS);
        for e in &p.enclosures {
            put_opt(out, &e.via);
        }
    }
}

/// The tag of the payload extension that holds each enclosure's `via`.
const VIAS: u8 = 1;

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.0.len() < n {
            return Err(CodecError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    fn len(&mut self) -> Result<usize, CodecError> {
        usize::try_from(self.u32()?).map_err(|_| CodecError::Truncated)
    }

    fn str(&mut self) -> Result<&'a str, CodecError> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).map_err(|_| CodecError::Utf8)
    }

    fn string(&mut self) -> Result<String, CodecError> {
        self.str().map(str::to_string)
    }

    fn opt(&mut self) -> Result<Option<String>, CodecError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            t => Err(CodecError::Tag(t)),
        }
    }

    /// A count of elements, each at least `min` bytes: never more than the
    /// bytes left could hold (no huge allocation from a corrupt count).
    fn count(&mut self, min: usize) -> Result<usize, CodecError> {
        let n = self.len()?;
        if n > self.0.len() / min {
            return Err(CodecError::Truncated);
        }
        Ok(n)
    }

    fn payload(&mut self) -> Result<Payload, CodecError> {
        let title = self.opt()?;
        let link = self.opt()?;
        let summary = self.opt()?;
        let content = self.opt()?;
        let content_type = self.opt()?;
        let author = self.opt()?;
        let n = self.count(4)?;
        let categories = (0..n).map(|_| self.string()).collect::<Result<_, _>>()?;
        let n = self.count(16)?;
        let enclosures = (0..n)
            .map(|_| {
                Ok(Enclosure {
                    url: self.string()?,
                    length: self.u64()?,
                    mime: self.string()?,
                    via: None,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let published = self.opt()?;
        let mut enclosures = enclosures;
        // The extension after the payload (see `put_payload`).
        if !self.0.is_empty() {
            match self.u8()? {
                VIAS => {
                    for e in &mut enclosures {
                        e.via = self.opt()?;
                    }
                }
                t => return Err(CodecError::Tag(t)),
            }
        }
        Ok(Payload {
            title,
            link,
            summary,
            content,
            content_type,
            author,
            categories,
            enclosures,
            published,
        })
    }
}

#[cfg(test)]
mod tests;
