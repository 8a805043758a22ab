//! Writing an in-memory log: an append decided and applied under the
//! feed's lock, and a compaction step.

use super::{MemoryLog, Record, State};
use crate::model::{Action, Txn};
use crate::store::{
    Appended, Applied, CompactReport, Examined, ItemState, Op, Outcome, Retention, StoreError,
    Verdict,
};
use std::collections::HashMap;

impl MemoryLog {
    /// Decide `ops` in order on top of `s`, then apply them all or none.
    pub(super) fn apply(&self, s: &mut State, ops: &[Op]) -> Result<Appended, StoreError> {
        let mut items: HashMap<&str, Option<ItemState>> = HashMap::new();
        let mut txns: Vec<Txn> = Vec::new();
        let mut applied = Vec::with_capacity(ops.len());
        let stamp = self.clock.now_ms().max(s.head_stamp).max(s.seen);
        for op in ops {
            let id = op.id();
            let current = match items.get(id) {
                Some(next) => next.clone(),
                None => match s.items.get(id) {
                    Some(Record::Live(state)) => Some(state.clone()),
                    _ => None,
                },
            };
            if op
                .expects()
                .is_some_and(|want| current.as_ref().map(|c| c.seq) != Some(want))
            {
                return Err(StoreError::Conflict(id.to_string()));
            }
            let seq = s.head + txns.len() as u64 + 1;
            let (action, born, next) = match (op.payload(), current) {
                (Some(payload), Some(cur)) if cur.payload == *payload => {
                    applied.push(Applied {
                        id: id.to_string(),
                        outcome: Outcome::Unchanged,
                        seq: cur.seq,
                    });
                    continue;
                }
                (None, None) => return Err(StoreError::ItemNotFound(id.to_string())),
                (None, Some(cur)) => (Action::Delete, cur.born, None),
                (Some(payload), cur) => {
                    let (action, born) = match &cur {
                        Some(c) => (Action::Update, c.born),
                        None => (Action::Add, seq),
                    };
                    let state = ItemState {
                        seq,
                        stamp,
                        born,
                        payload: payload.clone(),
                    };
                    (action, born, Some(state))
                }
            };
            let payload = next.as_ref().map(|n| n.payload.clone());
            txns.push(Txn {
                seq,
                id: id.to_string(),
                action,
                stamp,
                born,
                payload,
            });
            applied.push(Applied {
                id: id.to_string(),
                outcome: match action {
                    Action::Add => Outcome::Add,
                    Action::Update => Outcome::Update,
                    Action::Delete => Outcome::Delete,
                },
                seq,
            });
            items.insert(id, next);
        }
        for (id, next) in items {
            let was_live = matches!(s.items.get(id), Some(Record::Live(_)));
            let record = match next {
                Some(state) => Record::Live(state),
                None => match txns.iter().rev().find(|t| t.id == id) {
                    Some(t) => Record::Tomb(t.seq),
                    // Deleted before this batch and not touched since.
                    None => continue,
                },
            };
            match (&record, was_live) {
                (Record::Live(_), false) => s.live += 1,
                (Record::Tomb(_), true) => s.live -= 1,
                _ => {}
            }
            s.items.insert(id.to_string(), record);
        }
        if let Some(last) = txns.last() {
            (s.head, s.head_stamp, s.seen) = (last.seq, stamp, stamp);
            s.seconds.entry(stamp / 1000).or_insert(txns[0].seq);
        }
        s.txns.extend(txns.into_iter().map(|t| (t.seq, t)));
        Ok(Appended {
            applied,
            head: s.head,
        })
    }

    /// One compaction step (see the module docs).
    pub(super) fn step(
        &self,
        s: &mut State,
        policy: &Retention,
        now_ms: u64,
        from: u64,
        budget: usize,
        report: &mut CompactReport,
    ) -> Option<u64> {
        let head = s.head;
        let mut doomed = Vec::new();
        let (mut dropped, mut last, mut examined) = ((0, 0), from, 0);
        for t in s.txns.range(from + 1..=head).map(|(_, t)| t) {
            if examined >= budget {
                break;
            }
            (last, examined) = (t.seq, examined + 1);
            report.examined += 1;
            if t.seq == head {
                break;
            }
            let latest = match s.items.get(&t.id) {
                Some(Record::Live(state)) => state.seq,
                Some(Record::Tomb(seq)) => *seq,
                None => 0,
            };
            let examined = Examined {
                seq: t.seq,
                stamp: t.stamp,
                born: t.born,
                delete: t.action == Action::Delete,
                latest,
            };
            match policy.verdict(examined, head, now_ms) {
                Verdict::Keep => {}
                Verdict::Superseded => {
                    doomed.push((t.seq, None));
                    report.removed += 1;
                }
                Verdict::Tombstone => {
                    doomed.push((t.seq, (latest == t.seq).then(|| t.id.clone())));
                    if t.born > 0 && t.born < t.seq && s.txns.contains_key(&t.born) {
                        doomed.push((t.born, None));
                        report.removed += 1;
                    }
                    dropped = (t.seq, t.stamp);
                    report.tombstones_dropped += 1;
                }
            }
        }
        if dropped.0 > s.dropped {
            (s.dropped, s.dropped_stamp) = dropped;
        }
        if !doomed.is_empty() {
            s.compactions += 2;
        }
        for (seq, tomb_of) in doomed {
            s.txns.remove(&seq);
            if let Some(id) = tomb_of {
                s.items.remove(&id);
            }
        }
        (last < head && last > from).then_some(last)
    }
}
