//! The embedded backend (the default): one append-only log per feed in a
//! sled database, each item's current state beside it, and group commit so that a
//! write is acknowledged only once it is on disk.
//!
//! Layout of a feed's sled tree (keys are prefixed by one byte):
//! - `m:format`, `m:epoch`, `m:created`, `m:live`: the layout version, the
//!   epoch token, its creation stamp, the number of live items;
//!   `m:upstream`: an upstream feed's sync state (origin validators,
//!   upstream position), owned by the `upstream` module;
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
mod export;
mod feed;
mod keys;
mod log;
mod read;
mod spill;
mod visibility;
mod writer;

pub use feed::FeedLog;

use super::{
    Appended, Applied, Backend, CompactReport, ConsumerRecord, ItemState, LogRef, Op, Outcome,
    Published, Retention, StoreError,
};
use crate::clock::Clock;
use async_trait::async_trait;
use durability::Durability;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

/// sled's segment size: its log is written in segments of this size, and a
/// log message (a value inserted, a tree node) larger than a quarter of it
/// is written to a file of its own (never synced by sled, and created anew
/// for each rewrite of the node). 2 MiB rather than sled's 512 KiB, so that
/// a leaf of values of up to 24 KiB (up to 17 of them, `spill.rs`) stays
/// in the synced log.
pub const SEGMENT_BYTES: usize = 2 << 20;

/// Most transactions in one chunk.
pub const CHUNK_TXNS: usize = 64;
/// Most bytes in one chunk, unless it holds a single larger transaction.
/// A sled leaf holds up to 17 keys, and 17 x 24 KiB stays under a quarter of
/// a segment ([`SEGMENT_BYTES`]), above which sled writes the node to
/// a file of its own.
pub const CHUNK_BYTES: usize = 24 * 1024;

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
pub struct Embedded {
    db: sled::Db,
    feeds: HashMap<String, Arc<FeedLog>>,
    durability: Arc<Durability>,
}

impl Embedded {
    /// Open (or create) the database at `path` with a log for each of `feeds`.
    pub fn open(
        path: &Path,
        feeds: &[String],
        clock: Arc<dyn Clock>,
    ) -> Result<Embedded, StoreError> {
        Self::with_config(config().path(path), Some(path), Some(feeds), clock)
    }

    /// [`Embedded::open`] with sled's page cache (1 GiB by default) limited to
    /// about `cache_bytes`: the bound on the memory a large log takes.
    pub fn open_with_cache(
        path: &Path,
        feeds: &[String],
        clock: Arc<dyn Clock>,
        cache_bytes: u64,
    ) -> Result<Embedded, StoreError> {
        let config = config().path(path).cache_capacity(cache_bytes);
        Self::with_config(config, Some(path), Some(feeds), clock)
    }

    /// A throw-away store in memory (tests).
    pub fn temporary(feeds: &[String], clock: Arc<dyn Clock>) -> Result<Embedded, StoreError> {
        Self::with_config(config().temporary(true), None, Some(feeds), clock)
    }

    fn with_config(
        config: sled::Config,
        path: Option<&Path>,
        feeds: Option<&[String]>,
        clock: Arc<dyn Clock>,
    ) -> Result<Embedded, StoreError> {
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
        // `None`: every feed the store holds.
        let stored: Vec<String>;
        let feeds = match feeds {
            Some(feeds) => feeds,
            None => {
                stored = db
                    .tree_names()
                    .iter()
                    .filter_map(|t| t.strip_prefix(b"feed/"))
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect();
                &stored
            }
        };
        let mut logs = HashMap::with_capacity(feeds.len());
        for name in feeds {
            let tree = db.open_tree(format!("feed/{name}"))?;
            let log = FeedLog::open(name, tree, durability.clone(), clock.clone())?;
            logs.insert(name.clone(), Arc::new(log));
        }
        db.flush()?;
        Ok(Embedded {
            db,
            feeds: logs,
            durability,
        })
    }

