//! The plain data that crosses the storage boundary: ops and their
//! outcomes, item states, the visible head, retention, consumer records and
//! the store's errors.

use crate::model::Payload;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, the database); its own message.
    #[error("storage error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("corrupt record in feed {feed}: {what}")]
    Corrupt { feed: String, what: String },
    #[error(
        "{what}: the store was written by an older feedgate with another layout; \
         export its items with that version and import them into a new data directory"
    )]
    Format { what: String },
    #[error("item {0:?} not found")]
    ItemNotFound(String),
    #[error("the store failed to make a write durable earlier and refuses writes")]
    Failed,
    /// A batch shared by several appends failed to apply: each gets this.
    #[error("cannot write to the store: {0}")]
    Write(String),
}

/// One change a producer asks for.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // built once per op and consumed at once; boxing buys nothing
pub enum Op {
    Put { id: String, payload: Payload },
    Delete { id: String },
}

impl Op {
    pub fn id(&self) -> &str {
        match self {
            Op::Put { id, .. } | Op::Delete { id } => id,
        }
    }
}

/// What a write did to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Add,
    Update,
    Delete,
    /// Identical payload: nothing appended.
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Add => "add",
            Outcome::Update => "update",
            Outcome::Delete => "delete",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// The result of one op: its transaction's seq (for `Unchanged`, the seq
/// of the transaction that set the current state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub id: String,
    pub outcome: Outcome,
    pub seq: u64,
}

/// The result of an acknowledged (durable) write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub applied: Vec<Applied>,
    /// The feed's visible head after the write (>= every seq in `applied`).
    pub head: u64,
}

/// An item's current state.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemState {
    pub seq: u64,
    pub stamp: u64,
    /// Seq of the `add` that created this incarnation of the item.
    pub born: u64,
    pub payload: Payload,
}

/// The visible head: the highest durable seq, its stamp, and the live item count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    pub seq: u64,
    pub stamp: u64,
    pub live: u64,
}

/// Transactions a compaction step examines (one hold of the feed's writer lock).
pub const COMPACT_STEP: usize = 1000;

/// A feed's retention policy. The default keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Superseded states older than this are removed.
    pub compact_after: Option<Duration>,
    /// Superseded states further back than the newest `keep_latest`
    /// transactions are removed.
    pub keep_latest: Option<u64>,
    /// Delete tombstones older than this are dropped (`None`: kept forever).
    pub tombstones: Option<Duration>,
}

impl Retention {
    pub fn is_active(&self) -> bool {
        self.compact_after.is_some() || self.keep_latest.is_some() || self.tombstones.is_some()
    }

    /// Is a transaction stamped `stamp` older than `age` at `now_ms`?
    pub fn older(stamp: u64, age: Option<Duration>, now_ms: u64) -> bool {
        age.is_some_and(|a| {
            stamp.saturating_add(u64::try_from(a.as_millis()).unwrap_or(u64::MAX)) <= now_ms
        })
    }
}

/// What a compaction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactReport {
    pub examined: u64,
    /// Superseded states removed.
    pub removed: u64,
    pub tombstones_dropped: u64,
}

/// A consumer's last acknowledged position in a feed (`consumers.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub feed: String,
    pub name: String,
    /// The epoch of the feed's log the position belongs to.
    pub epoch: String,
    pub position: u64,
    /// Last poll, ms since the Unix epoch.
    pub polled_ms: u64,
}
