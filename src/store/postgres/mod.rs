//! The PostgreSQL backend (`store = "postgres://…"`): every feed's log in
//! one database that any number of feedgate processes share, with the same
//! epochs, seqs and ETags on each (PROTOCOL §10). `tokio-postgres` through
//! a `deadpool-postgres` pool, without TLS (a local socket or a trusted
//! network; docs/decisions.md). The schema is created and migrated at
//! start (`schema.rs`).
//!
//! Tables (`schema.rs`): a row per feed (`feedgate_feeds`: epoch, creation,
//! head, head stamp, first seq of the head's second, live count, `seen`,
//! dropped mark, compaction generation), the transactions, the items'
//! current states and tombstones, the seconds index, upstream states and
//! consumer records.
//!
//! Across processes:
//! - **Seqs** are assigned under the lock of the feed's row, taken first in
//!   every append transaction (`append.rs`), from the head the row holds,
//!   and the row lock is held until the commit: seqs are gap-free and commit
//!   order is seq order, so a reader that sees head `h` sees every seq up to
//!   `h` (monotonic visibility). Never a `SEQUENCE`, whose values commit out
//!   of order. A batch is one transaction: all or nothing.
//! - **Stamps** are the writing process's clock, raised under the row lock
//!   to at least the head's stamp and the row's `seen`: they never go back,
//!   across processes and clocks.
//! - **The whole-second rule.** A response not selected by an ETag shows
//!   only seconds its [`Frontier`](crate::protocol::Frontier) has closed:
//!   every transaction stamped before `open_ms`, committed or in flight in
//!   any process, is at or below the head, and no later write is stamped
//!   earlier. A process knows such an instant from any committed version of
//!   the feed's row: `max(head_stamp, seen)` (`view.rs` has the argument:
//!   writers stamp at least that, under the lock, and commit before letting
//!   go). So a reader closes seconds only up to what its view has seen of
//!   the row, never up to its own clock alone; to close the current
//!   seconds of a feed that is read but not written, the process moves the
//!   row's `seen` forward with an `UPDATE` (which waits for an append in
//!   flight, so anything stamped before it is committed first) and reads
//!   the row back (`listen.rs`). A transaction stamped by process A and
//!   committed after process B answered a date cursor is therefore stamped
//!   in a second B had not closed: B's later responses still show it.
//! - **Heads** reach every process by `LISTEN`/`NOTIFY` (`listen.rs`): the
//!   synchronous calls readers make (head, frontier, dropped mark,
//!   compaction generation) answer from memory, so a 304 at the head costs
//!   no query. A position beyond a process's view (handed out by another)
//!   is re-read first ([`Log::head_at_least`](crate::store::Log)).
//! - **Epoch and creation** live in the feed's row, created by the first
//!   process that opens the feed: every process shows the same ETags.
//! - **Compaction** runs a step per transaction under the row lock, and the
//!   dropped mark commits with the removals (`compact.rs`): two processes
//!   compacting the same feed take turns step by step, and each step
//!   decides over what the row and the items hold under the lock, so a
//!   step after the other process's (or after appends) removes only what
//!   is still eligible.
//! - **Upstream syncs**: one process at a time syncs a feed, the one that
//!   holds the feed's advisory lock (`turn.rs`); the others serve the log.
//! - **Consumer records** keep the newest poll of each (feed, consumer),
//!   whichever process saves last; every process merges them into its
//!   reports ([`Backend::shared`]).

mod append;
mod compact;
mod connect;
mod feed;
mod import;
mod listen;
mod log;
mod schema;
mod turn;
mod view;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_shared;

pub use connect::{describe, parse_url};
pub use import::{Import, Occupied};
pub use log::PgLog;
pub use schema::{Migration, MIGRATIONS};

use super::{Backend, ConsumerRecord, LogRef, StoreError};
use crate::clock::Clock;
use async_trait::async_trait;
use connect::new_pool;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use view::{db, num};

type Pool = deadpool_postgres::Pool;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

pub(super) fn backend_error(message: String) -> StoreError {
    StoreError::Backend(message.into())
}

