//! Consumer reporting, the "reporting" phase of a server-to-server sync:
//! each consumer's last acknowledged position (the position its poll's
//! cursor held) and last poll time, per feed, with its lag behind the head.
//!
//! A consumer is named by its credential, else the `consumer` query
//! parameter, else the `From` header ([`identify`]); anonymous polls are not
//! recorded. Records live in memory (one mutex'd map per feed, at most
//! `cap` consumers: a new one at the cap evicts the least recently polled
//! 1% to make room) and are written to the store by [`Consumers::persist`],
//! which the server calls periodically and at shutdown, never on the request
//! path and without a flush of its own (the store's flush makes them
//! durable), so a crash loses at most the last few seconds of polls.
//!
//! Several processes on one store ([`Backend::shared`], PostgreSQL): each
//! records the polls it answers, the store keeps the newest poll of each
//! (feed, consumer) whichever process saves last, and each persist merges
//! the stored records back into this process's map (newest poll wins;
//! consumers first seen by another process join, up to the cap). So a
//! report or `/metrics` shows consumers polled on any process, at most
//! one persist period ([`PERSIST_EVERY`](crate::server::PERSIST_EVERY))
//! behind what the other processes answered.

use crate::auth::Credential;
use crate::cursor::Cursor;
use crate::protocol::Plan;
use crate::store::{Backend, ConsumerRecord, Log, StoreError};
use crate::sync::lock;
use hyper::header::HeaderValue;
use std::collections::HashMap;
use std::sync::Mutex;

/// Consumers kept per feed.
pub const DEFAULT_CAP: usize = 10_000;
/// Longest consumer name taken from a query parameter or `From` header.
pub const MAX_NAME_BYTES: usize = 128;

/// What is kept of a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    epoch: String,
    position: u64,
    /// Last poll, ms since the Unix epoch.
    polled: u64,
}

struct Record {
    seen: Seen,
    /// Changed since the last [`Consumers::persist`].
    dirty: bool,
}

#[derive(Default)]
struct FeedConsumers {
    map: HashMap<String, Record>,
    /// Evicted since the last persist: to delete from the store.
    evicted: Vec<String>,
    /// The cap was reached at least once (warned about).
    full: bool,
}

/// One consumer as `GET /feeds/{feed}/consumers` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub name: String,
    /// The epoch of the recorded position (differs from the feed's if the
    /// log was re-created since).
    pub epoch: String,
    pub position: u64,
    pub polled_ms: u64,
    /// Head seq minus position (the head itself for a foreign epoch).
    pub lag_transactions: u64,
    /// Head stamp minus the stamp of the position (0 at the head).
    pub lag_ms: u64,
}

pub struct Consumers {
    feeds: HashMap<String, Mutex<FeedConsumers>>,
    cap: usize,
    /// One persist at a time, so batches reach the store in the order their
    /// records were taken.
    persisting: tokio::sync::Mutex<()>,
}

/// The name a poll is recorded under: the credential's, else a non-empty
/// `consumer` query value, else the `From` header; `None` (not recorded)
/// when there is none or the chosen one is longer than [`MAX_NAME_BYTES`]
/// or holds control characters.
pub fn identify<'a>(
    who: Option<&'a Credential>,
    query: Option<&'a str>,
    from: Option<&'a HeaderValue>,
) -> Option<&'a str> {
    if let Some(c) = who {
        return Some(&c.name);
    }
    let name = match query.filter(|q| !q.is_empty()) {
        Some(q) => q,
        None => from.and_then(|v| v.to_str().ok()).map(str::trim)?,
    };
    let ok =
        !name.is_empty() && name.len() <= MAX_NAME_BYTES && !name.chars().any(char::is_control);
    ok.then_some(name)
}

