//! Appending to a feed's log: group apply, then group commit.
//!
//! Each [`FeedLog::append`] queues its ops; whoever holds the feed's commit
//! lock takes everything queued so far (after yielding once, so that writers
//! ready to run can join) and applies it as **one** sled batch: sled writes
//! and syncs its log buffer twice per `apply_batch`, so a batch per writer
//! would cost concurrent single-item producers two disk writes each. Within
//! the group every append is still decided on its own, in queue order and on
//! top of the ones before it: a rejected append (a delete of an unknown
//! item) leaves no trace and does not affect the others, and the group's
//! batch is atomic, so each append's transactions are all applied or none.
//! The group's writes become durable through `Durability::sync` (one flush
//! for many writers), and only then is any of them acknowledged or visible;
//! the writer that applied the group publishes it, and if its request is
//! dropped first, a task does (`visibility.rs`): an applied write is never
//! left durable but hidden.
//!
//! Payloads are never copied on the way: transactions and states are
//! encoded (`codec.rs`) from references into the queued ops ([`TxnRef`]).
//! A group's transactions go into the feed's newest chunk while it has room
//! (rewriting it costs at most [`CHUNK_BYTES`]) and then into new chunks of
//! at most [`CHUNK_TXNS`] transactions and [`CHUNK_BYTES`], so lone writers
//! do not leave one key per transaction either.

use super::codec;
use super::keys::{chunk_key, item_key, second_key, LIVE};
use super::spill::{self, Spilled};
use super::visibility::Publish;
use super::writer::{Pending, Tail, Writer};
use super::{Appended, Applied, FeedLog, ItemState, Op, Outcome, Published, StoreError};
use super::{CHUNK_BYTES, CHUNK_TXNS};
use crate::model::{Action, Payload};
use crate::sync::lock;
use std::borrow::Cow;
use std::collections::HashMap;
use tokio::sync::oneshot;

/// A transaction to write, borrowing from the queued ops.
struct TxnRef<'a> {
    seq: u64,
    id: &'a str,
    action: Action,
    born: u64,
    payload: Option<&'a Payload>,
}

/// An item's state after an op of the group.
#[derive(Clone, Copy)]
struct Next<'a> {
    seq: u64,
    born: u64,
    payload: &'a Payload,
}

/// An item's state before an op: stored (decoded) or from an earlier op.
struct Current<'a> {
    seq: u64,
    born: u64,
    payload: Cow<'a, Payload>,
}

impl From<ItemState> for Current<'_> {
    fn from(s: ItemState) -> Self {
        Current {
            seq: s.seq,
            born: s.born,
            payload: Cow::Owned(s.payload),
        }
    }
}

impl<'a> From<Next<'a>> for Current<'a> {
    fn from(n: Next<'a>) -> Self {
        Current {
            seq: n.seq,
            born: n.born,
            payload: Cow::Borrowed(n.payload),
        }
    }
}

/// The changes of the appends decided so far: per item, its state now
/// (`None`: deleted); the transactions; the seq of each item's last delete;
/// the descriptors of the spilled records they replace (`spill.rs`).
#[derive(Default)]
struct Changes<'a> {
    items: HashMap<&'a str, Option<Next<'a>>>,
    txns: Vec<TxnRef<'a>>,
    tombs: HashMap<&'a str, u64>,
    spilled: HashMap<&'a str, Spilled>,
}

