//! The PostgreSQL schema and its migrations: a numbered list applied in
//! order at start ([`migrate`]), the applied version in `feedgate_schema`,
//! and [`pending_migrations`], which says what a start would do without
//! doing it.
//!
//! Migrating is idempotent and safe with several processes starting at
//! once: one transaction takes a transaction-level advisory lock first, then
//! reads the version and applies what is missing, so the others wait and
//! find nothing left to do. A database whose version is newer than this
//! build knows is refused.
//!
//! Every table is named `feedgate_…`, so the store can live beside other
//! tables in an existing database. Ids and names are `COLLATE "C"` (byte
//! order, as Rust orders strings). Seqs and stamps (ms) are `bigint`.

use super::{backend_error, StoreError};
use tokio_postgres::{Client, GenericClient};

/// One step of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The schema version once applied (1, 2, …).
    pub version: i32,
    pub description: &'static str,
    sql: &'static str,
}

/// The advisory lock key migrations hold: "feedgate" as ASCII, truncated.
const LOCK_KEY: i64 = 0x6665_6564_6761_7465;

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description:
            "feeds, transactions, item states, the seconds index, upstream states, consumer records",
        sql: V1,
    },
    Migration {
        version: 2,
        description: "WebSub subscriptions",
        sql: V2,
    },
];

/// The tables, for `size_on_disk`.
pub(super) const TABLES: &[&str] = &[
    "feedgate_schema",
    "feedgate_feeds",
    "feedgate_txns",
    "feedgate_items",
    "feedgate_seconds",
    "feedgate_upstream",
    "feedgate_consumers",
    "feedgate_websub",
];

/// Version 1. A feed's row holds everything readers cache (`view.rs`): its
/// head, the head's stamp, the first seq of the head's second, the live
/// item count, `seen` (the latest instant a reader closed the seconds
/// before: no later stamp is below it), the dropped mark and the
/// compaction generation. `feedgate_items.payload` is NULL for a
/// tombstone (the item's delete at `seq`). No foreign keys: every row of a
/// feed is written under the lock of the feed's row, and a check per
/// inserted row would cost every append.
const V1: &str = r#"
CREATE TABLE feedgate_feeds (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text COLLATE "C" NOT NULL UNIQUE,
    epoch text NOT NULL,
    created bigint NOT NULL,
    head bigint NOT NULL DEFAULT 0,
    head_stamp bigint NOT NULL,
    second_first bigint NOT NULL DEFAULT 0,
    live bigint NOT NULL DEFAULT 0,
    seen bigint NOT NULL DEFAULT 0,
    dropped bigint NOT NULL DEFAULT 0,
    dropped_stamp bigint NOT NULL DEFAULT 0,
    compactions bigint NOT NULL DEFAULT 0
);
CREATE TABLE feedgate_txns (
    feed integer NOT NULL,
    seq bigint NOT NULL,
    item text COLLATE "C" NOT NULL,
    action smallint NOT NULL,
    stamp bigint NOT NULL,
    born bigint NOT NULL,
    payload text,
    PRIMARY KEY (feed, seq)
);
CREATE TABLE feedgate_items (
    feed integer NOT NULL,
    item text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    stamp bigint NOT NULL,
    born bigint NOT NULL,
    payload text,
    PRIMARY KEY (feed, item)
);
CREATE TABLE feedgate_seconds (
    feed integer NOT NULL,
    second bigint NOT NULL,
    first_seq bigint NOT NULL,
    PRIMARY KEY (feed, second)
);
CREATE TABLE feedgate_upstream (
    feed integer PRIMARY KEY,
    state bytea NOT NULL
);
CREATE TABLE feedgate_consumers (
    feed text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    epoch text NOT NULL,
    position bigint NOT NULL,
    polled bigint NOT NULL,
    PRIMARY KEY (feed, name)
);
"#;

/// Version 2: the WebSub hub's subscriptions, opaque records by key
/// (`crate::websub` owns their format).
const V2: &str = r#"
CREATE TABLE feedgate_websub (
    key text COLLATE "C" PRIMARY KEY,
    record bytea NOT NULL
);
"#;

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS feedgate_schema (version integer NOT NULL)";

/// The schema version of the database (0: none yet).
async fn version(client: &impl GenericClient) -> Result<i32, StoreError> {
    let exists = client
        .query_one("SELECT to_regclass('feedgate_schema') IS NOT NULL", &[])
        .await?;
    if !exists.get::<_, bool>(0) {
        return Ok(0);
    }
    let row = client
        .query_one("SELECT COALESCE(max(version), 0) FROM feedgate_schema", &[])
        .await?;
    let v: i32 = row.get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if v > known {
        return Err(backend_error(format!(
            "the database's feedgate schema is version {v}, newer than this feedgate's {known}: \
             run a newer feedgate"
        )));
    }
    Ok(v)
}

/// The migrations a start would apply to the database `client` is
/// connected to, in order (empty: up to date). Changes nothing.
pub async fn pending_migrations(client: &Client) -> Result<Vec<Migration>, StoreError> {
    let v = version(client).await?;
    Ok(MIGRATIONS
        .iter()
        .filter(|m| m.version > v)
        .copied()
        .collect())
}

/// Apply the pending migrations in one transaction; returns those applied.
pub async fn migrate(client: &mut Client) -> Result<Vec<Migration>, StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    tx.batch_execute(VERSION_TABLE).await?;
    let v = version(&tx).await?;
    let pending: Vec<Migration> = MIGRATIONS
        .iter()
        .filter(|m| m.version > v)
        .copied()
        .collect();
    for m in &pending {
        tx.batch_execute(m.sql).await?;
        tx.execute(
            "INSERT INTO feedgate_schema (version) VALUES ($1)",
            &[&m.version],
        )
        .await?;
        tracing::info!(
            version = m.version,
            what = m.description,
            "migrated the database"
        );
    }
    tx.commit().await?;
    Ok(pending)
}
