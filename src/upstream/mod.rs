//! Upstream-derived feeds (PROTOCOL §6): a feed whose transactions come from
//! an origin's current state (JSON, RSS, Atom) or from another feedgate feed.
//!
//! This file owns *when* a feed syncs and who waits for it: one [`Syncer`] per
//! upstream feed, single-flight (concurrent consumer reads share one fetch,
//! which runs in its own task so a consumer that stops waiting does not
//! cancel it), the bounded wait of a consumer read, the optional background
//! interval, and the sync status shown by `GET /feeds` and `/readyz`.
//!
//! With several processes on one store (PostgreSQL), a sync first takes the
//! feed's turn ([`Log::sync_turn`](crate::store::Log::sync_turn)): one
//! process at a time fetches a feed. A process that does not get the turn
//! neither fetches nor waits for the other's sync; its flight ends at once
//! with the outcome `elsewhere` (counting as a sync for `refresh`), and its
//! reads answer from the log, whose head the other's writes move.
//!
//! The rest, by file: `config` (the `upstream` table), `client` (HTTP),
//! `parse` (json/rss/atom → current items), `diff` (items → ops, the
//! mass-delete guard; pure), `sync` (one sync of a json/rss/atom origin, and
//! what every sync shares: its report, the persisted sync state, diff and
//! apply), `feedgate` (one sync of a feedgate origin, page by page through
//! its ETags), `status` (what operators see). A failed sync changes nothing.

mod client;
mod config;
mod diff;
mod feedgate;
mod parse;
mod status;
mod sync;

pub use client::redact;
pub use config::{FieldMap, Headers, SourceFormat, UpstreamConfig};
pub use diff::{Diff, Refused, Snapshot};
pub use status::SyncStatus;
pub use sync::{Changes, Report};

