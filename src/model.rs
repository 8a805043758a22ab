//! The data model shared by every layer: feed names, item ids, item payloads,
//! transactions, the entries a page shows and its sync mode.
//!
//! Everything here is plain data with validation; nothing does I/O.

use serde::{Deserialize, Serialize};

/// Longest item id, in bytes (PROTOCOL §1).
pub const MAX_ID_BYTES: usize = 256;

/// What a transaction did to its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// An enclosure (a linked media file) of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enclosure {
    pub url: String,
    #[serde(default)]
    pub length: u64,
    #[serde(rename = "type")]
    pub mime: String,
    /// Where the file came from, when `url` is feedgate's mirrored copy
    /// (`{base_url}/content/{sha256}`, `crate::content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// The full state of an item (never a partial one). Field order is the
/// canonical serialisation order, so equal payloads serialise to equal bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// `text`, `html`, `xhtml` or a MIME type; meaningful only with `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enclosures: Vec<Enclosure>,
    /// RFC 3339 timestamp, normalised to UTC by ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

/// One committed change to one item. `stamp` is the commit time in
/// milliseconds since the Unix epoch, UTC; stamps never decrease along a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    pub seq: u64,
    pub id: String,
    pub action: Action,
    pub stamp: u64,
    /// Seq of the `add` that created the incarnation of the item this
    /// transaction belongs to (its own seq for an `add`). A consumer at
    /// position p held the item before this transaction iff `born <= p`,
    /// which stays true when compaction removes superseded transactions.
    #[serde(default)]
    pub born: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
}

/// One entry of a rendered page: an item shown once, as its latest state in
/// the page, with the action relative to the consumer's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Seq of the transaction this entry shows (its `sync:tick`).
    pub seq: u64,
    pub id: String,
    pub action: Action,
    /// Stamp of that transaction, ms since the Unix epoch.
    pub stamp: u64,
    /// `None` exactly when `action` is `Delete`.
    pub payload: Option<Payload>,
}

/// `sync:syncMode` of a page: `catchUp` when it starts at the beginning of
/// the log, `immediate` for a delta after a consumer position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    CatchUp,
    Immediate,
}

/// Is `name` a valid feed name: `[a-z0-9][a-z0-9_-]{0,63}`?
pub fn valid_feed_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Is `id` a valid item id: non-empty, at most 256 bytes (UTF-8 is given by
/// `&str`), and free of control characters and U+FFFE/U+FFFF, which XML 1.0
/// cannot carry (an RSS guid would lose them and two ids could collide).
pub fn valid_item_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && !id
            .chars()
            .any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_names() {
        for ok in ["a", "0", "news", "a-b_c", &"x".repeat(64)] {
            assert!(valid_feed_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "_a",
            "A",
            "news.atom",
            "a/b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(!valid_feed_name(bad), "{bad}");
        }
    }

    #[test]
    fn item_ids() {
        assert!(valid_item_id("a"));
        assert!(valid_item_id(&"é".repeat(128)));
        assert!(!valid_item_id(""));
        assert!(!valid_item_id(&"x".repeat(257)));
        assert!(!valid_item_id("a\u{1}"));
        assert!(!valid_item_id("a\nb"));
        assert!(!valid_item_id("a\u{FFFF}"));
    }

    #[test]
    fn payload_serialisation_is_canonical() {
        let a: Payload = serde_json::from_str(r#"{"summary":"s","title":"t"}"#).unwrap();
        let b: Payload =
            serde_json::from_str(r#"{"title":"t","summary":"s","categories":[]}"#).unwrap();
        assert_eq!(
            serde_json::to_vec(&a).unwrap(),
            serde_json::to_vec(&b).unwrap()
        );
    }
}
