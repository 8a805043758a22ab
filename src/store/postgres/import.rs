//! Bulk import into an empty database (`feedgate migrate`): whole feeds
//! ([`FeedDump`]) and consumer records written as they are, epochs, seqs,
//! stamps and marks kept, in one transaction ([`Import`]): a failure leaves
//! the database as it was.
//!
//! The transaction first locks the feeds' table (`EXCLUSIVE`: readers go on,
//! a process starting meanwhile waits to create its rows) and refuses a
//! database that holds any feed, transaction, upstream state or consumer
//! record: an import never overwrites. Rows go in with multi-row `INSERT …
//! SELECT FROM unnest(…)`, a few thousand per statement. A feed's row
//! carries the dump's head, head stamp, live count and dropped mark;
//! `seen` starts at the import's instant (nothing wrote the source store
//! meanwhile, so every second before it is closed: the copy closes the
//! same seconds the source did), and the compaction generation at 0 (a
//! cache key, local to each process).

use super::view::db;
use super::{backend_error, parse_url, schema, StoreError};
use crate::model::Action;
use crate::store::dump::{FeedDump, ItemRecord};
use crate::store::ConsumerRecord;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

/// Rows per `INSERT` statement.
const ROWS: usize = 5000;

/// What a non-empty database holds (the refusal's message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Occupied {
    pub feeds: Vec<String>,
    pub consumers: u64,
}

/// A connection to the target database, for one import.
pub struct Import {
    client: Client,
    driver: JoinHandle<Result<(), tokio_postgres::Error>>,
}

impl Import {
    /// Connect to `url` and bring its schema up to date; returns the
    /// migrations applied.
    pub async fn connect(url: &str) -> Result<(Import, Vec<schema::Migration>), StoreError> {
        let config = parse_url(url).map_err(backend_error)?;
        let (mut client, conn) = config.connect(tokio_postgres::NoTls).await?;
        let driver = tokio::spawn(conn);
        let applied = schema::migrate(&mut client).await?;
        Ok((Import { client, driver }, applied))
    }

    /// Write `feeds`, `consumers` and the WebSub hub's records `hub` in
    /// one transaction, or nothing if the
    /// database is not empty (`Ok(Err(occupied))`). `now_ms`: the
    /// instant of the copy (the source store is not written meanwhile).
    pub async fn run(
        mut self,
        feeds: &[FeedDump],
        consumers: &[ConsumerRecord],
        hub: &[(String, Vec<u8>)],
        now_ms: u64,
    ) -> Result<Result<(), Occupied>, StoreError> {
        let tx = self.client.transaction().await?;
        tx.batch_execute("LOCK TABLE feedgate_feeds IN EXCLUSIVE MODE")
            .await?;
        let names: Vec<String> = tx
            .query("SELECT name FROM feedgate_feeds ORDER BY name", &[])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let row = tx
            .query_one(
                "SELECT (SELECT count(*) FROM feedgate_consumers), \
                        EXISTS (SELECT 1 FROM feedgate_txns), EXISTS (SELECT 1 FROM feedgate_items), \
                        EXISTS (SELECT 1 FROM feedgate_upstream)",
                &[],
            )
            .await?;
        let consumers_there: i64 = row.try_get(0)?;
        let rows_there = row.try_get::<_, bool>(1)? || row.try_get(2)? || row.try_get(3)?;
        if !names.is_empty() || consumers_there > 0 || rows_there {
            tx.rollback().await?;
            return Ok(Err(Occupied {
                feeds: names,
                consumers: u64::try_from(consumers_there).unwrap_or(0),
            }));
        }
        for dump in feeds {
            import_feed(&tx, dump, now_ms).await?;
        }
        for part in consumers.chunks(ROWS) {
            let feed: Vec<&str> = part.iter().map(|r| r.feed.as_str()).collect();
            let name: Vec<&str> = part.iter().map(|r| r.name.as_str()).collect();
            let epoch: Vec<&str> = part.iter().map(|r| r.epoch.as_str()).collect();
            let position: Vec<i64> = part.iter().map(|r| db(r.position)).collect();
            let polled: Vec<i64> = part.iter().map(|r| db(r.polled_ms)).collect();
            tx.execute(
                "INSERT INTO feedgate_consumers (feed, name, epoch, position, polled) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])",
                &[&feed, &name, &epoch, &position, &polled],
            )
            .await?;
        }
        for (key, record) in hub {
            tx.execute(
                "INSERT INTO feedgate_websub (key, record) VALUES ($1, $2)",
                &[key, record],
            )
            .await?;
        }
        tx.commit().await?;
        drop(self.client);
        let _ = self.driver.await;
        Ok(Ok(()))
    }
}