use crate::clock::Clock;
use crate::metrics::{FeedWrites, Metrics};
use crate::store::{Backend, LogRef, StoreError};
use crate::sync::lock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Why a sync failed. Every variant leaves the feed as it was.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("the origin answered HTTP {0}")]
    Status(u16),
    #[error("the response body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("truncated or broken response body: {0}")]
    Body(String),
    #[error("request failed: {0}")]
    Request(String),
    #[error("unparseable {format} document: {message}")]
    Parse {
        format: &'static str,
        message: String,
    },
    /// A `next` link or a redirect naming another origin than the configured
    /// URL's (scheme, host, port): not followed, so the configured headers
    /// and query never reach it.
    #[error(
        "{what} to another origin ({origin}) refused: feedgate asks only the configured origin"
    )]
    ForeignOrigin { what: &'static str, origin: String },
    #[error("the upstream has more than max_pages = {0} pages to read in one resync")]
    TooManyPages(usize),
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The syncers of all upstream feeds, and their background tasks (aborted
/// when this is dropped).
#[derive(Default)]
pub struct Upstreams {
    syncers: HashMap<String, Arc<Syncer>>,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Upstreams {
    /// A syncer for every upstream feed (`Config::upstreams`: name and
    /// `upstream` table) that `store` holds.
    pub fn build<'a>(
        feeds: impl IntoIterator<Item = (&'a str, UpstreamConfig)>,
        store: &dyn Backend,
        clock: Arc<dyn Clock>,
        metrics: &Arc<Metrics>,
    ) -> Result<Upstreams, (String, SyncError)> {
        let mut syncers = HashMap::new();
        for (name, up) in feeds {
            let Some(log) = store.feed(name) else {
                continue;
            };
            let syncer = Syncer::new(name, up, log, clock.clone(), metrics.clone())
                .map_err(|e| (name.to_string(), e))?;
            syncers.insert(name.to_string(), Arc::new(syncer));
        }
        Ok(Upstreams {
            syncers,
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// The syncer of `feed`, if it is an upstream feed (one hash lookup).
    pub fn get(&self, feed: &str) -> Option<&Arc<Syncer>> {
        self.syncers.get(feed)
    }

    /// Every upstream feed's status, by feed name.
    pub fn statuses(&self) -> Vec<(&str, SyncStatus)> {
        let mut v: Vec<_> = self
            .syncers
            .iter()
            .map(|(n, s)| (n.as_str(), s.status()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Start the background sync of every feed with an `interval` (the
    /// first sync runs at once). Call from within the runtime.
    pub fn start_background(&self) {
        let mut tasks = lock(&self.tasks);
        for syncer in self.syncers.values() {
            let Some(every) = syncer.config.interval else {
                continue;
            };
            let weak: Weak<Syncer> = Arc::downgrade(syncer);
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(syncer) = weak.upgrade() else { break };
                    syncer.sync_now().await;
                }
            });
            tasks.push(task.abort_handle());
        }
    }
}

impl Drop for Upstreams {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// Flight bookkeeping: the id of the running sync, if any, and the next id.
#[derive(Default)]
struct Flights {
    running: Option<u64>,
    next: u64,
}

/// One upstream feed's sync: configuration, client, schedule and status.
pub struct Syncer {
    feed: String,
    config: UpstreamConfig,
    log: LogRef,
    /// Its feed's write series.
    writes: FeedWrites,
    client: client::Client,
    clock: Arc<dyn Clock>,
    /// When the last sync ended, ms since the Unix epoch (0: never).
    last_end: AtomicU64,
    flights: Mutex<Flights>,
    /// The id of the last finished flight (ids grow; flights never overlap).
    done: watch::Sender<u64>,
    status: Mutex<SyncStatus>,
    /// Sync outcomes and appended transactions go to `/metrics`.
    metrics: Arc<Metrics>,
}

impl Syncer {
    fn new(
        feed: &str,
        config: UpstreamConfig,
        log: LogRef,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<Syncer, SyncError> {
        let client = client::Client::new(&config)?;
        let status = SyncStatus::new(redact(client.url()), config.format.as_str());
        Ok(Syncer {
            feed: feed.to_string(),
            config,
            writes: metrics
                .feed_writes(feed)
                .unwrap_or_else(FeedWrites::detached),
            log,
            client,
            clock,
            last_end: AtomicU64::new(0),
            flights: Mutex::new(Flights {
                running: None,
                next: 1,
            }),
            done: watch::Sender::new(0),
            status: Mutex::new(status),
            metrics,
        })
    }

    /// Before a consumer read: when the last sync is older than `refresh`,
    /// start a sync (or join the running one) and wait for it at most `wait`.
    /// When it is fresh this is one clock read and one atomic load. True
    /// when the sync waited for appended transactions (stamped now: a
    /// response selected by a date shows them once their second is over).
    pub async fn before_read(self: &Arc<Self>) -> bool {
        if self.fresh() {
            return false;
        }
        let flight = self.start_or_join();
        let mut rx = self.done.subscribe();
        let finished = rx.wait_for(|done| *done >= flight);
        if tokio::time::timeout(self.config.wait, finished)
            .await
            .is_err()
        {
            tracing::debug!(feed = %self.feed, wait = ?self.config.wait, "upstream sync still running; answering from the log");
            return false;
        }
        lock(&self.status).last_outcome == Some("applied")
    }

    /// Sync now (or join the running sync) and wait until it has finished.
    pub async fn sync_now(self: &Arc<Self>) {
        let flight = self.start_or_join();
        let _ = self.done.subscribe().wait_for(|done| *done >= flight).await;
    }

    /// What readers are told while the origin cannot be reached (the last
    /// sync failed): `None` while it syncs.
    pub fn notice(&self) -> Option<crate::render::UpstreamNotice> {
        let s = lock(&self.status);
        (s.state == "failing").then(|| crate::render::UpstreamNotice {
            failures: s.consecutive_failures,
            last_success: s.last_success.clone(),
            error: s.last_error.clone().unwrap_or_default(),
        })
    }

    /// The status as `GET /feeds` and `/readyz` show it.
    pub fn status(&self) -> SyncStatus {
        lock(&self.status).clone()
    }

    /// When the next sync is due (ms), and whether it runs by itself: with
    /// an `interval`, the background sync's next tick (at once before the
    /// first); without one, the first read once `refresh` has passed.
    pub fn next_sync(&self) -> (u64, bool) {
        let last = self.last_end.load(Ordering::Acquire);
        let now = self.clock.now_ms();
        let after = |d: Duration| {
            let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            if last == 0 {
                now
            } else {
                last.saturating_add(ms).max(now)
            }
        };
        match self.config.interval {
            Some(every) => (after(every), true),
            None => (after(self.config.refresh), false),
        }
    }

    /// Whether the last sync ended less than `refresh` ago (a read then
    /// does not sync first).
    pub fn fresh(&self) -> bool {
        let last = self.last_end.load(Ordering::Acquire);
        let refresh = u64::try_from(self.config.refresh.as_millis()).unwrap_or(u64::MAX);
        last != 0 && self.clock.now_ms().saturating_sub(last) < refresh
    }

    /// The id of the running flight, starting one if none runs.
    fn start_or_join(self: &Arc<Self>) -> u64 {
        let mut f = lock(&self.flights);
        if let Some(id) = f.running {
            return id;
        }
        let id = f.next;
        f.next += 1;
        f.running = Some(id);
        let me = self.clone();
        tokio::spawn(async move {
            // Ends the flight even if the sync panics, so the feed can sync again.
            let _end = FlightEnd { syncer: &me, id };
            let started = Instant::now();
            match me.log.sync_turn().await {
                Ok(Some(_turn)) => {
                    let result = me.sync_once().await;
                    me.record(result, started.elapsed());
                }
                Ok(None) => me.elsewhere(started.elapsed()),
                Err(e) => me.record(Err(e.into()), started.elapsed()),
            }
        });
        id
    }

    /// One sync, by the origin's format: a feedgate feed page by page
    /// through its ETags, anything else as a snapshot.
    async fn sync_once(&self) -> Result<Report, SyncError> {
        let mut state = sync::State::load(self.log.as_ref(), &self.config.fingerprint()).await?;
        match self.config.format {
            SourceFormat::Feedgate => feedgate::sync(self, &mut state).await,
            format => sync::snapshot(self, format, &mut state).await,
        }
    }

    /// Another process holds the feed's sync turn: it fetches, this one
    /// did not (and answers from the log, which that sync's writes reach).
    fn elsewhere(&self, took: Duration) {
        self.metrics.record_sync(&self.feed, "elsewhere");
        lock(&self.status).elsewhere(self.clock.now_ms(), took);
        tracing::debug!(feed = %self.feed, "upstream sync running in another process; answering from the log");
    }

    fn record(&self, result: Result<Report, SyncError>, took: Duration) {
        let now = self.clock.now_ms();
        let url = redact(self.client.url());
        let mut st = lock(&self.status);
        let outcome = match &result {
            Ok(report) => report.outcome(),
            Err(SyncError::Refused(_)) => "refused",
            Err(_) => "failed",
        };
        self.metrics.record_sync(&self.feed, outcome);
        match result {
            Ok(report) => {
                st.succeeded(&report, now, took);
                let c = &report.changes;
                if c.added + c.updated + c.deleted > 0 {
                    tracing::info!(feed = %self.feed, url, mode = report.mode, pages = report.pages,
                        added = c.added, updated = c.updated, deleted = c.deleted, "upstream sync applied");
                } else {
                    tracing::debug!(feed = %self.feed, outcome = report.outcome(), "upstream sync: no change");
                }
            }
            Err(e) => {
                st.failed(&e, now, took);
                tracing::warn!(feed = %self.feed, url, error = %e, consecutive_failures = st.consecutive_failures,
                    "upstream sync failed; the feed keeps its state");
            }
        }
    }
}

/// Marks a flight finished when dropped.
struct FlightEnd<'a> {
    syncer: &'a Syncer,
    id: u64,
}

impl Drop for FlightEnd<'_> {
    fn drop(&mut self) {
        let s = self.syncer;
        s.last_end.store(s.clock.now_ms().max(1), Ordering::Release);
        lock(&s.flights).running = None;
        s.done.send_replace(self.id);
    }
}

#[cfg(test)]
mod tests;