/// The migrations a start would apply to the database at `url` (empty: up
/// to date); changes nothing.
pub async fn pending_migrations(url: &str) -> Result<Vec<Migration>, StoreError> {
    let config = parse_url(url).map_err(backend_error)?;
    let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(conn);
    let pending = schema::pending_migrations(&client).await;
    drop(client);
    let _ = driver.await;
    pending
}

/// Apply the migrations pending on the database at `url` (as a start
/// does); returns those applied.
pub async fn migrate_schema(url: &str) -> Result<Vec<Migration>, StoreError> {
    let config = parse_url(url).map_err(backend_error)?;
    let (mut client, conn) = config.connect(tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(conn);
    let applied = schema::migrate(&mut client).await;
    drop(client);
    let _ = driver.await;
    applied
}

/// What the process's background tasks share with the store.
pub(super) struct Shared {
    pool: Pool,
    config: tokio_postgres::Config,
    clock: Arc<dyn Clock>,
    by_id: HashMap<i32, Arc<PgLog>>,
    /// Connections that hold turns (`turn.rs`).
    turns: deadpool_postgres::Pool,
    /// Wakes the refresher (`listen.rs`).
    wake: Arc<Notify>,
    /// Is the notification connection up?
    listening: AtomicBool,
}

/// The store in PostgreSQL: the configured feeds' logs, consumer records,
/// and this process's notification listener and refresher.
pub struct Postgres {
    shared: Arc<Shared>,
    feeds: BTreeMap<String, Arc<PgLog>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Postgres {
    /// Connect to the database at `url`, migrate its schema, open (or
    /// create) a log for each of `feeds`, and start listening for other
    /// processes' writes.
    pub async fn open(
        url: &str,
        feeds: &[String],
        clock: Arc<dyn Clock>,
    ) -> Result<Postgres, StoreError> {
        let mut config = parse_url(url).map_err(backend_error)?;
        if config.get_application_name().is_none() {
            config.application_name("feedgate");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let pool = new_pool(&config, None)?;
        // At most one turn per feed: a sync never waits for this pool.
        // (And one for the WebSub hub's turn.)
        let turns = new_pool(&config, Some(feeds.len() + 1))?;
        let mut conn = pool.get().await?;
        schema::migrate(&mut conn).await?;
        drop(conn);
        // Listening before the rows are read: nothing committed after the
        // read goes unnoticed.
        let listener = listen::listen(&config).await?;
        let wake = Arc::new(Notify::new());
        let mut by_name = BTreeMap::new();
        for name in feeds {
            let log = PgLog::open(&pool, &turns, name, clock.clone(), wake.clone()).await?;
            by_name.insert(name.clone(), Arc::new(log));
        }
        let shared = Arc::new(Shared {
            pool,
            turns,
            config,
            clock,
            by_id: by_name.values().map(|l| (l.id, l.clone())).collect(),
            wake,
            listening: AtomicBool::new(true),
        });
        let weak = Arc::downgrade(&shared);
        let tasks = vec![
            tokio::spawn(listen::run_listener(weak.clone(), listener)),
            tokio::spawn(listen::run_refresher(weak)),
        ];
        Ok(Postgres {
            shared,
            feeds: by_name,
            tasks,
        })
    }

    /// Is the notification connection up? (Otherwise heads are re-read
    /// every tick.)
    pub fn listening(&self) -> bool {
        self.shared
            .listening
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A feed's log as this backend has it (its own tests).
    #[cfg(test)]
    pub(super) fn log(&self, name: &str) -> &Arc<PgLog> {
        &self.feeds[name]
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[async_trait]
impl Backend for Postgres {
    fn feed(&self, name: &str) -> Option<LogRef> {
        self.feeds.get(name).map(|l| l.clone() as LogRef)
    }

    fn feeds(&self) -> Vec<LogRef> {
        self.feeds.values().map(|l| l.clone() as LogRef).collect()
    }

    async fn consumer_records(&self) -> Result<Vec<ConsumerRecord>, StoreError> {
        let conn = self.shared.pool.get().await?;
        let rows = conn
            .query(
                "SELECT feed, name, epoch, position, polled FROM feedgate_consumers \
                 ORDER BY feed, name",
                &[],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(ConsumerRecord {
                feed: r.try_get(0)?,
                name: r.try_get(1)?,
                epoch: r.try_get(2)?,
                position: num(r.try_get(3)?),
                polled_ms: num(r.try_get(4)?),
            });
        }
        Ok(out)
    }

    async fn save_consumer_records(
        &self,
        put: &[ConsumerRecord],
        remove: &[(String, String)],
    ) -> Result<(), StoreError> {
        // In key order, so that two processes saving the same records lock
        // their rows in the same order; the last put of a key wins here,
        // and a stored record is replaced only by a newer poll (another
        // process may have saved a later one).
        let mut remove: Vec<(&str, &str)> = remove
            .iter()
            .map(|(f, n)| (f.as_str(), n.as_str()))
            .collect();
        remove.sort_unstable();
        let put: BTreeMap<(&str, &str), &ConsumerRecord> = put
            .iter()
            .map(|r| ((r.feed.as_str(), r.name.as_str()), r))
            .collect();
        let mut conn = self.shared.pool.get().await?;
        let tx = conn.transaction().await?;
        if !remove.is_empty() {
            let (feeds, names): (Vec<&str>, Vec<&str>) = remove.into_iter().unzip();
            tx.execute(
                "DELETE FROM feedgate_consumers c USING unnest($1::text[], $2::text[]) AS u(feed, name) \
                 WHERE c.feed = u.feed AND c.name = u.name",
                &[&feeds, &names],
            )
            .await?;
        }
        if !put.is_empty() {
            let (mut feeds, mut names, mut epochs, mut positions, mut polled) =
                (vec![], vec![], vec![], vec![], vec![]);
            for r in put.values() {
                feeds.push(r.feed.as_str());
                names.push(r.name.as_str());
                epochs.push(r.epoch.as_str());
                positions.push(db(r.position));
                polled.push(db(r.polled_ms));
            }
            tx.execute(
                "INSERT INTO feedgate_consumers (feed, name, epoch, position, polled) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) \
                 ON CONFLICT (feed, name) DO UPDATE SET epoch = excluded.epoch, \
                     position = excluded.position, polled = excluded.polled \
                 WHERE excluded.polled > feedgate_consumers.polled",
                &[&feeds, &names, &epochs, &positions, &polled],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn hub_records(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let conn = self.shared.pool.get().await?;
        let rows = conn
            .query("SELECT key, record FROM feedgate_websub ORDER BY key", &[])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push((r.try_get(0)?, r.try_get(1)?));
        }
        Ok(out)
    }

    async fn save_hub_record(&self, key: &str, record: Option<&[u8]>) -> Result<(), StoreError> {
        let conn = self.shared.pool.get().await?;
        match record {
            Some(r) => {
                conn.execute(
                    "INSERT INTO feedgate_websub (key, record) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET record = excluded.record",
                    &[&key, &r],
                )
                .await?
            }
            None => {
                conn.execute("DELETE FROM feedgate_websub WHERE key = $1", &[&key])
                    .await?
            }
        };
        Ok(())
    }

    fn shared(&self) -> bool {
        true
    }

    async fn hub_turn(&self) -> Result<Option<crate::store::SyncTurn>, StoreError> {
        turn::take_hub_turn(&self.shared.turns).await
    }

    async fn size_on_disk(&self) -> Result<u64, StoreError> {
        let conn = self.shared.pool.get().await?;
        let tables: Vec<&str> = schema::TABLES.to_vec();
        let row = conn
            .query_one(
                "SELECT COALESCE(sum(pg_total_relation_size(to_regclass(t))), 0)::bigint \
                 FROM unnest($1::text[]) AS t",
                &[&tables],
            )
            .await?;
        Ok(num(row.try_get(0)?))
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        let conn = self.shared.pool.get().await?;
        let row = conn
            .query_one(
                "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'",
                &[],
            )
            .await?;
        if row.try_get(0)? {
            return Err(StoreError::Write(
                "the database is read-only (a standby, or default_transaction_read_only)"
                    .to_string(),
            ));
        }
        Ok(())
    }

    /// The notification connection: `listening`, or `reconnecting` while
    /// heads are re-read every tick instead (`listen.rs` logs both turns).
    fn health(&self) -> Vec<(&'static str, String)> {
        let state = if self.listening() {
            "listening"
        } else {
            "reconnecting"
        };
        vec![("notifications", state.to_string())]
    }

    /// Nothing to do: every write is acknowledged after its commit.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
