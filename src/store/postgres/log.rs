//! One feed's log in PostgreSQL: opening its row (epoch, creation), and
//! the read side: range scans and the seconds index ([`LogView`]), item
//! states, the upstream state. Appending is in `append.rs`, compaction in
//! `compact.rs`, the cached row readers' synchronous calls answer from in
//! `view.rs`.
//!
//! Reads that return a page's rows or an item's state return the feed's
//! row beside them, from the same statement (so the same snapshot), and
//! feed it to the view: a page read after a compaction step in another
//! process sees the dropped mark that step raised (`protocol` checks the
//! mark again after reading a page), and an item's seq is never beyond the
//! head this process shows.

use super::view::{db, num, Snapshot, View, COLUMNS};
use super::{backend_error, Pool, StoreError};
use crate::clock::Clock;
use crate::model::{Action, Payload, Txn};
use crate::store::ItemState;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_postgres::Row;

/// A feed's log in the database.
pub struct PgLog {
    pub(super) id: i32,
    pub(super) name: String,
    pub(super) epoch: String,
    pub(super) created: u64,
    pub(super) pool: Pool,
    /// Connections that hold upstream sync turns (`turn.rs`), apart from
    /// `pool` so that syncs holding turns never starve their own queries.
    pub(super) turns: Pool,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) view: View,
    /// Wakes the process's refresher (`listen.rs`) when a reader wants a
    /// later second closed.
    pub(super) wake: Arc<Notify>,
    /// This process's turn to take the feed's row lock (appends and
    /// compaction steps): one of its connections at most waits for the
    /// lock, the others stay free for reads.
    pub(super) writer: tokio::sync::Mutex<()>,
    /// Tests hold this to keep appends between their stamp and their
    /// commit (each append waits for a read guard just before committing).
    #[cfg(test)]
    pub(super) hold: tokio::sync::RwLock<()>,
}

/// An action as stored.
pub(super) fn action_code(a: Action) -> i16 {
    match a {
        Action::Add => 1,
        Action::Update => 2,
        Action::Delete => 3,
    }
}

impl PgLog {
    /// Open the feed `name`, creating its row (epoch, creation stamp) if no
    /// process has yet: every process then reads the same epoch.
    pub(super) async fn open(
        pool: &Pool,
        turns: &Pool,
        name: &str,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
    ) -> Result<PgLog, StoreError> {
        let conn = pool.get().await?;
        let now = db(clock.now_ms());
        let epoch = crate::store::new_epoch();
        let created = conn
            .execute(
                "INSERT INTO feedgate_feeds (name, epoch, created, head_stamp) \
                 VALUES ($1, $2, $3, $3) ON CONFLICT (name) DO NOTHING",
                &[&name, &epoch, &now],
            )
            .await?;
        if created == 1 {
            tracing::info!(feed = name, %epoch, "created feed log");
        }
        let sql =
            format!("SELECT id, epoch, created, {COLUMNS} FROM feedgate_feeds WHERE name = $1");
        let row = conn.query_one(&sql, &[&name]).await?;
        let log = PgLog {
            id: row.try_get(0)?,
            name: name.to_string(),
            epoch: row.try_get(1)?,
            created: num(row.try_get(2)?),
            pool: pool.clone(),
            turns: turns.clone(),
            clock,
            view: View::default(),
            wake,
            writer: tokio::sync::Mutex::new(()),
            #[cfg(test)]
            hold: tokio::sync::RwLock::new(()),
        };
        log.view.apply(&Snapshot::from_row(&row, 3)?);
        Ok(log)
    }

