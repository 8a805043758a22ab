//! The storage boundary: everything the rest of the program asks of the
//! transaction store, as two traits, and the backends behind them.
//!
//! - [`Log`]: one feed's log: append batches (acknowledged once durable),
//!   read a range and the seconds index ([`LogView`], what `protocol` reads),
//!   the visible head and the frontier of closed seconds, item states, the
//!   upstream sync state and the turn to sync (one process at a time),
//!   compaction steps under a policy the caller passes (the config's: no
//!   backend keeps a copy).
//! - [`Backend`]: the store as a whole: its feeds' logs, consumer records,
//!   the WebSub hub's subscriptions,
//!   whether other processes share them, size, readiness and the final
//!   flush.
//!
//! Backends: [`embedded`] (sled, the default: one process, one data
//! directory; the only code that names sled), [`postgres`] (PostgreSQL,
//! `store = "postgres://…"`: any number of processes share one database)
//! and [`memory`] (a plain in-memory log, for tests and throw-away runs).
//! All run the same conformance suite (`conformance.rs`).
//!
//! The methods a network database would wait on are `async`; the protocol
//! core stays pure: it decides over what [`LogView`] returns and does no I/O
//! of its own.

pub mod dump;
pub mod embedded;
pub mod memory;
pub mod migrate;
pub mod postgres;

#[cfg(test)]
pub(crate) mod conformance;

mod types;

pub use dump::{FeedDump, ItemRecord};
pub use types::{
    Appended, Applied, CompactReport, ConsumerRecord, Examined, ItemState, Op, Outcome, Published,
    Retention, StoreError, Verdict, COMPACT_STEP,
};

use crate::protocol::LogView;
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::watch;

/// A handle to one feed's log.
pub type LogRef = Arc<dyn Log>;

/// One feed's append-only log and its items' current states.
///
/// Visibility: a transaction is visible ([`LogView::head`], `scan`) only once
/// it is durable, and the head never goes back. `append` returns once the
/// write is durable and visible; a write that was applied is made durable
/// and visible even if the caller's future is dropped.
#[async_trait]
pub trait Log: LogView<Error = StoreError> + Send + Sync {
    fn name(&self) -> &str;
    /// The log's epoch token: a new one whenever the log is created anew.
    fn epoch(&self) -> &str;
    /// The visible head, its stamp and the live item count.
    fn published(&self) -> Published;
    /// The visible head as it moves: long-polls, event streams and WebSub
    /// deliveries wait on this registration instead of asking the store
    /// (PROTOCOL §9). It sees every head this process learns of: its own
    /// writes, and on a shared store ([`postgres`]) other processes' too.
    fn watch_head(&self) -> watch::Receiver<u64>;
    /// The compaction generation: changes whenever compaction removes
    /// transactions, so what was read under one value is exact while it is
    /// current (the read path's page cache keys on it).
    fn compactions(&self) -> u64;
    /// The visible head, brought up to at least `seq` first if the store
    /// holds it: a store shared by several processes ([`postgres`]) re-reads
    /// its head when `seq` is beyond what this process has seen, so that a
    /// position another process handed out is never taken for one beyond
    /// the head. A store of one process knows its head: the default.
    async fn head_at_least(&self, seq: u64) -> Result<u64, StoreError> {
        let _ = seq;
        Ok(self.head())
    }

    /// Apply `ops` atomically (all or none) as consecutive transactions and
    /// return once they are durable and visible. A delete of an unknown
    /// item rejects the whole write ([`StoreError::ItemNotFound`]); an
    /// identical payload appends nothing ([`Outcome::Unchanged`]).
    async fn append(&self, ops: &[Op]) -> Result<Appended, StoreError>;
    /// The item's current, visible state.
    async fn item(&self, id: &str) -> Result<Option<ItemState>, StoreError>;
    /// Every current item, in id order. O(items): for an upstream's diff
    /// and export, never for the read path.
    async fn items(&self) -> Result<Vec<(String, ItemState)>, StoreError>;

