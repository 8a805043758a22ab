//! Rendering a page of entries as an RSS 2.0 or Atom 1.0 document (PROTOCOL §4).
//!
//! Input is plain data ([`Document`]); output is bytes of well-formed XML 1.0.

use crate::model::Entry;

/// The document formats feedgate serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// `sync:syncMode`: `catchUp` when the page starts at the beginning of the log,
/// `immediate` for a delta after a consumer position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    CatchUp,
    Immediate,
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
}
