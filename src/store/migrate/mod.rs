//! `feedgate migrate`: copy an embedded (sled) store into an empty
//! PostgreSQL database so that consumers notice nothing: every feed the
//! store holds, with its epoch, creation stamp, seqs, stamps, born seqs,
//! item states and tombstones, dropped mark, seconds index and upstream
//! state, and every consumer record ([`migrate`]). The same ETags, dates
//! and documents are answered from the copy.
//!
//! The store is read whole, one feed at a time, while nothing writes it
//! (sled's lock keeps a server off); the database is written in one
//! transaction that first checks it is empty (`postgres::Import`).

use super::embedded::Embedded;
use super::postgres::{Import, Migration, Occupied};
use super::{Backend, FeedDump, StoreError};

#[cfg(test)]
mod tests;

/// What was copied of one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub feed: String,
    pub epoch: String,
    pub head: u64,
    /// Transactions the log held (fewer than `head` after compaction).
    pub txns: usize,
    pub live: u64,
    pub tombstones: usize,
    pub dropped: u64,
    pub upstream: bool,
}

impl Copied {
    fn of(d: &FeedDump) -> Copied {
        Copied {
            feed: d.name.clone(),
            epoch: d.epoch.clone(),
            head: d.head.seq,
            txns: d.txns.len(),
            live: d.head.live,
            tombstones: d.tombstones(),
            dropped: d.dropped,
            upstream: d.upstream.is_some(),
        }
    }
}

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Schema migrations applied to the database first.
    pub schema: Vec<Migration>,
    pub feeds: Vec<Copied>,
    pub consumers: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database is not empty ({}{} consumer records): migrate copies into an empty \
         database only, and nothing was written",
        if .0.feeds.is_empty() { String::new() } else { format!("feeds {}, ", .0.feeds.join(", ")) },
        .0.consumers
    )]
    NotEmpty(Occupied),
    #[error("reading the embedded store: {0}")]
    From(StoreError),
    #[error("writing the database: {0}")]
    To(StoreError),
}

/// Copy every feed, consumer record and WebSub subscription of `from`
/// into the empty database
/// at `to` (its schema brought up to date first); `now_ms`: the instant
/// of the copy.
pub async fn migrate(
    from: &Embedded,
    to: &str,
    now_ms: u64,
) -> Result<MigrateReport, MigrateError> {
    let mut dumps = Vec::new();
    for name in from.feed_names() {
        if let Some(dump) = from.export_feed(&name).map_err(MigrateError::From)? {
            dumps.push(dump);
        }
    }
    let consumers = from.consumer_records().await.map_err(MigrateError::From)?;
    let hub = from.hub_records().await.map_err(MigrateError::From)?;
    let (import, schema) = Import::connect(to).await.map_err(MigrateError::To)?;
    import
        .run(&dumps, &consumers, &hub, now_ms)
        .await
        .map_err(MigrateError::To)?
        .map_err(MigrateError::NotEmpty)?;
    Ok(MigrateReport {
        schema,
        feeds: dumps.iter().map(Copied::of).collect(),
        consumers: consumers.len(),
    })
}