    pub(super) fn corrupt(&self, what: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            feed: self.name.clone(),
            what: what.to_string(),
        }
    }

    fn payload(&self, json: &str) -> Result<Payload, StoreError> {
        serde_json::from_str(json).map_err(|e| self.corrupt(format!("stored payload: {e}")))
    }

    /// A transaction in `row`'s columns `at..at + 6`: seq, item, action,
    /// stamp, born, payload.
    fn txn(&self, row: &Row, at: usize) -> Result<Txn, StoreError> {
        let action = match row.try_get::<_, i16>(at + 2)? {
            1 => Action::Add,
            2 => Action::Update,
            3 => Action::Delete,
            other => return Err(self.corrupt(format!("action {other}"))),
        };
        let payload: Option<&str> = row.try_get(at + 5)?;
        Ok(Txn {
            seq: num(row.try_get(at)?),
            id: row.try_get(at + 1)?,
            action,
            stamp: num(row.try_get(at + 3)?),
            born: num(row.try_get(at + 4)?),
            payload: payload.map(|p| self.payload(p)).transpose()?,
        })
    }

    /// Transactions `after < seq <= upto`, at most `max` and about
    /// `max_bytes` (at least one), with the feed's row read beside them.
    pub(super) async fn scan_rows(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, StoreError> {
        let conn = self.pool.get().await?;
        let sql = format!(
            "SELECT {COLUMNS}, t.seq, t.item, t.action, t.stamp, t.born, t.payload \
             FROM feedgate_feeds f LEFT JOIN LATERAL ( \
                 SELECT seq, item, action, stamp, born, payload FROM feedgate_txns \
                 WHERE feed = f.id AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4 \
             ) t ON true WHERE f.id = $1"
        );
        let stmt = conn.prepare_cached(&sql).await?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = conn
            .query(&stmt, &[&self.id, &db(after), &db(upto), &limit])
            .await?;
        let first = rows.first().ok_or_else(|| self.gone())?;
        self.view.apply(&Snapshot::from_row(first, 0)?);
        let mut out = Vec::with_capacity(rows.len());
        let mut bytes = 0usize;
        for row in &rows {
            if row.try_get::<_, Option<i64>>(8)?.is_none() {
                break; // no transaction in the range
            }
            if out.len() >= max || (!out.is_empty() && bytes >= max_bytes) {
                break;
            }
            let t = self.txn(row, 8)?;
            // About its stored size: the id, the payload's JSON, the numbers.
            let json: Option<&str> = row.try_get(13)?;
            bytes += t.id.len() + json.map_or(0, str::len) + 32;
            out.push(t);
        }
        Ok(out)
    }

    pub(super) async fn first_seq_at(&self, sec: u64) -> Result<Option<u64>, StoreError> {
        if let Some(known) = self.view.first_seq_from_second(sec) {
            return Ok(known);
        }
        let conn = self.pool.get().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT first_seq FROM feedgate_seconds WHERE feed = $1 AND second >= $2 \
                 ORDER BY second LIMIT 1",
            )
            .await?;
        let row = conn.query_opt(&stmt, &[&self.id, &db(sec)]).await?;
        Ok(row.map(|r| r.try_get::<_, i64>(0)).transpose()?.map(num))
    }

    /// The feed's row as committed now, taken into the view.
    pub(super) async fn reread(&self) -> Result<Snapshot, StoreError> {
        let conn = self.pool.get().await?;
        let sql = format!("SELECT {COLUMNS} FROM feedgate_feeds WHERE id = $1");
        let stmt = conn.prepare_cached(&sql).await?;
        let row = conn.query_one(&stmt, &[&self.id]).await?;
        let s = Snapshot::from_row(&row, 0)?;
        self.view.apply(&s);
        Ok(s)
    }

    pub(super) async fn item_state(&self, id: &str) -> Result<Option<ItemState>, StoreError> {
        let conn = self.pool.get().await?;
        let sql = format!(
            "SELECT {COLUMNS}, i.seq, i.stamp, i.born, i.payload FROM feedgate_feeds f \
             LEFT JOIN feedgate_items i ON i.feed = f.id AND i.item = $2 WHERE f.id = $1"
        );
        let stmt = conn.prepare_cached(&sql).await?;
        let row = conn.query_one(&stmt, &[&self.id, &id]).await?;
        self.view.apply(&Snapshot::from_row(&row, 0)?);
        let Some(payload) = row.try_get::<_, Option<&str>>(11)? else {
            return Ok(None); // unknown, or a tombstone
        };
        Ok(Some(ItemState {
            seq: num(row.try_get(8)?),
            stamp: num(row.try_get(9)?),
            born: num(row.try_get(10)?),
            payload: self.payload(payload)?,
        }))
    }

    pub(super) async fn item_states(&self) -> Result<Vec<(String, ItemState)>, StoreError> {
        let conn = self.pool.get().await?;
        let rows = conn
            .query(
                "SELECT item, seq, stamp, born, payload FROM feedgate_items \
                 WHERE feed = $1 AND payload IS NOT NULL ORDER BY item",
                &[&self.id],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let payload: &str = row.try_get(4)?;
            let state = ItemState {
                seq: num(row.try_get(1)?),
                stamp: num(row.try_get(2)?),
                born: num(row.try_get(3)?),
                payload: self.payload(payload)?,
            };
            out.push((row.try_get(0)?, state));
        }
        Ok(out)
    }

    pub(super) async fn read_upstream(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = self.pool.get().await?;
        let row = conn
            .query_opt(
                "SELECT state FROM feedgate_upstream WHERE feed = $1",
                &[&self.id],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub(super) async fn write_upstream(&self, state: &[u8]) -> Result<(), StoreError> {
        let conn = self.pool.get().await?;
        conn.execute(
            "INSERT INTO feedgate_upstream (feed, state) VALUES ($1, $2) \
             ON CONFLICT (feed) DO UPDATE SET state = excluded.state",
            &[&self.id, &state],
        )
        .await?;
        Ok(())
    }

    /// A feed whose row vanished under us (dropped by hand).
    pub(super) fn gone(&self) -> StoreError {
        backend_error(format!(
            "feed {}: its row is gone from the database",
            self.name
        ))
    }
}
