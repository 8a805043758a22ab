//! Appending to a feed's log: one transaction per append, serialised across
//! every process by the lock of the feed's row.
//!
//! The transaction locks the row (`FOR NO KEY UPDATE`) and reads the states
//! of the batch's items in the same round trip (the read is a later
//! statement, so under READ COMMITTED it sees every append committed before
//! the lock was granted). It decides the ops in order on top of each other
//! exactly as the in-memory backend does (`memory/write.rs`): seqs
//! `head + 1 ..`, one stamp `max(clock, head_stamp, seen)` for the batch,
//! `born` per incarnation, identical payloads append nothing (answering the
//! seq that set the state), a delete of an unknown item rejects the whole
//! batch (rolled back: nothing written). Then one statement writes the
//! transactions, the items' new states, the seconds index (when the batch
//! opens a second), the row and a `NOTIFY` carrying the row, and the append
//! commits. It is acknowledged after the commit, which is durable
//! (`synchronous_commit`), and takes the committed row into the view.
//!
//! Within one process a feed's appends take turns (a mutex), so at most one
//! of its pooled connections waits for the row lock and reads are not
//! starved of connections by queued writers.
//!
//! Commit order is seq order: the row lock is held until the commit, so the
//! next writer's seqs start after the last committed head, and a reader
//! that sees head `h` sees every seq up to `h`. A future dropped before the
//! commit rolls the transaction back; one dropped after it leaves a
//! committed, visible write, which the view learns from its `NOTIFY`.

use super::log::{action_code, PgLog};
use super::view::{db, num, Snapshot, COLUMNS};
use super::StoreError;
use crate::model::Action;
use crate::store::{Appended, Applied, Op, Outcome};
use std::collections::HashMap;
use tokio_postgres::types::ToSql;

/// An item's state before an op: stored, or left by an earlier op of the batch.
#[derive(Clone)]
struct Current<'a> {
    seq: u64,
    born: u64,
    /// The payload's JSON; `None`: the item does not exist (deleted).
    json: Option<&'a str>,
}

/// A transaction to write.
struct New<'a> {
    seq: u64,
    id: &'a str,
    action: Action,
    born: u64,
    json: Option<&'a str>,
}

/// What a batch does, decided on top of the stored states.
struct Decided<'a> {
    applied: Vec<Applied>,
    txns: Vec<New<'a>>,
    /// Each touched item's state after the batch (`json: None`: a tombstone).
    items: HashMap<&'a str, Current<'a>>,
    /// Live items gained (or lost, negative).
    live: i64,
}

/// The ops with their payloads as JSON (canonical: equal payloads, equal
/// text), so that deciding "unchanged" compares text.
fn encode(ops: &[Op]) -> Result<Vec<Encoded<'_>>, StoreError> {
    ops.iter()
        .map(|op| {
            let id = op.id();
            let json = match op.payload() {
                Some(p) => Some(
                    serde_json::to_string(p)
                        .map_err(|e| StoreError::Write(format!("item {id:?}: {e}")))?,
                ),
                None => None,
            };
            Ok((id, json, op.expects()))
        })
        .collect()
}

/// An op as `decide` takes it: id, JSON (`None`: a delete), the seq a
/// `Replace` expects.
type Encoded<'a> = (&'a str, Option<String>, Option<u64>);

/// Decide `ops` (`(id, JSON)`, `None` for a delete) in order after `head`.
fn decide<'a>(
    ops: &'a [Encoded<'a>],
    stored: &'a HashMap<String, Current<'a>>,
    head: u64,
) -> Result<Decided<'a>, StoreError> {
    let mut d = Decided {
        applied: Vec::with_capacity(ops.len()),
        txns: Vec::new(),
        items: HashMap::new(),
        live: 0,
    };
    for (id, json, expects) in ops {
        let id: &str = id;
        let current = d
            .items
            .get(id)
            .or_else(|| stored.get(id))
            .filter(|c| c.json.is_some())
            .cloned();
        if expects.is_some_and(|want| current.as_ref().map(|c| c.seq) != Some(want)) {
            return Err(StoreError::Conflict(id.to_string()));
        }
        let seq = head + d.txns.len() as u64 + 1;
        let (action, born) = match (json.as_deref(), &current) {
            (Some(j), Some(cur)) if cur.json == Some(j) => {
                d.applied.push(Applied {
                    id: id.to_string(),
                    outcome: Outcome::Unchanged,
                    seq: cur.seq,
                });
                continue;
            }
            (None, None) => return Err(StoreError::ItemNotFound(id.to_string())),
            (None, Some(cur)) => (Action::Delete, cur.born),
            (Some(_), Some(cur)) => (Action::Update, cur.born),
            (Some(_), None) => (Action::Add, seq),
        };
        let json = json.as_deref();
        d.txns.push(New {
            seq,
            id,
            action,
            born,
            json,
        });
        d.applied.push(Applied {
            id: id.to_string(),
            outcome: match action {
                Action::Add => Outcome::Add,
                Action::Update => Outcome::Update,
                Action::Delete => Outcome::Delete,
            },
            seq,
        });
        d.items.insert(id, Current { seq, born, json });
    }
    for (id, after) in &d.items {
        let before = stored.get(*id).is_some_and(|c| c.json.is_some());
        d.live += i64::from(after.json.is_some()) - i64::from(before);
    }
    Ok(d)
}

