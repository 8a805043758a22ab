//! Values too large to be one sled value: stored in pieces, so that every
//! acknowledged write is in sled's synced log.
//!
//! sled writes any log message larger than a quarter of a segment (a value
//! being inserted, or a whole tree leaf of up to 17 keys and their values)
//! to a file of its own under `blobs/`, which it never syncs (sled 0.34
//! `blob_io::write_blob`): a power loss could take an acknowledged write
//! with it. So no value in a feed's tree is larger than [`INLINE_MAX`] (the
//! chunk bound, `CHUNK_BYTES`): a larger chunk or item record is
//! cut into pieces of at most [`PIECE_BYTES`], stored under keys of their
//! own, `p` + version (u64) + index (u32), both big-endian, and its own key
//! holds a **descriptor** instead, all in the same atomic batch:
//!
//! ```text
//! descriptor := 0 x 9 | version u64 | len u64
//! ```
//!
//! No inline value looks like one: a chunk starts with its first entry's
//! seq, an item record with its tag (0 or 1) and, if live, its seq, and
//! seqs are never 0. Reading an inline value costs a length comparison.
//!
//! A version names one spilled value: the writer takes a new one for each
//! (from a counter that starts above every version stored), pieces are
//! written once with their descriptor and removed, never rewritten, in the
//! batch that replaces or removes the value. A reader that finds every piece
//! of the descriptor it read therefore has the value exactly as written; a
//! missing piece means it was replaced or removed in the meantime, and the
//! reader reads its key again. With pieces of 16 KiB and inline values of at
//! most 24 KiB, a leaf of 17 keys stays far below sled's limit of ~512 KiB
//! (2 MiB segments, [`super::SEGMENT_BYTES`]), also while sled merges a
//! small leaf into its neighbour (at most 20 keys).

use super::CHUNK_BYTES;
use super::{FeedLog, StoreError};
use sled::{Batch, IVec};

/// The largest value stored as it is.
pub(super) const INLINE_MAX: usize = CHUNK_BYTES;
/// The largest piece of a spilled value.
pub(super) const PIECE_BYTES: usize = 16 * 1024;
/// The first byte of a piece's key.
const PIECE: u8 = b'p';
/// A descriptor's first bytes.
const MARK: [u8; 9] = [0; 9];
const DESCRIPTOR_LEN: usize = MARK.len() + 16;
/// Reads of a key that keeps changing under a reader before it gives up.
const RETRIES: usize = 100;

/// Where a spilled value's pieces are: its version and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Spilled {
    version: u64,
    len: u64,
}

impl Spilled {
    /// The descriptor a stored value is, if it is one.
    pub(super) fn of(stored: &[u8]) -> Option<Spilled> {
        if stored.len() != DESCRIPTOR_LEN || stored[..MARK.len()] != MARK {
            return None;
        }
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&stored[at..at + 8]);
            u64::from_be_bytes(b)
        };
        Some(Spilled {
            version: word(MARK.len()),
            len: word(MARK.len() + 8),
        })
    }

    fn descriptor(self) -> [u8; DESCRIPTOR_LEN] {
        let mut d = [0u8; DESCRIPTOR_LEN];
        d[MARK.len()..MARK.len() + 8].copy_from_slice(&self.version.to_be_bytes());
        d[MARK.len() + 8..].copy_from_slice(&self.len.to_be_bytes());
        d
    }

    fn pieces(self) -> u64 {
        self.len.div_ceil(PIECE_BYTES as u64)
    }

    /// Remove the pieces from the tree in `batch`.
    fn remove_pieces(self, batch: &mut Batch) {
        for i in 0..self.pieces() {
            batch.remove(&piece_key(self.version, i)[..]);
        }
    }
}

