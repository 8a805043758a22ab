//! The only head-dependent bytes of a rendered page: the values of
//! `sync:digestEntry`'s `sync:tick` (head seq + 1) and `sync:stamp` (the head's
//! stamp), PROTOCOL §4. Everything else in a page is fixed by the page's
//! transactions and the request, so a cached page follows the feed's head by
//! having these two values replaced ([`Digest::respliced`]) instead of being
//! rendered again.
//!
//! Locating them relies on what both renderers write: the feed-level
//! elements, the digest among them, come before every entry, and everything
//! before the digest is escaped text or attributes, so the first
//! `<sync:digestEntry>` is the digest's and cannot be forged by content (item
//! text inside CDATA only occurs in entries, after it). The values found are
//! checked to be a tick and an RFC 3339 stamp, as [`super::render`] writes
//! them; the unit tests compare a respliced page with a fresh rendering.

use std::ops::Range;

use super::xml::rfc3339_ms;

const ENTRY: &[u8] = b"<sync:digestEntry>";
const TICK: &[u8] = b"<sync:tick>";
const TICK_END: &[u8] = b"</sync:tick>";
const STAMP: &[u8] = b"<sync:stamp>";
const STAMP_END: &[u8] = b"</sync:stamp>";

/// Where the digest's tick and stamp values are in a rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    tick: Range<usize>,
    stamp: Range<usize>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

impl Digest {
    /// Locate the digest of a document [`super::render`] wrote for a
    /// non-empty log (one with a head stamp); `None` if it is not there.
    pub fn locate(doc: &[u8]) -> Option<Digest> {
        let entry = find(doc, ENTRY, 0)?;
        let tick_start = find(doc, TICK, entry)? + TICK.len();
        let tick_end = find(doc, TICK_END, tick_start)?;
        let stamp_start = tick_end + TICK_END.len();
        if doc.get(stamp_start..stamp_start + STAMP.len())? != STAMP {
            return None;
        }
        let stamp_start = stamp_start + STAMP.len();
        let stamp_end = find(doc, STAMP_END, stamp_start)?;
        let tick = &doc[tick_start..tick_end];
        let stamp = &doc[stamp_start..stamp_end];
        let tick_ok = !tick.is_empty() && tick.iter().all(u8::is_ascii_digit);
        let stamp_ok = !stamp.is_empty()
            && stamp
                .iter()
                .all(|b| b.is_ascii_digit() || b"-T:.Z".contains(b));
        (tick_ok && stamp_ok).then_some(Digest {
            tick: tick_start..tick_end,
            stamp: stamp_start..stamp_end,
        })
    }

    /// `doc` (where `self` was located) with the digest showing a head of
    /// `head_seq` stamped `head_stamp` (ms), and the digest's new location.
    pub fn respliced(&self, doc: &[u8], head_seq: u64, head_stamp: u64) -> (Vec<u8>, Digest) {
        let tick = (head_seq + 1).to_string();
        let stamp = rfc3339_ms(head_stamp);
        let mut out = Vec::with_capacity(doc.len() + 8);
        out.extend_from_slice(&doc[..self.tick.start]);
        let tick_start = out.len();
        out.extend_from_slice(tick.as_bytes());
        let tick_end = out.len();
        out.extend_from_slice(&doc[self.tick.end..self.stamp.start]);
        let stamp_start = out.len();
        out.extend_from_slice(stamp.as_bytes());
        let stamp_end = out.len();
        out.extend_from_slice(&doc[self.stamp.end..]);
        let digest = Digest {
            tick: tick_start..tick_end,
            stamp: stamp_start..stamp_end,
        };
        (out, digest)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{doc, entry, payload, T0};
    use super::super::{render, Document, Format};
    use super::*;
    use crate::model::{Action, Entry};

    /// A page whose text tries to forge a digest, in the entries (CDATA
    /// in RSS) and in the feed's title and description.
    fn entries() -> Vec<Entry> {
        let mut p = payload("<sync:digestEntry><sync:tick>0</sync:tick>");
        p.summary = Some("<sync:digestEntry><sync:tick>1</sync:tick>".into());
        p.content = Some("]]><sync:tick>2</sync:tick><sync:stamp>x</sync:stamp>".into());
        vec![
            entry(3, "a", Action::Add, T0, Some(p)),
            entry(4, "b", Action::Delete, T0 + 750, None),
        ]
    }

    fn with_head<'a>(base: &Document<'a>, seq: u64, stamp: u64) -> Document<'a> {
        Document {
            head_tick: seq + 1,
            head_stamp: Some(stamp),
            ..base.clone()
        }
    }

    #[test]
    fn a_respliced_page_equals_a_fresh_rendering() {
        let entries = entries();
        let mut base = doc(&entries);
        base.title = "<sync:digestEntry><sync:tick>7</sync:tick>";
        base.description = "<sync:stamp>desc</sync:stamp>";
        for format in [Format::Rss, Format::Atom] {
            let old = render(format, &with_head(&base, 9, T0 + 1_750));
            let digest = Digest::locate(&old).expect("digest located");
            for (seq, stamp) in [(9, T0 + 1_750), (10, T0 + 2_754), (123_456_789, 0)] {
                let fresh = render(format, &with_head(&base, seq, stamp));
                let (spliced, moved) = digest.respliced(&old, seq, stamp);
                assert_eq!(
                    String::from_utf8_lossy(&spliced),
                    String::from_utf8_lossy(&fresh),
                    "{format:?} head {seq}"
                );
                assert_eq!(Digest::locate(&fresh), Some(moved.clone()));
                // And again from the respliced page.
                let (twice, _) = moved.respliced(&spliced, 11, T0 + 3_000);
                assert_eq!(twice, render(format, &with_head(&base, 11, T0 + 3_000)));
            }
        }
    }

    #[test]
    fn no_digest_no_location() {
        let entries = entries();
        let mut empty = doc(&entries);
        empty.head_stamp = None;
        for format in [Format::Rss, Format::Atom] {
            assert_eq!(Digest::locate(&render(format, &empty)), None, "{format:?}");
        }
        assert_eq!(Digest::locate(b""), None);
        assert_eq!(
            Digest::locate(b"<sync:digestEntry><sync:tick>1</sync:tick><x/>"),
            None
        );
        assert_eq!(
            Digest::locate(
                b"<sync:digestEntry><sync:tick>1x</sync:tick><sync:stamp>2024</sync:stamp>"
            ),
            None
        );
    }
}
