//! The in-memory backend: each feed's log in a `BTreeMap` under one mutex,
//! nothing on disk. For tests and throw-away runs; it passes the same
//! conformance suite as the embedded backend (`conformance.rs`).
//!
//! An append is decided and applied under the feed's lock and is visible
//! when the lock is released, so nothing is ever in flight: the frontier of
//! closed seconds is the latest instant a reader or writer saw, and stamps
//! never go below it. Compaction follows the rules of the embedded backend
//! (`embedded/compact.rs`): per incarnation, its `add` and latest state
//! stay; a tombstone older than its retention goes with its incarnation and
//! raises the dropped mark; the head is never removed.

use super::{
    Appended, Backend, CompactReport, ConsumerRecord, ItemState, Log, LogRef, Op, Published,
    Retention, StoreError,
};
use crate::clock::Clock;
use crate::model::Txn;
use crate::protocol::{Frontier, LogView};
use crate::sync::lock;
use async_trait::async_trait;

mod write;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// An item's record: its live state, or the seq of its delete.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // most records are live; boxing them buys nothing
enum Record {
    Live(ItemState),
    Tomb(u64),
}

#[derive(Default)]
struct State {
    txns: BTreeMap<u64, Txn>,
    items: BTreeMap<String, Record>,
    /// Unix second -> the first seq stamped in it.
    seconds: BTreeMap<u64, u64>,
    head: u64,
    head_stamp: u64,
    live: u64,
    /// The latest instant (ms) anyone cut a response or stamped a write at.
    seen: u64,
    dropped: u64,
    dropped_stamp: u64,
    compactions: u64,
    upstream: Option<Vec<u8>>,
}

/// One feed's log in memory.
pub struct MemoryLog {
    name: String,
    epoch: String,
    created: u64,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// The head, for [`Log::watch_head`].
    head: watch::Sender<u64>,
}

impl MemoryLog {
    fn new(name: &str, clock: Arc<dyn Clock>) -> MemoryLog {
        let created = clock.now_ms();
        MemoryLog {
            name: name.to_string(),
            epoch: super::new_epoch(),
            created,
            clock,
            state: Mutex::new(State {
                head_stamp: created,
                ..State::default()
            }),
            head: watch::Sender::new(0),
        }
    }
}

#[async_trait]
impl LogView for MemoryLog {
    type Error = StoreError;

    fn head(&self) -> u64 {
        lock(&self.state).head
    }

    fn frontier(&self, now_ms: u64) -> Frontier {
        let mut s = lock(&self.state);
        s.seen = s.seen.max(now_ms);
        Frontier {
            head: s.head,
            head_stamp: s.head_stamp,
            open_ms: s.seen,
        }
    }

    fn created_ms(&self) -> u64 {
        self.created
    }

    fn dropped(&self) -> u64 {
        lock(&self.state).dropped
    }

    fn dropped_stamp(&self) -> u64 {
        lock(&self.state).dropped_stamp
    }

    async fn scan(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, StoreError> {
        let s = lock(&self.state);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        if after >= upto {
            return Ok(out);
        }
        for t in s.txns.range(after + 1..=upto).map(|(_, t)| t) {
            if out.len() >= max || (!out.is_empty() && bytes >= max_bytes) {
                break;
            }
            // (The embedded backend counts its encoding; JSON is close enough.)
            bytes += serde_json::to_vec(t).map_or(0, |v| v.len());
            out.push(t.clone());
        }
        Ok(out)
    }

    async fn first_seq_from_second(&self, sec: u64) -> Result<Option<u64>, StoreError> {
        Ok(lock(&self.state)
            .seconds
            .range(sec..)
            .next()
            .map(|(_, s)| *s))
    }
}

#[async_trait]
impl Log for MemoryLog {
    fn name(&self) -> &str {
        &self.name
    }

    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn published(&self) -> Published {
        let s = lock(&self.state);
        Published {
            seq: s.head,
            stamp: s.head_stamp,
            live: s.live,
        }
    }

    fn compactions(&self) -> u64 {
        lock(&self.state).compactions
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn append(&self, ops: &[Op]) -> Result<Appended, StoreError> {
        let (appended, head) = {
            let mut s = lock(&self.state);
            (self.apply(&mut s, ops), s.head)
        };
        self.head
            .send_if_modified(|h| std::mem::replace(h, head) != head);
        appended
    }

    async fn item(&self, id: &str) -> Result<Option<ItemState>, StoreError> {
        Ok(match lock(&self.state).items.get(id) {
            Some(Record::Live(state)) => Some(state.clone()),
            _ => None,
        })
    }

    async fn items(&self) -> Result<Vec<(String, ItemState)>, StoreError> {
        let s = lock(&self.state);
        let live = s.items.iter().filter_map(|(id, r)| match r {
            Record::Live(state) => Some((id.clone(), state.clone())),
            Record::Tomb(_) => None,
        });
        Ok(live.collect())
    }

    async fn upstream_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.state).upstream.clone())
    }

    async fn set_upstream_state(&self, state: &[u8]) -> Result<(), StoreError> {
        lock(&self.state).upstream = Some(state.to_vec());
        Ok(())
    }

    async fn compact_step(
        &self,
        policy: &Retention,
        now_ms: u64,
        from: u64,
        budget: usize,
        report: &mut CompactReport,
    ) -> Result<Option<u64>, StoreError> {
        if !policy.is_active() {
            return Ok(None);
        }
        let mut s = lock(&self.state);
        Ok(self.step(&mut s, policy, now_ms, from, budget, report))
    }
}

/// The store in memory: its feeds' logs and the consumer records.
pub struct Memory {
    feeds: BTreeMap<String, Arc<MemoryLog>>,
    consumers: Mutex<BTreeMap<(String, String), ConsumerRecord>>,
    hub: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Memory {
    /// A store with an empty log for each of `feeds`.
    pub fn new(feeds: &[String], clock: Arc<dyn Clock>) -> Memory {
        let feeds = feeds
            .iter()
            .map(|name| (name.clone(), Arc::new(MemoryLog::new(name, clock.clone()))))
            .collect();
        Memory {
            feeds,
            consumers: Mutex::new(BTreeMap::new()),
            hub: Mutex::new(BTreeMap::new()),
        }
    }
}

#[async_trait]
impl Backend for Memory {
    fn feed(&self, name: &str) -> Option<LogRef> {
        self.feeds.get(name).map(|l| l.clone() as LogRef)
    }

    fn feeds(&self) -> Vec<LogRef> {
        self.feeds.values().map(|l| l.clone() as LogRef).collect()
    }

    async fn consumer_records(&self) -> Result<Vec<ConsumerRecord>, StoreError> {
        Ok(lock(&self.consumers).values().cloned().collect())
    }

    async fn hub_records(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(lock(&self.hub)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn save_hub_record(&self, key: &str, record: Option<&[u8]>) -> Result<(), StoreError> {
        let mut hub = lock(&self.hub);
        match record {
            Some(r) => hub.insert(key.to_string(), r.to_vec()),
            None => hub.remove(key),
        };
        Ok(())
    }

    async fn save_consumer_records(
        &self,
        put: &[ConsumerRecord],
        remove: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut records = lock(&self.consumers);
        for key in remove {
            records.remove(key);
        }
        for r in put {
            records.insert((r.feed.clone(), r.name.clone()), r.clone());
        }
        Ok(())
    }

    async fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