impl Consumers {
    /// The consumers of `feeds` from the stored `records` (records of
    /// other feeds are left alone in the store).
    pub fn open(records: Vec<ConsumerRecord>, feeds: &[&str], cap: usize) -> Consumers {
        let cap = cap.max(1);
        let mut maps: HashMap<String, FeedConsumers> = feeds
            .iter()
            .map(|f| (f.to_string(), FeedConsumers::default()))
            .collect();
        for r in records {
            let Some(f) = maps.get_mut(&r.feed) else {
                continue;
            };
            let seen = Seen {
                epoch: r.epoch,
                position: r.position,
                polled: r.polled_ms,
            };
            f.map.insert(r.name, Record { seen, dirty: false });
        }
        for f in maps.values_mut() {
            if f.map.len() > cap {
                let excess = f.map.len() - cap;
                evict_oldest(f, excess);
            }
        }
        let feeds = maps.into_iter().map(|(k, v)| (k, Mutex::new(v))).collect();
        Consumers {
            feeds,
            cap,
            persisting: tokio::sync::Mutex::new(()),
        }
    }

    /// Record a poll of `log` by `name` that was answered with `plan` for
    /// `cursor`: the position the cursor held (`Plan::NotModified`'s
    /// position, or the page's `after`). `If-None-Match: *` holds no
    /// position and is not recorded.
    pub fn record(&self, log: &dyn Log, name: &str, cursor: Cursor, plan: &Plan, now_ms: u64) {
        let position = match (cursor, plan) {
            (Cursor::Star, _) => return,
            (_, Plan::NotModified { position, .. }) => *position,
            (_, Plan::Page(page)) => page.after,
        };
        let Some(feed) = self.feeds.get(log.name()) else {
            return;
        };
        let mut f = lock(feed);
        if let Some(r) = f.map.get_mut(name) {
            if r.seen.epoch != log.epoch() {
                r.seen.epoch = log.epoch().to_string();
            }
            r.seen.position = position;
            r.seen.polled = now_ms;
            r.dirty = true;
            return;
        }
        if f.map.len() >= self.cap {
            if !f.full {
                f.full = true;
                tracing::warn!(feed = log.name(), cap = self.cap, "consumer cap reached: the least recently polled consumers are evicted to make room");
            }
            evict_oldest(&mut f, self.cap.div_ceil(100));
        }
        let seen = Seen {
            epoch: log.epoch().to_string(),
            position,
            polled: now_ms,
        };
        f.map.insert(name.to_string(), Record { seen, dirty: true });
    }

    /// Write the records changed since the last call (and delete evicted
    /// ones) to `store` in one step, without flushing. Returns the number
    /// of records written or deleted.
    /// On a store other processes share, the stored records are merged
    /// back afterwards (see the module doc).
    pub async fn persist(&self, store: &dyn Backend) -> Result<usize, StoreError> {
        let _turn = self.persisting.lock().await;
        let n = self.save(store).await?;
        if store.shared() {
            self.merge(store.consumer_records().await?);
        }
        Ok(n)
    }

    /// Take the records stored by other processes whose poll is newer than
    /// this process's, and those of consumers it has not seen (up to the
    /// cap); they are not dirty (the store holds them).
    fn merge(&self, records: Vec<ConsumerRecord>) {
        for r in records {
            let Some(m) = self.feeds.get(&r.feed) else {
                continue;
            };
            let mut guard = lock(m);
            let f = &mut *guard;
            let room = f.map.len() < self.cap && !f.evicted.contains(&r.name);
            let seen = Seen {
                epoch: r.epoch,
                position: r.position,
                polled: r.polled_ms,
            };
            match f.map.get_mut(&r.name) {
                Some(rec) if seen.polled > rec.seen.polled => {
                    rec.seen = seen;
                    rec.dirty = false;
                }
                Some(_) => {}
                None if room => {
                    f.map.insert(r.name, Record { seen, dirty: false });
                }
                None => {}
            }
        }
    }