fn json(feed: &str, p: &crate::model::Payload) -> Result<String, StoreError> {
    serde_json::to_string(p).map_err(|e| StoreError::Corrupt {
        feed: feed.to_string(),
        what: e.to_string(),
    })
}

/// Write one feed: its row, then its transactions, items, seconds and
/// upstream state.
async fn import_feed(
    tx: &tokio_postgres::Transaction<'_>,
    d: &FeedDump,
    now_ms: u64,
) -> Result<(), StoreError> {
    let row = tx
        .query_one(
            "INSERT INTO feedgate_feeds (name, epoch, created, head, head_stamp, second_first, \
                 live, seen, dropped, dropped_stamp) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $10, $8, $9) RETURNING id",
            &[
                &d.name,
                &d.epoch,
                &db(d.created),
                &db(d.head.seq),
                &db(d.head.stamp),
                &db(d.head_second_first()),
                &db(d.head.live),
                &db(d.dropped),
                &db(d.dropped_stamp),
                &db(now_ms.max(d.head.stamp)),
            ],
        )
        .await?;
    let id: i32 = row.try_get(0)?;
    for part in d.txns.chunks(ROWS) {
        let seq: Vec<i64> = part.iter().map(|t| db(t.seq)).collect();
        let item: Vec<&str> = part.iter().map(|t| t.id.as_str()).collect();
        let action: Vec<i16> = part
            .iter()
            .map(|t| super::log::action_code(t.action))
            .collect();
        let stamp: Vec<i64> = part.iter().map(|t| db(t.stamp)).collect();
        let born: Vec<i64> = part.iter().map(|t| db(t.born)).collect();
        let mut payload: Vec<Option<String>> = Vec::with_capacity(part.len());
        for t in part {
            match (&t.payload, t.action) {
                (None, Action::Delete) => payload.push(None),
                (Some(p), Action::Add | Action::Update) => payload.push(Some(json(&d.name, p)?)),
                _ => {
                    return Err(StoreError::Corrupt {
                        feed: d.name.clone(),
                        what: format!(
                            "transaction {} has a payload that does not match its action",
                            t.seq
                        ),
                    })
                }
            }
        }
        tx.execute(
            "INSERT INTO feedgate_txns (feed, seq, item, action, stamp, born, payload) \
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::smallint[], $5::bigint[], \
                 $6::bigint[], $7::text[])",
            &[&id, &seq, &item, &action, &stamp, &born, &payload],
        )
        .await?;
    }
    for part in d.items.chunks(ROWS) {
        let mut item = Vec::with_capacity(part.len());
        let (mut seq, mut stamp, mut born, mut payload) = (vec![], vec![], vec![], vec![]);
        for (name, record) in part {
            item.push(name.as_str());
            match record {
                ItemRecord::Live(s) => {
                    seq.push(db(s.seq));
                    stamp.push(db(s.stamp));
                    born.push(db(s.born));
                    payload.push(Some(json(&d.name, &s.payload)?));
                }
                ItemRecord::Tomb {
                    seq: at,
                    stamp: st,
                    born: b,
                } => {
                    seq.push(db(*at));
                    stamp.push(db(*st));
                    born.push(db(*b));
                    payload.push(None);
                }
            }
        }
        tx.execute(
            "INSERT INTO feedgate_items (feed, item, seq, stamp, born, payload) \
             SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[])",
            &[&id, &item, &seq, &stamp, &born, &payload],
        )
        .await?;
    }
    for part in d.seconds.chunks(ROWS) {
        let second: Vec<i64> = part.iter().map(|(s, _)| db(*s)).collect();
        let first: Vec<i64> = part.iter().map(|(_, f)| db(*f)).collect();
        tx.execute(
            "INSERT INTO feedgate_seconds (feed, second, first_seq) \
             SELECT $1, * FROM unnest($2::bigint[], $3::bigint[])",
            &[&id, &second, &first],
        )
        .await?;
    }
    if let Some(state) = &d.upstream {
        tx.execute(
            "INSERT INTO feedgate_upstream (feed, state) VALUES ($1, $2)",
            &[&id, state],
        )
        .await?;
    }
    Ok(())
}
