//! The storage boundary ([`Log`], [`LogView`]) over a sled-backed
//! [`FeedLog`]: the range scan over chunks, and the rest by delegation to
//! the log's own modules (`append.rs`, `read.rs`, `compact.rs`, `feed.rs`).

use super::codec;
use super::keys::{chunk_key, second_key, u64_of};
use super::{Appended, CompactReport, FeedLog, ItemState, Op, Published, Retention, StoreError};
use crate::model::Txn;
use crate::protocol::{Frontier, LogView};
use crate::store::Log;
use async_trait::async_trait;
use std::sync::atomic::Ordering;

#[async_trait]
impl LogView for FeedLog {
    type Error = StoreError;

    fn head(&self) -> u64 {
        self.published().seq
    }

    fn frontier(&self, now_ms: u64) -> Frontier {
        self.visibility.frontier(now_ms)
    }

    fn created_ms(&self) -> u64 {
        self.created()
    }

    async fn stamp(&self, seq: u64) -> Result<Option<u64>, StoreError> {
        self.stamp_of(seq)
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }

    fn dropped_stamp(&self) -> u64 {
        self.dropped_stamp.load(Ordering::SeqCst)
    }

    async fn scan(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, StoreError> {
        self.scan_chunks(after, upto, max, max_bytes)
    }

    async fn first_seq_from_second(&self, sec: u64) -> Result<Option<u64>, StoreError> {
        match self
            .tree
            .range(second_key(sec)..=second_key(u64::MAX))
            .next()
        {
            Some(kv) => Ok(Some(u64_of(Some(kv?.1)))),
            None => Ok(None),
        }
    }
}

impl FeedLog {
    /// [`LogView::scan`]: from the chunk that holds `after + 1` on, reading
    /// no chunk beyond the one that fills the page.
    pub(super) fn scan_chunks(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, StoreError> {
        let mut out = Vec::new();
        if after >= upto {
            return Ok(out);
        }
        let mut bytes = 0usize;
        let start = self.chunk_start(after + 1)?;
        for kv in self.tree.range(chunk_key(start)..=chunk_key(upto)) {
            if out.len() >= max || (!out.is_empty() && bytes >= max_bytes) {
                // Full: the next chunk (perhaps a spilled one) is not read.
                return Ok(out);
            }
            let (key, stored) = kv?;
            // (`None`: removed by compaction since the range was read.)
            let Some(chunk) = self.resolve(&key, stored)? else {
                continue;
            };
            for e in codec::entries(&chunk) {
                let e = e.map_err(|e| self.corrupt(e))?;
                if e.seq <= after {
                    continue;
                }
                if e.seq > upto || out.len() >= max || (!out.is_empty() && bytes >= max_bytes) {
                    return Ok(out);
                }
                bytes += e.bytes.len();
                out.push(e.txn().map_err(|e| self.corrupt(e))?);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Log for FeedLog {
    fn name(&self) -> &str {
        FeedLog::name(self)
    }

    fn epoch(&self) -> &str {
        FeedLog::epoch(self)
    }

    fn published(&self) -> Published {
        FeedLog::published(self)
    }

    fn compactions(&self) -> u64 {
        FeedLog::compactions(self)
    }

    fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.visibility.watch()
    }

    async fn append(&self, ops: &[Op]) -> Result<Appended, StoreError> {
        FeedLog::append(self, ops).await
    }

    async fn item(&self, id: &str) -> Result<Option<ItemState>, StoreError> {
        FeedLog::item(self, id).await
    }

    async fn items(&self) -> Result<Vec<(String, ItemState)>, StoreError> {
        super::blocking(|| FeedLog::items(self))
    }

    async fn upstream_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        FeedLog::upstream_state(self)
    }

    async fn set_upstream_state(&self, state: &[u8]) -> Result<(), StoreError> {
        FeedLog::set_upstream_state(self, state)
    }

    async fn compact_step(
        &self,
        policy: &Retention,
        now_ms: u64,
        from: u64,
        budget: usize,
        report: &mut CompactReport,
    ) -> Result<Option<u64>, StoreError> {
        super::blocking(|| FeedLog::compact_step(self, policy, now_ms, from, budget, report))
    }
}