impl FeedLog {
    /// Apply `ops` atomically (all transactions or none) and return once they
    /// are durable and visible. A delete of an item that does not exist
    /// rejects the whole write with [`StoreError::ItemNotFound`], leaving no
    /// trace. Once the group holding the write is applied, it is made
    /// durable and visible even if this future is dropped ([`Publish`]).
    pub(super) async fn append(&self, ops: &[Op]) -> Result<Appended, StoreError> {
        if self.durability.failed() {
            return Err(StoreError::Failed);
        }
        let (pending, mut decided) = Pending::new(ops.to_vec());
        lock(&self.queue).push(pending);
        let mut publish = None;
        let applied = loop {
            match decided.try_recv() {
                Ok(d) => break d?,
                Err(oneshot::error::TryRecvError::Closed) => return Err(StoreError::Failed),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let _turn = self.commit.lock().await;
            match decided.try_recv() {
                Ok(d) => break d?,
                Err(oneshot::error::TryRecvError::Closed) => return Err(StoreError::Failed),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            // Let writers that are ready to run queue too, then apply them all.
            tokio::task::yield_now().await;
            let group = std::mem::take(&mut *lock(&self.queue));
            publish = self.apply_group(group);
        };
        if let Some(publish) = publish {
            // This writer makes its group visible, outside the commit turn
            // (or, if it is dropped meanwhile, the guard's own task does).
            publish.run().await?;
        }
        // An unchanged item points at the transaction that set its state:
        // that one must be visible too before the answer names it.
        let target = applied.iter().map(|a| a.seq).max().unwrap_or(0);
        let head = self.visibility.visible(target).await?;
        Ok(Appended { applied, head })
    }

    /// Decide every queued append in order, write the accepted ones as one
    /// batch, and answer each. Returns the duty to publish what was written.
    pub(super) fn apply_group(&self, group: Vec<Pending>) -> Option<Publish> {
        let mut w = lock(&self.writer);
        // Announce the group before reading the clock (`visibility.rs`).
        let floor = self.visibility.begin(w.last_stamp);
        let stamp = self.clock.now_ms().max(w.last_stamp).max(floor);
        let mut all = Changes::default();
        let mut live = w.live;
        let mut answers = Vec::with_capacity(group.len());
        for p in &group {
            if p.reply.is_closed() {
                // Its caller is gone (a dropped request): it was never acknowledged, apply nothing.
                answers.push(Err(StoreError::Failed));
                continue;
            }
            let mut mine = Changes::default();
            match self.decide(&p.ops, &w, &all, &mut mine, &mut live) {
                Ok(applied) => {
                    all.items.extend(mine.items);
                    all.txns.append(&mut mine.txns);
                    all.tombs.extend(mine.tombs);
                    all.spilled.extend(mine.spilled);
                    answers.push(Ok(applied));
                }
                Err(e) => answers.push(Err(e)),
            }
        }
        let written = match self.write(&mut w, stamp, live, &all) {
            Ok(written) => written,
            Err(e) => {
                self.visibility.abandon();
                // Nothing was applied: every append of the group fails.
                let what = e.to_string();
                for (p, answer) in group.into_iter().zip(answers) {
                    let err = match answer {
                        Ok(_) => StoreError::Write(what.clone()),
                        Err(e) => e,
                    };
                    let _ = p.reply.send(Err(err));
                }
                return None;
            }
        };
        let publish = match written {
            Some((gen, head)) => {
                self.visibility.written(head.seq, head.stamp);
                Some(Publish::new(self.visibility.clone(), gen, head))
            }
            None => {
                self.visibility.abandon();
                None
            }
        };
        for (p, answer) in group.into_iter().zip(answers) {
            let _ = p.reply.send(answer);
        }
        publish
    }

    /// Decide one append's ops on top of the group's changes so far (`all`),
    /// into `mine`; `live` is updated only if the append is accepted.
    fn decide<'a>(
        &self,
        ops: &'a [Op],
        w: &Writer,
        all: &Changes<'a>,
        mine: &mut Changes<'a>,
        live: &mut u64,
    ) -> Result<Vec<Applied>, StoreError> {
        let mut my_live = *live;
        let mut applied = Vec::with_capacity(ops.len());
        for op in ops {
            let id = op.id();
            let current = match mine.items.get(id).or_else(|| all.items.get(id)) {
                Some(next) => next.map(Current::from),
                None => {
                    let (state, spilled) = self.stored_state(id)?;
                    if let Some(s) = spilled {
                        mine.spilled.insert(id, s);
                    }
                    state.map(Current::from)
                }
            };
            if op
                .expects()
                .is_some_and(|want| current.as_ref().map(|c| c.seq) != Some(want))
            {
                return Err(StoreError::Conflict(id.to_string()));
            }
            let seq = w.head + (all.txns.len() + mine.txns.len()) as u64 + 1;
            let (outcome, born, next) = match (op.payload(), current) {
                (Some(payload), Some(cur)) if *cur.payload == *payload => {
                    applied.push(Applied {
                        id: id.to_string(),
                        outcome: Outcome::Unchanged,
                        seq: cur.seq,
                    });
                    continue;
                }
                (None, None) => return Err(StoreError::ItemNotFound(id.to_string())),
                (None, Some(cur)) => {
                    my_live -= 1;
                    mine.tombs.insert(id, seq);
                    (Outcome::Delete, cur.born, None)
                }
                (Some(payload), cur) => {
                    let (outcome, born) = match &cur {
                        Some(c) => (Outcome::Update, c.born),
                        None => (Outcome::Add, seq),
                    };
                    my_live += u64::from(cur.is_none());
                    (outcome, born, Some(Next { seq, born, payload }))
                }
            };
            let action = match outcome {
                Outcome::Add => Action::Add,
                Outcome::Update => Action::Update,
                _ => Action::Delete,
            };
            mine.txns.push(TxnRef {
                seq,
                id,
                action,
                born,
                payload: next.map(|n| n.payload),
            });
            applied.push(Applied {
                id: id.to_string(),
                outcome,
                seq,
            });
            mine.items.insert(id, next);
        }
        *live = my_live;
        Ok(applied)
    }

    /// Write the group's changes as one atomic batch and advance the writer.
    /// If anything was appended, returns the durability generation to wait
    /// for and the head to publish then.
    fn write(
        &self,
        w: &mut Writer,
        stamp: u64,
        live: u64,
        all: &Changes<'_>,
    ) -> Result<Option<(u64, Published)>, StoreError> {
        let Some(last) = all.txns.last() else {
            return Ok(None);
        };
        let last_seq = last.seq;
        let mut batch = sled::Batch::default();
        let mut spill = w.spill;
        let tail = self.chunks(w.tail.as_ref(), stamp, &all.txns, &mut batch, &mut spill);
        let mut record = Vec::new();
        for (id, state) in &all.items {
            record.clear();
            match state {
                Some(s) => codec::put_live(&mut record, s.seq, stamp, s.born, s.payload),
                None => {
                    let seq = all.tombs.get(id).copied().unwrap_or(last_seq);
                    record.extend_from_slice(&codec::tomb(seq));
                }
            }
            let old = all.spilled.get(id).copied();
            spill::put(&mut batch, &mut spill, &item_key(id), &record, old);
        }
        if w.head == 0 || stamp / 1000 > w.last_stamp / 1000 {
            batch.insert(&second_key(stamp / 1000), &(w.head + 1).to_be_bytes());
        }
        batch.insert(LIVE, &live.to_be_bytes());
        self.tree.apply_batch(batch)?;
        let gen = self.durability.mark_written();
        *w = Writer {
            head: last_seq,
            last_stamp: stamp,
            live,
            tail,
            spill,
        };
        let head = Published {
            seq: last_seq,
            stamp,
            live,
        };
        Ok(Some((gen, head)))
    }

    /// Put the group's transactions into chunks: into the newest one while it
    /// has room, then into new ones. Returns the newest chunk as written if
    /// it can take more. A chunk above `spill::INLINE_MAX` (a single large
    /// transaction) is stored in pieces under version `*spill`; none replaces
    /// a spilled one (a new chunk's key is a new seq, and the newest chunk is
    /// rewritten only while it is below `CHUNK_BYTES`, hence inline).
    fn chunks(
        &self,
        tail: Option<&Tail>,
        stamp: u64,
        txns: &[TxnRef<'_>],
        batch: &mut sled::Batch,
        spill: &mut u64,
    ) -> Option<Tail> {
        let mut chunk = match tail {
            Some(t) => Tail {
                key: t.key,
                bytes: t.bytes.clone(),
                count: t.count,
            },
            None => Tail {
                key: txns[0].seq,
                bytes: Vec::new(),
                count: 0,
            },
        };
        let mut entry = Vec::new();
        for t in txns {
            entry.clear();
            codec::put_entry(&mut entry, t.seq, stamp, t.born, t.action, t.id, t.payload);
            let full = chunk.count >= CHUNK_TXNS || chunk.bytes.len() + entry.len() > CHUNK_BYTES;
            if full && chunk.count > 0 {
                spill::put(batch, spill, &chunk_key(chunk.key), &chunk.bytes, None);
                chunk = Tail {
                    key: t.seq,
                    bytes: Vec::new(),
                    count: 0,
                };
            }
            chunk.bytes.extend_from_slice(&entry);
            chunk.count += 1;
        }
        spill::put(batch, spill, &chunk_key(chunk.key), &chunk.bytes, None);
        chunk.open().then_some(chunk)
    }
}