/// The states of the batch's items (read once the feed's row is locked).
const STATES: &str =
    "SELECT item, seq, born, payload FROM feedgate_items WHERE feed = $1 AND item = ANY($2)";

/// Write a decided batch: transactions, item states, the seconds index,
/// the feed's row, and the notification of the new row.
const WRITE: &str = "WITH t AS ( \
    INSERT INTO feedgate_txns (feed, seq, item, action, stamp, born, payload) \
    SELECT $1, u.seq, u.item, u.action, $2, u.born, u.payload \
    FROM unnest($3::bigint[], $4::text[], $5::smallint[], $6::bigint[], $7::text[]) \
        AS u(seq, item, action, born, payload) \
), i AS ( \
    INSERT INTO feedgate_items (feed, item, seq, stamp, born, payload) \
    SELECT $1, u.item, u.seq, $2, u.born, u.payload \
    FROM unnest($8::text[], $9::bigint[], $10::bigint[], $11::text[]) AS u(item, seq, born, payload) \
    ON CONFLICT (feed, item) DO UPDATE SET seq = excluded.seq, stamp = excluded.stamp, \
        born = excluded.born, payload = excluded.payload \
), s AS ( \
    INSERT INTO feedgate_seconds (feed, second, first_seq) SELECT $1, $12, $13 WHERE $14 \
    ON CONFLICT DO NOTHING \
) \
UPDATE feedgate_feeds SET head = $15, head_stamp = $2, second_first = $13, live = $16 \
WHERE id = $1 RETURNING pg_notify('feedgate', $17)";

impl PgLog {
    pub(super) async fn append_ops(&self, ops: &[Op]) -> Result<Appended, StoreError> {
        let ops = encode(ops)?;
        let mut ids: Vec<&str> = ops.iter().map(|(id, ..)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let _turn = self.writer.lock().await;
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        let lock = format!("SELECT {COLUMNS} FROM feedgate_feeds WHERE id = $1 FOR NO KEY UPDATE");
        let (lock, states) = (
            tx.prepare_cached(&lock).await?,
            tx.prepare_cached(STATES).await?,
        );
        // Sent together: the read runs once the lock is granted.
        let (lock_params, states_params): (&[&(dyn ToSql + Sync)], &[&(dyn ToSql + Sync)]) =
            (&[&self.id], &[&self.id, &ids]);
        let (row, rows) = tokio::try_join!(
            tx.query_opt(&lock, lock_params),
            tx.query(&states, states_params)
        )?;
        // The row as committed by the last writer (every field of it is
        // only written under this lock).
        let mut s = Snapshot::from_row(&row.ok_or_else(|| self.gone())?, 0)?;
        let (head, head_stamp, live) = (s.head, s.head_stamp, s.live);
        let mut stored = HashMap::with_capacity(rows.len());
        for r in &rows {
            let current = Current {
                seq: num(r.try_get(1)?),
                born: num(r.try_get(2)?),
                json: r.try_get(3)?,
            };
            stored.insert(r.try_get::<_, String>(0)?, current);
        }
        let d = decide(&ops, &stored, head)?;
        let Some(first) = d.txns.first() else {
            // Nothing to write; the row as read is committed.
            tx.rollback().await?;
            self.view.apply(&s);
            return Ok(Appended {
                applied: d.applied,
                head,
            });
        };
        let stamp = self.clock.now_ms().max(s.floor());
        let opens_second = head == 0 || stamp / 1000 != head_stamp / 1000;
        if opens_second {
            s.second_first = first.seq;
        }
        s.head = head + d.txns.len() as u64;
        s.head_stamp = stamp;
        s.live = num(db(live) + d.live);
        self.write(&tx, &d, stamp, opens_second, &s).await?;
        #[cfg(test)]
        drop(self.hold.read().await);
        tx.commit().await?;
        self.view.apply(&s);
        Ok(Appended {
            applied: d.applied,
            head: s.head,
        })
    }

    async fn write(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        d: &Decided<'_>,
        stamp: u64,
        opens_second: bool,
        s: &Snapshot,
    ) -> Result<(), StoreError> {
        let seqs: Vec<i64> = d.txns.iter().map(|t| db(t.seq)).collect();
        let ids: Vec<&str> = d.txns.iter().map(|t| t.id).collect();
        let actions: Vec<i16> = d.txns.iter().map(|t| action_code(t.action)).collect();
        let borns: Vec<i64> = d.txns.iter().map(|t| db(t.born)).collect();
        let jsons: Vec<Option<&str>> = d.txns.iter().map(|t| t.json).collect();
        let mut item_ids = Vec::with_capacity(d.items.len());
        let (mut item_seqs, mut item_borns, mut item_jsons) = (vec![], vec![], vec![]);
        for (id, c) in &d.items {
            item_ids.push(*id);
            item_seqs.push(db(c.seq));
            item_borns.push(db(c.born));
            item_jsons.push(c.json);
        }
        let stmt = tx.prepare_cached(WRITE).await?;
        let notice = s.notice(self.id);
        tx.query_one(
            &stmt,
            &[
                &self.id,
                &db(stamp),
                &seqs,
                &ids,
                &actions,
                &borns,
                &jsons,
                &item_ids,
                &item_seqs,
                &item_borns,
                &item_jsons,
                &db(stamp / 1000),
                &db(s.second_first),
                &opens_second,
                &db(s.head),
                &db(s.live),
                &notice,
            ],
        )
        .await?;
        Ok(())
    }
}