    async fn save(&self, store: &dyn Backend) -> Result<usize, StoreError> {
        let mut put: Vec<ConsumerRecord> = Vec::new();
        let mut remove: Vec<(String, String)> = Vec::new();
        for (feed, m) in &self.feeds {
            let mut f = lock(m);
            remove.extend(f.evicted.drain(..).map(|name| (feed.clone(), name)));
            for (name, r) in f.map.iter_mut().filter(|(_, r)| r.dirty) {
                r.dirty = false;
                put.push(ConsumerRecord {
                    feed: feed.clone(),
                    name: name.clone(),
                    epoch: r.seen.epoch.clone(),
                    position: r.seen.position,
                    polled_ms: r.seen.polled,
                });
            }
        }
        let n = put.len() + remove.len();
        if n == 0 {
            return Ok(0);
        }
        if let Err(e) = store.save_consumer_records(&put, &remove).await {
            // Nothing was written: try again next time.
            for r in put {
                if let Some(m) = self.feeds.get(&r.feed) {
                    if let Some(rec) = lock(m).map.get_mut(&r.name) {
                        rec.dirty = true;
                    }
                }
            }
            for (feed, name) in remove {
                if let Some(m) = self.feeds.get(&feed) {
                    lock(m).evicted.push(name);
                }
            }
            return Err(e);
        }
        Ok(n)
    }

    /// The consumers of `log`, sorted by name, with their lag.
    pub async fn report(&self, log: &dyn Log) -> Result<Vec<Report>, StoreError> {
        let Some(m) = self.feeds.get(log.name()) else {
            return Ok(Vec::new());
        };
        let mut rows: Vec<(String, Seen)> = lock(m)
            .map
            .iter()
            .map(|(name, r)| (name.clone(), r.seen.clone()))
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let head = log.published();
        // Most consumers share a few positions: look each stamp up once.
        let mut stamps: HashMap<u64, u64> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for (name, seen) in rows {
            let (lag_transactions, lag_ms) = if seen.epoch != log.epoch() {
                (head.seq, head.stamp.saturating_sub(log.created_ms()))
            } else if seen.position >= head.seq {
                (0, 0)
            } else {
                let stamp = match stamps.get(&seen.position) {
                    Some(s) => *s,
                    None => {
                        let s = position_stamp(log, seen.position, head.seq).await?;
                        stamps.insert(seen.position, s);
                        s
                    }
                };
                (head.seq - seen.position, head.stamp.saturating_sub(stamp))
            };
            out.push(Report {
                name,
                epoch: seen.epoch,
                position: seen.position,
                polled_ms: seen.polled,
                lag_transactions,
                lag_ms,
            });
        }
        Ok(out)
    }
}

/// The stamp of position `seq` (< head): its transaction's; for 0, the log's
/// creation; for a transaction compaction removed, the next one kept.
async fn position_stamp(log: &dyn Log, seq: u64, head: u64) -> Result<u64, StoreError> {
    if seq == 0 {
        return Ok(log.created_ms());
    }
    if let Some(s) = log.stamp(seq).await? {
        return Ok(s);
    }
    let next = log.scan(seq, head, 1, usize::MAX).await?;
    Ok(next.first().map_or(log.created_ms(), |t| t.stamp))
}

/// Evict the `n` least recently polled consumers (one O(len) selection, so
/// a stream of new names at the cap costs O(len / n) per name).
fn evict_oldest(f: &mut FeedConsumers, n: usize) {
    let mut by_age: Vec<(u64, &String)> = f.map.iter().map(|(k, r)| (r.seen.polled, k)).collect();
    let n = n.clamp(1, by_age.len().max(1));
    if by_age.len() > n {
        by_age.select_nth_unstable(n - 1);
        by_age.truncate(n);
    }
    let names: Vec<String> = by_age.into_iter().map(|(_, k)| k.clone()).collect();
    for name in names {
        tracing::debug!(consumer = %name, "consumer evicted");
        f.map.remove(&name);
        f.evicted.push(name);
    }
}

#[cfg(test)]
mod tests;
