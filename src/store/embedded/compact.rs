//! Retention and compaction, Kafka-style: an item's superseded states are
//! removed from the log (the survivors keep their seq numbers), and delete
//! transactions (tombstones) are dropped once older than the retention.
//!
//! What stays, per incarnation of an item (an `add` up to its `delete`):
//! its `add` and its latest state. Keeping the `add` keeps actions exact
//! (PROTOCOL §3): a consumer that walks the compacted log meets the item's
//! `add` before any update, and one positioned before compaction inside the
//! incarnation still gets `update`/`delete` (`Txn::born`). Dropping a
//! tombstone removes its whole incarnation (the `add` too) and raises the
//! feed's `dropped` mark: consumers older than the mark get a catch-up that
//! reaches past the mark in one response (`protocol::plan`), so traversing
//! the region below the mark never lands on a position below it again.
//!
//! A pass walks the log in bounded steps, each under the feed's writer lock
//! for at most `COMPACT_STEP` transactions, so writers and readers never wait long.
//! A step rewrites each chunk it removes transactions from (copying the
//! surviving entries as they are) and deletes a chunk left empty, all in one
//! atomic batch; the writer's copy of the newest chunk is dropped if that
//! chunk changed. Readers need no lock: a superseded state is either seen or not (the
//! latest state follows it either way), and before a tombstone is removed
//! the feed's `dropped` mark is raised, so a consumer whose position is
//! older than a dropped tombstone is answered with a catch-up instead of a
//! page with a silent gap (`protocol::plan`). The head transaction is never
//! removed (it is the log's high-water mark across restarts).

use super::codec::{self, Record};
use super::keys::{chunk_key, item_key, u64_of, DROPPED, DROPPED_STAMP};
use super::spill::{self, Spilled};
use super::{CompactReport, FeedLog, Retention, StoreError};
use crate::model::Action;
use crate::store::{Examined, Verdict};
use crate::sync::lock;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;

/// The transactions a step removes, by the key of the chunk that holds
/// them, with that chunk as read.
#[derive(Default)]
struct Doomed(BTreeMap<u64, (sled::IVec, HashSet<u64>)>);

impl Doomed {
    fn add(&mut self, key: u64, chunk: &sled::IVec, seq: u64) {
        self.0
            .entry(key)
            .or_insert_with(|| (chunk.clone(), HashSet::new()))
            .1
            .insert(seq);
    }
}

/// The descriptor `key` holds, if its value is spilled.
fn spilled(tree: &sled::Tree, key: &[u8]) -> Result<Option<Spilled>, sled::Error> {
    Ok(tree.get(key)?.and_then(|v| Spilled::of(&v)))
}

impl FeedLog {
    /// A whole pass under `policy`, step by step, on this thread.
    #[cfg(test)]
    pub(super) fn compact_sync(
        &self,
        policy: &Retention,
        now_ms: u64,
    ) -> Result<CompactReport, StoreError> {
        let mut report = CompactReport::default();
        let mut from = 0;
        while let Some(next) = self.compact_step(
            policy,
            now_ms,
            from,
            crate::store::COMPACT_STEP,
            &mut report,
        )? {
            from = next;
        }
        Ok(report)
    }

    /// Examine at most `budget` transactions after `from`; returns where the
    /// next step starts, or `None` when the pass has reached the head.
    pub(super) fn compact_step(
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
        let mut writer = lock(&self.writer);
        let removed_before = (report.removed, report.tombstones_dropped);
        let head = self.published().seq;
        let mut batch = sled::Batch::default();
        let mut doomed = Doomed::default();
        let mut dropped = (0, 0);
        let mut last = from;
        let mut examined = 0;
        let start = self.chunk_start(from + 1)?;
        'walk: for kv in self.tree.range(chunk_key(start)..=chunk_key(head)) {
            if examined >= budget {
                break;
            }
            let (key, stored) = kv?;
            // (Nothing else removes chunks: this step holds the writer lock.)
            let Some(chunk) = self.resolve(&key, stored)? else {
                continue;
            };
            let key = u64_of(Some(key.subslice(1, 8)));
            for e in codec::entries(&chunk) {
                let e = e.map_err(|e| self.corrupt(e))?;
                if e.seq <= from {
                    continue;
                }
                if examined >= budget || e.seq > head {
                    break 'walk;
                }
                let t = e.head().map_err(|e| self.corrupt(e))?;
                (last, examined) = (e.seq, examined + 1);
                report.examined += 1;
                if e.seq == head {
                    break 'walk;
                }
                let latest = match self.record(t.id)? {
                    Some(Record::Live(state)) => state.seq,
                    // Deleted: its tombstone's seq, or 0 once that was dropped.
                    Some(Record::Tomb(seq)) => seq,
                    None => 0,
                };
                let examined = Examined {
                    seq: e.seq,
                    stamp: e.stamp,
                    born: t.born,
                    delete: t.action == Action::Delete,
                    latest,
                };
                match policy.verdict(examined, head, now_ms) {
                    Verdict::Keep => {}
                    Verdict::Superseded => {
                        doomed.add(key, &chunk, e.seq);
                        report.removed += 1;
                    }
                    Verdict::Tombstone => {
                        doomed.add(key, &chunk, e.seq);
                        if latest == e.seq {
                            // A tombstone record: never spilled.
                            batch.remove(item_key(t.id));
                        }
                        if t.born > 0 && t.born < e.seq {
                            if let Some((k, c)) = self.chunk_at(t.born)? {
                                doomed.add(k, &c, t.born);
                            }
                            report.removed += 1;
                        }
                        dropped = (e.seq, e.stamp);
                        report.tombstones_dropped += 1;
                    }
                }
            }
        }
        for (key, (chunk, seqs)) in &doomed.0 {
            let mut kept = Vec::with_capacity(chunk.len());
            for e in codec::entries(chunk) {
                let e = e.map_err(|e| self.corrupt(e))?;
                if !seqs.contains(&e.seq) {
                    kept.extend_from_slice(e.bytes);
                }
            }
            let k = chunk_key(*key);
            // Only a chunk of one large transaction is spilled, and it goes whole.
            let old = if chunk.len() > spill::INLINE_MAX {
                spilled(&self.tree, &k)?
            } else {
                None
            };
            if kept.is_empty() {
                spill::remove(&mut batch, &k, old);
            } else {
                spill::put(&mut batch, &mut writer.spill, &k, &kept, old);
            }
            if writer.tail.as_ref().is_some_and(|t| t.key == *key) {
                // The writer's copy of the newest chunk is stale: start a new one.
                writer.tail = None;
            }
        }
        if dropped.0 > self.dropped.load(Ordering::SeqCst) {
            // Raise the mark before anything disappears (see the module docs);
            // the stamp first, as readers read the seq first.
            self.dropped_stamp.store(dropped.1, Ordering::SeqCst);
            self.dropped.store(dropped.0, Ordering::SeqCst);
            batch.insert(DROPPED, &dropped.0.to_be_bytes());
            batch.insert(DROPPED_STAMP, &dropped.1.to_be_bytes());
        }
        let removes = (report.removed, report.tombstones_dropped) != removed_before;
        if removes {
            // Before and after the removal: see `FeedLog::compactions`.
            self.compactions.fetch_add(1, Ordering::SeqCst);
        }
        self.tree.apply_batch(batch)?;
        if removes {
            self.compactions.fetch_add(1, Ordering::SeqCst);
        }
        Ok((last < head && last > from).then_some(last))
    }
}

#[cfg(test)]
mod tests;