    /// An upstream feed's sync state (opaque bytes owned by `upstream`).
    async fn upstream_state(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Replace it; durable with the next write or flush (losing it costs
    /// only a re-fetch).
    async fn set_upstream_state(&self, state: &[u8]) -> Result<(), StoreError>;

    /// This process's turn to sync the feed from its upstream, held until
    /// the returned guard is dropped; `None` while another process holds it
    /// (that process fetches: this one answers from the log). A store of
    /// one process always grants it: the default. PostgreSQL takes an
    /// advisory lock per feed (`postgres/turn.rs`).
    async fn sync_turn(&self) -> Result<Option<SyncTurn>, StoreError> {
        Ok(Some(SyncTurn::local()))
    }

    /// Examine at most `budget` transactions after `from` under `policy`;
    /// returns where the next step starts, or `None` once the pass reached
    /// the head. Readers and writers wait at most one step.
    async fn compact_step(
        &self,
        policy: &Retention,
        now_ms: u64,
        from: u64,
        budget: usize,
        report: &mut CompactReport,
    ) -> Result<Option<u64>, StoreError>;
}

/// A process's turn to sync an upstream feed ([`Log::sync_turn`]): held
/// for the sync, given back when dropped.
pub struct SyncTurn {
    _held: Option<Box<dyn Send>>,
}

impl SyncTurn {
    /// The turn of a store no other process shares: nothing to give back.
    pub fn local() -> SyncTurn {
        SyncTurn { _held: None }
    }

    /// A turn that lasts as long as `guard` (which gives it back on drop).
    pub fn holding(guard: impl Send + 'static) -> SyncTurn {
        SyncTurn {
            _held: Some(Box::new(guard)),
        }
    }
}

/// A whole compaction pass of `log` under `policy`, step by step.
pub async fn compact(
    log: &dyn Log,
    policy: &Retention,
    now_ms: u64,
) -> Result<CompactReport, StoreError> {
    let mut report = CompactReport::default();
    let mut from = 0;
    while let Some(next) = log
        .compact_step(policy, now_ms, from, COMPACT_STEP, &mut report)
        .await?
    {
        from = next;
    }
    Ok(report)
}

/// The store as a whole.
#[async_trait]
pub trait Backend: Send + Sync {
    /// The log of a configured feed.
    fn feed(&self, name: &str) -> Option<LogRef>;
    /// Every feed's log, sorted by name.
    fn feeds(&self) -> Vec<LogRef>;
    /// The consumer records of every feed.
    async fn consumer_records(&self) -> Result<Vec<ConsumerRecord>, StoreError>;
    /// Write `put` and delete `remove` (feed, name) in one atomic step,
    /// durable with the next write or flush.
    async fn save_consumer_records(
        &self,
        put: &[ConsumerRecord],
        remove: &[(String, String)],
    ) -> Result<(), StoreError>;
    /// The WebSub hub's subscriptions ([`crate::websub`]): opaque records
    /// by key, as the hub wrote them.
    async fn hub_records(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Write (`Some`) or remove (`None`) the hub's record `key`, durable
    /// with the next write or flush.
    async fn save_hub_record(&self, key: &str, record: Option<&[u8]>) -> Result<(), StoreError>;
    /// This process's turn to deliver the WebSub hub's content, held until
    /// the guard drops; `None` while another process sharing the store
    /// holds it. A store of one process always grants it: the default.
    async fn hub_turn(&self) -> Result<Option<SyncTurn>, StoreError> {
        Ok(Some(SyncTurn::local()))
    }
    /// Do other processes share this store (and its consumer records)?
    /// Then [`Consumers::persist`](crate::consumers::Consumers::persist)
    /// merges what they saved into this process's reports. No by default.
    fn shared(&self) -> bool {
        false
    }
    /// Bytes the store takes on disk (`/metrics`).
    async fn size_on_disk(&self) -> Result<u64, StoreError>;
    /// Can the store take writes? (`/readyz`)
    async fn check_writable(&self) -> Result<(), StoreError>;
    /// Conditions that leave the store ready but are worth showing in
    /// `/readyz`, as (key, state): e.g. PostgreSQL's notification
    /// connection. None by default.
    fn health(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Make everything written so far durable (shutdown).
    async fn flush(&self) -> Result<(), StoreError>;
}

/// Run a whole compaction pass on every feed whose policy (`policy_of`,
/// by feed name: the config's) is active.
pub async fn compact_all(
    store: &dyn Backend,
    policy_of: impl Fn(&str) -> Retention,
    now_ms: u64,
) -> Result<Vec<(String, CompactReport)>, StoreError> {
    let mut out = Vec::new();
    for log in store.feeds() {
        let policy = policy_of(log.name());
        if policy.is_active() {
            let report = compact(log.as_ref(), &policy, now_ms).await?;
            out.push((log.name().to_string(), report));
        }
    }
    Ok(out)
}

/// A fresh random epoch token: 16 lowercase hex digits.
pub(crate) fn new_epoch() -> String {
    let mut b = [0u8; 8];
    if getrandom::getrandom(&mut b).is_err() {
        // No OS randomness: fall back to the clock and the process id, still unique enough
        // to tell a re-created log from the old one.
        let t = crate::clock::Clock::now_ms(&crate::clock::SystemClock)
            ^ (u64::from(std::process::id()) << 40);
        b = t.to_be_bytes();
    }
    hex::encode(b)
}
