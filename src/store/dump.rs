//! [`FeedDump`]: one feed's log as plain data, everything a consumer could
//! tell apart: epoch, creation, head (seq, stamp, live count), the dropped
//! mark, every transaction the log still holds (compaction gaps and all),
//! every item record (live states and tombstones), the seconds index and
//! the upstream state. `feedgate migrate` reads one out of the embedded
//! store ([`Embedded::export_feed`](super::embedded::Embedded::export_feed))
//! and writes it into PostgreSQL (`postgres::import`).

use super::{ItemState, Published};
use crate::model::Txn;

/// An item's record: its live state, or the tombstone of its delete (kept
/// until compaction drops it).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // built and consumed once per item
pub enum ItemRecord {
    Live(ItemState),
    /// The delete at `seq` (stamped `stamp`) of the incarnation born at `born`.
    Tomb {
        seq: u64,
        stamp: u64,
        born: u64,
    },
}

/// One feed's log, whole.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedDump {
    pub name: String,
    pub epoch: String,
    /// The log's creation, ms since the Unix epoch (position 0's date).
    pub created: u64,
    /// The head, its stamp (the creation while the log is empty) and the
    /// live item count.
    pub head: Published,
    /// The newest tombstone compaction dropped (0: none), and its stamp.
    pub dropped: u64,
    pub dropped_stamp: u64,
    /// Every transaction the log holds, in seq order.
    pub txns: Vec<Txn>,
    /// Every item record, in id order.
    pub items: Vec<(String, ItemRecord)>,
    /// The seconds index: (Unix second, first seq stamped in it), in order.
    pub seconds: Vec<(u64, u64)>,
    /// An upstream feed's sync state.
    pub upstream: Option<Vec<u8>>,
}

impl FeedDump {
    /// The first seq stamped in the head's second (0: no transaction).
    pub fn head_second_first(&self) -> u64 {
        if self.head.seq == 0 {
            return 0;
        }
        let sec = self.head.stamp / 1000;
        self.seconds
            .iter()
            .find(|(s, _)| *s == sec)
            .map(|(_, first)| *first)
            .or_else(|| {
                self.txns
                    .iter()
                    .find(|t| t.stamp / 1000 == sec)
                    .map(|t| t.seq)
            })
            .unwrap_or(self.head.seq)
    }

    /// The tombstones among the item records.
    pub fn tombstones(&self) -> usize {
        self.items
            .iter()
            .filter(|(_, r)| matches!(r, ItemRecord::Tomb { .. }))
            .count()
    }
}
