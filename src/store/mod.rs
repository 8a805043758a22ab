//! The transaction store: one append-only log per feed in an embedded sled
//! database, each item's current state beside it, and group commit so that a
//! write is acknowledged only once it is on disk.
//!
//! Layout of a feed's sled tree (keys are prefixed by one byte):
//! - `m:format`, `m:epoch`, `m:created`, `m:live`: the layout version, the
//!   epoch token, its creation stamp, the number of live items;
//!   `m:upstream`: an upstream feed's sync state (origin validators,
//!   upstream position), owned by `crate::upstream`;
//! - `c` + seq (u64 big-endian): a chunk of up to 64 transactions and
//!   24 KiB (`append.rs`), the first of them `seq` (binary, `codec.rs`). One
//!   key per chunk rather than per transaction: sled keeps an in-memory page
//!   table entry per tree page and does work per key on insert, so a log of
//!   10^7 typical transactions (~300 bytes) is ~170,000 keys, not 10^7;
//! - `i` + id: the item's record (`codec::Record`): its current state, or
//!   the seq of its delete while compaction keeps the tombstone;
//! - `s` + Unix second (u64 big-endian): the first seq stamped in that second,
//!   the index that turns a date cursor into a position in one probe;
//! - `p` + version + index: a piece of a chunk or record above 24 KiB, whose
//!   own key holds a descriptor (`spill.rs`): no sled value is larger, so
//!   sled never writes one to an unsynced file of its own (layout version 3).
//!
//! A feed's writes are serialised by a mutex (seq order = apply order);
//! concurrent appends are decided one by one and applied together as one
//! atomic `apply_batch` (`append.rs`), and only then made durable by
//! [`durability::Durability`] (group commit); readers see the log up to the
//! highest durable seq, so visibility is monotonic whatever the number of
//! writers.

mod append;
mod codec;
mod compact;
mod durability;
mod feed;
mod read;
mod spill;
mod visibility;

pub use compact::{CompactReport, Retention, STEP as COMPACT_STEP};
pub use feed::{FeedLog, ItemState, Published};

use crate::clock::Clock;
use crate::model::Payload;
use durability::Durability;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
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

/// sled's segment size: its log is written in segments of this size, and a
/// log message (a value inserted, a tree node) larger than a quarter of it
/// is written to a file of its own (never synced by sled, and created anew
/// for each rewrite of the node). 2 MiB rather than sled's 512 KiB, so that
/// a leaf of values of up to 24 KiB (up to 17 of them, `spill.rs`) stays
/// in the synced log.
pub const SEGMENT_BYTES: usize = 2 << 20;

fn config() -> sled::Config {
    sled::Config::new().segment_size(SEGMENT_BYTES)
}

/// Sync the data directory (so sled's files are in it after a power loss)
/// and open sled's log file for `fdatasync`.
fn sync_dir_and_open_log(dir: &Path) -> Result<std::fs::File, StoreError> {
    let io = |path: &Path, e: std::io::Error| StoreError::Write(format!("{}: {e}", path.display()));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))?;
    let log = dir.join("db");
    std::fs::File::open(&log).map_err(|e| io(&log, e))
}

/// The embedded database with the configured feeds' logs.
pub struct Store {
    db: sled::Db,
    feeds: HashMap<String, Arc<FeedLog>>,
    durability: Arc<Durability>,
}

impl Store {
    /// Open (or create) the database at `path` with a log for each of `feeds`.
    pub fn open(path: &Path, feeds: &[String], clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        Self::with_config(config().path(path), Some(path), feeds, clock)
    }

    /// [`Store::open`] with sled's page cache (1 GiB by default) limited to
    /// about `cache_bytes`: the bound on the memory a large log takes.
    pub fn open_with_cache(
        path: &Path,
        feeds: &[String],
        clock: Arc<dyn Clock>,
        cache_bytes: u64,
    ) -> Result<Store, StoreError> {
        let config = config().path(path).cache_capacity(cache_bytes);
        Self::with_config(config, Some(path), feeds, clock)
    }

    /// A throw-away store in memory (tests).
    pub fn temporary(feeds: &[String], clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        Self::with_config(config().temporary(true), None, feeds, clock)
    }

    fn with_config(
        config: sled::Config,
        path: Option<&Path>,
        feeds: &[String],
        clock: Arc<dyn Clock>,
    ) -> Result<Store, StoreError> {
        let db = config.open().map_err(|e| match e {
            // The only setting of ours sled checks across restarts.
            sled::Error::Unsupported(why) if why.contains("io buffer size") => StoreError::Format {
                what: format!("sled segments of another size ({why})"),
            },
            e => e.into(),
        })?;
        // sled's own flush syncs the log's byte range only (`sync_file_range`:
        // neither the file's size nor the disk's cache); group commit adds an
        // `fdatasync` of its log file (`durability.rs`).
        let log_file = match path {
            Some(dir) => Some(sync_dir_and_open_log(dir)?),
            None => None,
        };
        let durability = Arc::new(Durability::new(db.clone(), log_file));
        let mut logs = HashMap::with_capacity(feeds.len());
        for name in feeds {
            let tree = db.open_tree(format!("feed/{name}"))?;
            let log = FeedLog::open(name, tree, durability.clone(), clock.clone())?;
            logs.insert(name.clone(), Arc::new(log));
        }
        db.flush()?;
        Ok(Store {
            db,
            feeds: logs,
            durability,
        })
    }

    pub fn feed(&self, name: &str) -> Option<&Arc<FeedLog>> {
        self.feeds.get(name)
    }

    /// The feeds, sorted by name.
    pub fn feeds(&self) -> Vec<&Arc<FeedLog>> {
        let mut v: Vec<_> = self.feeds.values().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    /// A named tree beside the feed logs, for state other modules keep in
    /// the same database (consumer positions). Writes to it are made
    /// durable by the next flush, like everything else.
    pub fn side_tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(format!("side/{name}"))?)
    }

    /// Bytes the database takes on disk (`/metrics`).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Can the store take writes? (`/readyz`)
    pub fn check_writable(&self) -> Result<(), StoreError> {
        if self.durability.failed() {
            return Err(StoreError::Failed);
        }
        self.db.insert(b"readyz-probe", &[1u8])?;
        Ok(())
    }

    /// Run a whole compaction pass on every feed with a retention policy.
    pub fn compact_all(&self, now_ms: u64) -> Result<Vec<(String, CompactReport)>, StoreError> {
        let mut out = Vec::new();
        for log in self.feeds() {
            if log.retention().is_active() {
                out.push((log.name().to_string(), log.compact(now_ms)?));
            }
        }
        Ok(out)
    }

    /// Make everything written so far durable (shutdown).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.durability.sync(self.durability.written()).await
    }
}

#[cfg(test)]
mod tests;
