//! A compaction step in PostgreSQL: the rules of the in-memory backend
//! (`memory/write.rs`, the compact reference; `embedded/compact.rs` has the
//! reasoning): per incarnation its `add` and its latest state stay, an
//! eligible superseded state goes, a tombstone older than its retention
//! (and not in the current second) goes with its incarnation's `add` and
//! raises the dropped mark, and the head is never removed.
//!
//! One step is one transaction under the lock of the feed's row, so appends
//! wait for at most one step and never interleave with it; readers do not
//! wait. The mark, the removals and the compaction generation commit
//! together, and page reads return the row beside their rows from one
//! snapshot (`log.rs`): a page that misses a dropped tombstone comes with
//! the mark that sends its consumer to a catch-up, in every process.

use super::log::PgLog;
use super::view::{db, num, Snapshot, COLUMNS};
use super::StoreError;
use crate::store::{CompactReport, Examined, Retention, Verdict};
use std::collections::{HashMap, HashSet};

/// The transactions a step examines, without payloads.
struct Row {
    seq: u64,
    id: String,
    delete: bool,
    stamp: u64,
    born: u64,
}

const REMOVE: &str = "WITH t AS ( \
    DELETE FROM feedgate_txns WHERE feed = $1 AND seq = ANY($2) \
), i AS ( \
    DELETE FROM feedgate_items WHERE feed = $1 AND item = ANY($3) AND payload IS NULL \
) \
UPDATE feedgate_feeds SET dropped = $4, dropped_stamp = $5, compactions = $6 WHERE id = $1 \
RETURNING pg_notify('feedgate', $7)";

impl PgLog {
    pub(super) async fn step(
        &self,
        policy: &Retention,
        now_ms: u64,
        from: u64,
        budget: usize,
        report: &mut CompactReport,
    ) -> Result<Option<u64>, StoreError> {
        let _turn = self.writer.lock().await;
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        let lock = format!("SELECT {COLUMNS} FROM feedgate_feeds WHERE id = $1 FOR NO KEY UPDATE");
        let row = tx.query_opt(&lock, &[&self.id]).await?;
        let mut s = Snapshot::from_row(&row.ok_or_else(|| self.gone())?, 0)?;
        let head = s.head;
        let limit = i64::try_from(budget).unwrap_or(i64::MAX);
        let rows = tx
            .query(
                "SELECT seq, item, action, stamp, born FROM feedgate_txns \
                 WHERE feed = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
                &[&self.id, &db(from), &db(head), &limit],
            )
            .await?;
        let mut txns = Vec::with_capacity(rows.len());
        for r in &rows {
            txns.push(Row {
                seq: num(r.try_get(0)?),
                id: r.try_get(1)?,
                delete: r.try_get::<_, i16>(2)? == 3,
                stamp: num(r.try_get(3)?),
                born: num(r.try_get(4)?),
            });
        }
        // Each examined item's latest transaction (its state's or its
        // tombstone's seq; 0: no record).
        let mut ids: Vec<&str> = txns.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let latest: HashMap<String, u64> = tx
            .query(
                "SELECT item, seq FROM feedgate_items WHERE feed = $1 AND item = ANY($2)",
                &[&self.id, &ids],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, num(r.try_get(1)?))))
            .collect::<Result<_, tokio_postgres::Error>>()?;

        let mut doomed = Vec::new();
        let mut tombs = Vec::new();
        let mut borns = Vec::new();
        let (mut dropped, mut last) = ((0, 0), from);
        for t in &txns {
            last = t.seq;
            report.examined += 1;
            if t.seq == head {
                break;
            }
            let latest = latest.get(&t.id).copied().unwrap_or(0);
            let examined = Examined {
                seq: t.seq,
                stamp: t.stamp,
                born: t.born,
                delete: t.delete,
                latest,
            };
            match policy.verdict(examined, head, now_ms) {
                Verdict::Keep => {}
                Verdict::Superseded => {
                    doomed.push(t.seq);
                    report.removed += 1;
                }
                Verdict::Tombstone => {
                    doomed.push(t.seq);
                    if latest == t.seq {
                        tombs.push(t.id.as_str());
                    }
                    if t.born > 0 && t.born < t.seq {
                        borns.push(db(t.born));
                    }
                    dropped = (t.seq, t.stamp);
                    report.tombstones_dropped += 1;
                }
            }
        }
        // The adds of the dropped tombstones' incarnations, where still stored.
        if !borns.is_empty() {
            let kept: HashSet<i64> = tx
                .query(
                    "SELECT seq FROM feedgate_txns WHERE feed = $1 AND seq = ANY($2)",
                    &[&self.id, &borns],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            for born in borns.into_iter().filter(|b| kept.contains(b)) {
                doomed.push(num(born));
                report.removed += 1;
            }
        }
        let raised = dropped.0 > s.dropped;
        if raised {
            (s.dropped, s.dropped_stamp) = dropped;
        }
        if !doomed.is_empty() {
            s.compactions += 2;
        }
        if raised || !doomed.is_empty() {
            let doomed: Vec<i64> = doomed.into_iter().map(db).collect();
            let notice = s.notice(self.id);
            tx.query_one(
                REMOVE,
                &[
                    &self.id,
                    &doomed,
                    &tombs,
                    &db(s.dropped),
                    &db(s.dropped_stamp),
                    &db(s.compactions),
                    &notice,
                ],
            )
            .await?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        self.view.apply(&s);
        Ok((last < head && last > from).then_some(last))
    }
}
