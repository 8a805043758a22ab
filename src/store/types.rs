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
    /// An [`Op::Replace`] found the item changed since it was read.
    #[error("item {0:?} changed since it was read")]
    Conflict(String),
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
    Put {
        id: String,
        payload: Payload,
    },
    /// A `Put` only while the item's state is still the one the transaction
    /// `seq` set, else the append fails with [`StoreError::Conflict`]: a
    /// change feedgate derives from an item (a mirrored enclosure) never
    /// overwrites a producer's write that came in between.
    Replace {
        id: String,
        payload: Payload,
        seq: u64,
    },
    Delete {
        id: String,
    },
}

impl Op {
    pub fn id(&self) -> &str {
        match self {
            Op::Put { id, .. } | Op::Replace { id, .. } | Op::Delete { id } => id,
        }
    }

    /// The state the op sets (`None`: a delete).
    pub fn payload(&self) -> Option<&Payload> {
        match self {
            Op::Put { payload, .. } | Op::Replace { payload, .. } => Some(payload),
            Op::Delete { .. } => None,
        }
    }

    /// The seq of the state a `Replace` expects to find.
    pub fn expects(&self) -> Option<u64> {
        match self {
            Op::Replace { seq, .. } => Some(*seq),
            _ => None,
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

/// What compaction does with one transaction: the rule every backend
/// applies (the module docs of `embedded/compact.rs` say why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// A superseded state: removed.
    Superseded,
    /// An old delete: removed with its incarnation's `add` (when that is
    /// older), its item's record if it is the latest, and it raises the
    /// dropped mark.
    Tombstone,
}

/// A transaction as compaction examines it.
#[derive(Debug, Clone, Copy)]
pub struct Examined {
    pub seq: u64,
    pub stamp: u64,
    /// The seq of its incarnation's `add` (0: unknown, an older layout).
    pub born: u64,
    pub delete: bool,
    /// The item's latest record: its live state's seq, its tombstone's
    /// seq, or 0 once the tombstone is gone.
    pub latest: u64,
}

impl Retention {
    /// The verdict on `t` in a log whose head is `head` (never examined:
    /// the head is the log's high-water mark) at `now_ms`.
    ///
    /// A delete ends an incarnation: whether it is the item's latest state
    /// or was followed by a re-add, removing it hides a deletion, so it goes
    /// only under the tombstone retention, with its incarnation's `add`,
    /// and raises the dropped mark; never a tombstone of the current second
    /// (a catch-up stops before it). Any other state goes once superseded
    /// and eligible (old enough, or behind the newest `keep_latest`), unless
    /// it is its incarnation's `add`; all of an incarnation whose tombstone
    /// is gone goes.
    pub fn verdict(&self, t: Examined, head: u64, now_ms: u64) -> Verdict {
        if t.delete {
            let old = Self::older(t.stamp, self.tombstones, now_ms);
            return if old && t.stamp / 1000 < now_ms / 1000 {
                Verdict::Tombstone
            } else {
                Verdict::Keep
            };
        }
        let eligible = Self::older(t.stamp, self.compact_after, now_ms)
            || self
                .keep_latest
                .is_some_and(|k| t.seq.saturating_add(k) <= head);
        if t.latest != t.seq && ((eligible && t.born != t.seq) || t.latest == 0) {
            Verdict::Superseded
        } else {
            Verdict::Keep
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const NOW: u64 = 10 * 3_600_000 + 500;

    fn t(seq: u64, stamp: u64, born: u64, delete: bool, latest: u64) -> Examined {
        Examined {
            seq,
            stamp,
            born,
            delete,
            latest,
        }
    }

    #[test]
    fn the_compaction_rule() {
        let p = Retention {
            compact_after: Some(HOUR),
            tombstones: Some(HOUR),
            keep_latest: None,
        };
        // A superseded update goes once old; its incarnation's add stays.
        assert_eq!(p.verdict(t(2, 0, 1, false, 5), 9, NOW), Verdict::Superseded);
        assert_eq!(p.verdict(t(1, 0, 1, false, 5), 9, NOW), Verdict::Keep);
        assert_eq!(p.verdict(t(2, NOW - 1, 1, false, 5), 9, NOW), Verdict::Keep);
        // The latest state stays; all of an incarnation whose tombstone is gone goes.
        assert_eq!(p.verdict(t(5, 0, 1, false, 5), 9, NOW), Verdict::Keep);
        assert_eq!(
            p.verdict(t(1, NOW, 1, false, 0), 9, NOW),
            Verdict::Superseded
        );
        // An old tombstone goes, never one of the current second.
        assert_eq!(p.verdict(t(6, 0, 1, true, 6), 9, NOW), Verdict::Tombstone);
        let now_second = Retention {
            tombstones: Some(Duration::ZERO),
            ..p.clone()
        };
        assert_eq!(
            now_second.verdict(t(6, NOW - 100, 1, true, 6), 9, NOW),
            Verdict::Keep
        );
        // keep_latest counts back from the head.
        let keep = Retention {
            keep_latest: Some(3),
            ..Retention::default()
        };
        assert_eq!(
            keep.verdict(t(6, NOW, 1, false, 8), 9, NOW),
            Verdict::Superseded
        );
        assert_eq!(keep.verdict(t(7, NOW, 1, false, 8), 9, NOW), Verdict::Keep);
    }
}
