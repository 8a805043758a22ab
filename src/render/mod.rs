//! Rendering a page of entries as an RSS 2.0 or Atom 1.0 document (PROTOCOL §4).
//!
//! Input is plain data ([`Document`]); output is bytes of well-formed XML 1.0
//! (UTF-8, with an XML declaration). The document shell (the channel or feed
//! head and the closing tags) is written by the `rss` / `atom_syndication`
//! crates; the entries are written straight into the same buffer, in exactly
//! the bytes the crates wrote for them (the former crate-based entry code is
//! the tests' reference, compared byte for byte). Every text and attribute
//! value goes through [`clean`] (or the same cleaning folded into escaping),
//! so characters XML 1.0 forbids never reach a document; markup is escaped
//! as the crates escape it. In attribute values TAB/LF/CR are written as
//! spaces (what XML attribute-value normalisation makes of them anyway).
//!
//! Files:
//! - `mod.rs`: the public types and [`render`].
//! - `rss.rs`: RSS 2.0, the channel shell (and its decisions: author,
//!   content, enclosures); `rss_item.rs`: its `<item>`s.
//! - `atom.rs`: Atom 1.0, the feed head (and its decisions: content types,
//!   tombstones); `atom_entry.rs`: its `<entry>`s and tombstones.
//! - `write.rs`: escaping, CDATA and element helpers of the entry writers;
//!   `dates.rs`: their date forms.
//! - `ext.rs`: the `ibmfs` / `ibmwcm` / `sync` / `at` elements both share.
//! - `digest.rs`: the head-dependent bytes of a rendered page ([`Digest`]).
//! - `ids.rs`: Atom ids from item ids ([`atom_id`], [`item_id_from_atom`]).
//! - `content.rs`: classifying a payload's `content_type`.
//! - `uri.rs`: URIs and media types in the forms strict validators accept
//!   ([`item_url`]).
//! - `xml.rs`: [`clean`], escaping, Base64, date formats.
//! - tests only: `reference.rs` (the former crate-based entry rendering),
//!   `tests_equal.rs` (fast path = reference, byte for byte, over the
//!   documents of `test_gen.rs` too),
//!   `test_support.rs`, `tests_rss.rs`, `tests_atom*.rs`.
//!
//! Validity: every document is meant to pass the W3C feed validator without
//! an error (RFC 4287 for Atom, RSS 2.0 and its namespaces for RSS); the
//! rules are held by `tests/it/validity/` over every document shape, and the
//! few warnings left are explained in docs/decisions.md.
//!
//! Dates: RSS `lastBuildDate` / `pubDate` are IMF-fixdates (`… GMT`, whole
//! seconds, the form of `Last-Modified`); `sync:stamp` and `at:deleted-entry
//! @when` are RFC 3339 UTC with milliseconds; Atom `updated` / `published` are
//! RFC 3339 with a `+00:00` offset, entry stamps with milliseconds when not
//! zero, the feed's `updated` in whole seconds like `Last-Modified`.

mod atom;
mod atom_entry;
mod content;
mod dates;
mod digest;
mod ext;
mod ids;
#[cfg(test)]
mod reference;
mod rss;
mod rss_item;
#[cfg(test)]
mod test_gen;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_atom;
#[cfg(test)]
mod tests_atom_entries;
#[cfg(test)]
mod tests_equal;
#[cfg(test)]
mod tests_rss;
mod uri;
mod write;
mod xml;

pub use digest::Digest;
pub use ids::{atom_id, item_id_from_atom, URN_PREFIX};
pub use uri::item_url;
pub use xml::clean;

/// `sync:syncMode`, decided by `protocol::outcome`.
pub use crate::model::SyncMode;

use crate::model::Entry;

/// The document formats feedgate serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Rss,
    Atom,
}

impl Format {
    /// The `Content-Type` of a document in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
        }
    }
}

/// Everything a document shows. Times are milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    /// Feed title, link and description from the config.
    pub title: &'a str,
    pub link: &'a str,
    pub description: &'a str,
    /// Absolute URL of the feed resource without query (`sync:origin`, `sync:endpoint`).
    pub feed_url: &'a str,
    /// Absolute URL of this request (`atom:link rel="self"`).
    pub self_url: &'a str,
    /// Absolute URL of the next page, when there is one (`atom:link rel="next"`).
    pub next_url: Option<&'a str>,
    /// Absolute URL of the WebSub hub, when it is on (`atom:link rel="hub"`).
    pub hub_url: Option<&'a str>,
    /// The position the consumer holds after processing this document, bare: `EPOCH.SEQ`.
    pub etag: &'a str,
    /// Stamp of the transaction at that position; `None` at position 0 (empty).
    pub last_modified: Option<u64>,
    pub sync_mode: SyncMode,
    /// `sync:digestEntry/tick`: head seq + 1.
    pub head_tick: u64,
    /// Stamp of the head transaction; `None` when the log is empty.
    pub head_stamp: Option<u64>,
    pub entries: &'a [Entry],
    /// An upstream feed whose origin cannot be reached: `feedgate:upstream`.
    pub upstream: Option<&'a UpstreamNotice>,
}

/// What a document of an upstream feed says while its last syncs fail
/// (the `Feedgate-Upstream` header says the same): how many failed in a
/// row, the last success (RFC 3339, `None`: never) and the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamNotice {
    pub failures: u64,
    pub last_success: Option<String>,
    pub error: String,
}

/// Render `doc` in `format`: the complete response body.
pub fn render(format: Format, doc: &Document<'_>) -> Vec<u8> {
    match format {
        Format::Rss => rss::render(doc),
        Format::Atom => atom::render(doc),
    }
}
