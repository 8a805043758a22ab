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
//! for at most `STEP` transactions, so writers and readers never wait long.
//! Readers need no lock: a superseded state is either seen or not (the
//! latest state follows it either way), and before a tombstone is removed
//! the feed's `dropped` mark is raised, so a consumer whose position is
//! older than a dropped tombstone is answered with a catch-up instead of a
//! page with a silent gap (`protocol::plan`). The head transaction is never
//! removed (it is the log's high-water mark across restarts).

use super::feed::{item_key, lock, log_key, tomb_key, u64_of, DROPPED, DROPPED_STAMP};
use super::{FeedLog, StoreError};
use crate::model::Action;
use crate::protocol::LogView;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Transactions examined per step (one writer-lock hold).
pub const STEP: usize = 1000;

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
}

/// What a compaction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactReport {
    pub examined: u64,
    /// Superseded states removed.
    pub removed: u64,
    pub tombstones_dropped: u64,
}

fn older(stamp: u64, age: Option<Duration>, now_ms: u64) -> bool {
    age.is_some_and(|a| {
        stamp.saturating_add(u64::try_from(a.as_millis()).unwrap_or(u64::MAX)) <= now_ms
    })
}

impl FeedLog {
    pub fn set_retention(&self, policy: Retention) {
        *lock(&self.retention) = policy;
    }

    pub fn retention(&self) -> Retention {
        lock(&self.retention).clone()
    }

    /// A whole compaction pass, step by step (the CLI and tests; the server
    /// runs [`FeedLog::compact_step`] from a background task).
    pub fn compact(&self, now_ms: u64) -> Result<CompactReport, StoreError> {
        let policy = self.retention();
        let mut report = CompactReport::default();
        let mut from = 0;
        while let Some(next) = self.compact_step(&policy, now_ms, from, STEP, &mut report)? {
            from = next;
        }
        Ok(report)
    }

    /// Examine at most `budget` transactions after `from`; returns where the
    /// next step starts, or `None` when the pass has reached the head.
    pub fn compact_step(
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
        let _writer = lock(&self.writer);
        let removed_before = (report.removed, report.tombstones_dropped);
        let head = self.head();
        let mut batch = sled::Batch::default();
        let mut dropped = (0, 0);
        let mut last = from;
        for kv in self
            .tree
            .range(log_key(from + 1)..=log_key(head))
            .take(budget)
        {
            let t = self.decode(&kv?.1)?;
            last = t.seq;
            report.examined += 1;
            if t.seq == head {
                break;
            }
            let latest = match self.tree.get(item_key(&t.id))? {
                Some(state) => serde_json::from_slice::<super::ItemState>(&state)
                    .map(|s| s.seq)
                    .map_err(|e| StoreError::Corrupt {
                        feed: self.name().to_string(),
                        what: e.to_string(),
                    })?,
                // Deleted: its tombstone's seq, or 0 once that was dropped.
                None => u64_of(self.tree.get(tomb_key(&t.id))?),
            };
            let eligible = older(t.stamp, policy.compact_after, now_ms)
                || policy
                    .keep_latest
                    .is_some_and(|k| t.seq.saturating_add(k) <= head);
            if t.action == Action::Delete {
                // A delete ends an incarnation: whether it is the item's latest
                // state or was followed by a re-add, removing it hides a
                // deletion, so it goes only under the tombstone retention, with
                // its incarnation's `add`, and raises the dropped mark. Never a
                // tombstone of the current second (a catch-up stops before it).
                if older(t.stamp, policy.tombstones, now_ms) && t.stamp / 1000 < now_ms / 1000 {
                    batch.remove(&log_key(t.seq));
                    if latest == t.seq {
                        batch.remove(tomb_key(&t.id));
                    }
                    if t.born > 0 && t.born < t.seq {
                        batch.remove(&log_key(t.born));
                        report.removed += 1;
                    }
                    dropped = (t.seq, t.stamp);
                    report.tombstones_dropped += 1;
                }
            } else if latest != t.seq && ((eligible && t.born != t.seq) || latest == 0) {
                // Superseded and not its incarnation's `add` (latest == 0: the
                // incarnation's tombstone is gone, the whole incarnation goes).
                batch.remove(&log_key(t.seq));
                report.removed += 1;
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