fn piece_key(version: u64, index: u64) -> [u8; 13] {
    let mut k = [PIECE; 13];
    k[1..9].copy_from_slice(&version.to_be_bytes());
    // A value of 2^32 pieces (64 TiB) is not stored; its key saturates.
    let index = u32::try_from(index).unwrap_or(u32::MAX);
    k[9..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The first version above every one stored in `tree` (the writer's
/// counter at open).
pub(super) fn next_version(tree: &sled::Tree) -> Result<u64, sled::Error> {
    Ok(match tree.scan_prefix([PIECE]).next_back() {
        Some(kv) => {
            let (k, _) = kv?;
            let mut b = [0u8; 8];
            b.copy_from_slice(k.get(1..9).unwrap_or(&[0; 8]));
            u64::from_be_bytes(b).saturating_add(1)
        }
        None => 1,
    })
}

/// Set `key` to `value` in `batch`: as it is up to [`INLINE_MAX`], else in
/// pieces under version `*next` (then advanced). `old` is the spilled value
/// `key` holds now, whose pieces go.
pub(super) fn put(
    batch: &mut Batch,
    next: &mut u64,
    key: &[u8],
    value: &[u8],
    old: Option<Spilled>,
) {
    if let Some(old) = old {
        old.remove_pieces(batch);
    }
    if value.len() <= INLINE_MAX {
        batch.insert(key, value);
        return;
    }
    let spilled = Spilled {
        version: *next,
        len: value.len() as u64,
    };
    *next += 1;
    for (i, piece) in (0u64..).zip(value.chunks(PIECE_BYTES)) {
        batch.insert(&piece_key(spilled.version, i)[..], piece);
    }
    batch.insert(key, &spilled.descriptor()[..]);
}

/// Remove `key` in `batch`, and the pieces of `old`, the spilled value it
/// holds now.
pub(super) fn remove(batch: &mut Batch, key: &[u8], old: Option<Spilled>) {
    if let Some(old) = old {
        old.remove_pieces(batch);
    }
    batch.remove(key);
}

impl FeedLog {
    /// The value `stored` (read from `key`), put together from its pieces if
    /// it is a descriptor; `None` if `key` was removed meanwhile.
    pub(super) fn resolve(&self, key: &[u8], stored: IVec) -> Result<Option<IVec>, StoreError> {
        Ok(self.resolve_spilled(key, stored)?.map(|(v, _)| v))
    }

    /// [`FeedLog::resolve`], with the descriptor the value was read from.
    pub(super) fn resolve_spilled(
        &self,
        key: &[u8],
        mut stored: IVec,
    ) -> Result<Option<(IVec, Option<Spilled>)>, StoreError> {
        for _ in 0..RETRIES {
            let Some(spilled) = Spilled::of(&stored) else {
                return Ok(Some((stored, None)));
            };
            if let Some(value) = self.pieces(spilled)? {
                return Ok(Some((value, Some(spilled))));
            }
            // A piece is gone: the value was replaced or removed since `stored` was read.
            match self.tree.get(key)? {
                None => return Ok(None),
                Some(now) if now == stored => {
                    return Err(
                        self.corrupt(format!("a piece of value {} is missing", spilled.version))
                    );
                }
                Some(now) => stored = now,
            }
        }
        Err(self.corrupt("a value changed under every read of it"))
    }

    /// The pieces of `spilled` put together; `None` if one is missing.
    fn pieces(&self, spilled: Spilled) -> Result<Option<IVec>, StoreError> {
        let len = usize::try_from(spilled.len).map_err(|e| self.corrupt(e))?;
        // (A corrupt length allocates only what the pieces found hold.)
        let mut value = Vec::with_capacity(len.min(64 * PIECE_BYTES));
        for i in 0..spilled.pieces() {
            match self.tree.get(piece_key(spilled.version, i))? {
                Some(piece) => value.extend_from_slice(&piece),
                None => return Ok(None),
            }
        }
        if value.len() != len {
            return Err(self.corrupt(format!(
                "value {} has {} bytes, not {len}",
                spilled.version,
                value.len()
            )));
        }
        Ok(Some(value.into()))
    }
}

#[cfg(test)]
mod tests;