    /// A feed's log as the sled backend has it (its own tests).
    #[cfg(test)]
    pub(super) fn log(&self, name: &str) -> &Arc<FeedLog> {
        &self.feeds[name]
    }

    /// The side tree of the WebSub hub's records (key -> its bytes).
    fn hub(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree("side/websub")?)
    }

    /// The side tree of consumer records (`feed \0 name` -> JSON).
    fn consumers(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree("side/consumers")?)
    }
}

/// A consumer record as stored (the key holds feed and name).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredConsumer {
    epoch: String,
    position: u64,
    polled: u64,
}

fn consumer_key(feed: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(feed.len() + name.len() + 1);
    k.extend_from_slice(feed.as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

/// Run `f`, a call into sled that may take long (a compaction step, a scan
/// of every item or consumer record), telling a multi-threaded runtime to
/// move its other tasks off this worker meanwhile.
///
/// Short calls (a page read, a probe of the seconds index, an item lookup)
/// are made on the worker as they are: sled serves them from its page cache
/// in microseconds, and a hop to the blocking pool would cost more than it
/// saves; a cold read from disk blocks one worker for one page read
/// (docs/decisions.md). Writes wait for their flush asynchronously
/// (`durability.rs`).
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(rt) if rt.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

#[async_trait]
impl Backend for Embedded {
    fn feed(&self, name: &str) -> Option<LogRef> {
        self.feeds.get(name).map(|l| l.clone() as LogRef)
    }

    fn feeds(&self) -> Vec<LogRef> {
        let mut v: Vec<&Arc<FeedLog>> = self.feeds.values().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v.into_iter().map(|l| l.clone() as LogRef).collect()
    }

    async fn consumer_records(&self) -> Result<Vec<ConsumerRecord>, StoreError> {
        blocking(|| self.read_consumer_records())
    }

    async fn save_consumer_records(
        &self,
        put: &[ConsumerRecord],
        remove: &[(String, String)],
    ) -> Result<(), StoreError> {
        blocking(|| self.write_consumer_records(put, remove))
    }

    async fn hub_records(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.hub()?.iter() {
            let (k, v) = kv?;
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    async fn save_hub_record(&self, key: &str, record: Option<&[u8]>) -> Result<(), StoreError> {
        let hub = self.hub()?;
        match record {
            Some(r) => hub.insert(key.as_bytes(), r)?,
            None => hub.remove(key.as_bytes())?,
        };
        Ok(())
    }

    async fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(blocking(|| self.db.size_on_disk())?)
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        if self.durability.failed() {
            return Err(StoreError::Failed);
        }
        self.db.insert(b"readyz-probe", &[1u8])?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.durability.sync(self.durability.written()).await
    }
}

impl Embedded {
    fn read_consumer_records(&self) -> Result<Vec<ConsumerRecord>, StoreError> {
        let mut out = Vec::new();
        for kv in self.consumers()?.iter() {
            let (k, v) = kv?;
            let Some(at) = k.iter().position(|&b| b == 0) else {
                continue;
            };
            let feed = String::from_utf8_lossy(&k[..at]).into_owned();
            let stored: StoredConsumer =
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    feed: feed.clone(),
                    what: format!("consumer record: {e}"),
                })?;
            out.push(ConsumerRecord {
                feed,
                name: String::from_utf8_lossy(&k[at + 1..]).into_owned(),
                epoch: stored.epoch,
                position: stored.position,
                polled_ms: stored.polled,
            });
        }
        Ok(out)
    }

    fn write_consumer_records(
        &self,
        put: &[ConsumerRecord],
        remove: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (feed, name) in remove {
            batch.remove(consumer_key(feed, name));
        }
        for r in put {
            let stored = StoredConsumer {
                epoch: r.epoch.clone(),
                position: r.position,
                polled: r.polled_ms,
            };
            let value = serde_json::to_vec(&stored).map_err(|e| StoreError::Corrupt {
                feed: r.feed.clone(),
                what: e.to_string(),
            })?;
            batch.insert(consumer_key(&r.feed, &r.name), value);
        }
        self.consumers()?.apply_batch(batch)?;
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests;
