//! A sled store copied into PostgreSQL answers exactly as before: the same
//! transactions, items, tombstones, marks, seconds index, upstream state
//! and consumer records, and the same plan for every cursor.

use super::{migrate, MigrateError};
use crate::clock::{Clock, ManualClock};
use crate::cursor::Cursor;
use crate::model::Payload;
use crate::protocol::{plan, Limits};
use crate::store::conformance::{del, put};
use crate::store::embedded::Embedded;
use crate::store::postgres::{testing, Postgres};
use crate::store::{Backend, ConsumerRecord, Log, Op, Retention};
use std::sync::Arc;
use std::time::Duration;

const T0: u64 = 1_700_000_000_000;

fn feeds() -> Vec<String> {
    vec!["big".into(), "news".into(), "quiet".into()]
}

/// A store with history: updates, deletes and re-adds over many seconds,
/// a value too large for one sled value, compaction that removed
/// superseded states and dropped tombstones, writes after it, an upstream
/// state and consumer records.
async fn source(clock: &Arc<ManualClock>) -> Embedded {
    let store = Embedded::temporary(&feeds(), clock.clone()).unwrap();
    let news = store.feed("news").unwrap();
    for i in 0..60u64 {
        clock.advance(350);
        let id = format!("k{}", i % 7);
        let op = if i % 5 == 4 {
            del(&id)
        } else {
            put(&id, &format!("v{i}"))
        };
        // (A delete of an item already deleted is refused: skip it.)
        let _ = news.append(&[op]).await;
    }
    news.append(&[put("a", "1"), put("b", "2"), del("a")])
        .await
        .unwrap();
    let policy = Retention {
        keep_latest: Some(8),
        tombstones: Some(Duration::from_secs(3600)),
        compact_after: None,
    };
    clock.advance(2 * 3_600_000);
    let report = crate::store::compact(news.as_ref(), &policy, clock.now_ms())
        .await
        .unwrap();
    assert!(
        report.removed > 0 && report.tombstones_dropped > 0,
        "{report:?}"
    );
    for i in 0..5 {
        clock.advance(400);
        let mut ops = vec![put(&format!("late{i}"), "x")];
        if i == 2 {
            ops.push(del("b"));
        }
        news.append(&ops).await.unwrap();
    }
    news.append(&[del("late0")]).await.unwrap();

    let big = store.feed("big").unwrap();
    let content = "x".repeat(100 * 1024);
    let large = Op::Put {
        id: "large".into(),
        payload: Payload {
            title: Some("large".into()),
            content: Some(content),
            ..Payload::default()
        },
    };
    big.append(&[large, put("small", "s")]).await.unwrap();
    big.set_upstream_state(b"{\"etag\":\"w/1\"}").await.unwrap();
    store
        .save_hub_record("news http://s/cb", Some(b"{}"))
        .await
        .unwrap();
    store
        .save_consumer_records(
            &[ConsumerRecord {
                feed: "news".into(),
                name: "reader".into(),
                epoch: news.epoch().into(),
                position: 12,
                polled_ms: T0 + 5,
            }],
            &[],
        )
        .await
        .unwrap();
    store
}

/// Everything a consumer or the store's users can observe of `a` and `b`'s
/// feed `name`, compared.
async fn same_feed(a: &dyn Log, b: &dyn Log, now: u64) {
    let name = a.name();
    assert_eq!(a.epoch(), b.epoch(), "{name}");
    assert_eq!(a.created_ms(), b.created_ms(), "{name}");
    assert_eq!(a.published(), b.published(), "{name}");
    assert_eq!(
        (a.dropped(), a.dropped_stamp()),
        (b.dropped(), b.dropped_stamp()),
        "{name}"
    );
    let head = a.head();
    let (ta, tb) = (
        a.scan(0, head, usize::MAX, usize::MAX).await.unwrap(),
        b.scan(0, head, usize::MAX, usize::MAX).await.unwrap(),
    );
    assert_eq!(ta, tb, "{name}: the transactions");
    assert_eq!(a.items().await.unwrap(), b.items().await.unwrap(), "{name}");
    for t in &ta {
        assert_eq!(
            a.item(&t.id).await.unwrap(),
            b.item(&t.id).await.unwrap(),
            "{name} {}",
            t.id
        );
    }
    assert_eq!(
        a.upstream_state().await.unwrap(),
        b.upstream_state().await.unwrap()
    );
    let (first, last) = (a.created_ms() / 1000, now / 1000 + 1);
    for sec in first..=last {
        assert_eq!(
            a.first_seq_from_second(sec).await.unwrap(),
            b.first_seq_from_second(sec).await.unwrap(),
            "{name}: second {sec}"
        );
    }
    let limits = Limits {
        max_entries: 5,
        max_bytes: 64 * 1024,
        second_entries: 50,
        second_bytes: usize::MAX,
    };
    let mut cursors = vec![Cursor::Star, Cursor::CatchUp];
    cursors.extend((0..=head + 1).map(Cursor::Seq));
    cursors.extend((first.saturating_sub(1)..=last).map(Cursor::Date));
    for c in cursors {
        assert_eq!(
            plan(a, c, now, limits).await.unwrap(),
            plan(b, c, now, limits).await.unwrap(),
            "{name}: {c:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_store_answers_as_the_sled_store_did() {
    let Some(server) = testing::server() else {
        return;
    };
    let clock = Arc::new(ManualClock::new(T0));
    let from = source(&clock).await;
    let url = server.database().await;
    let now = clock.now_ms();
    let report = migrate(&from, &url, now).await.unwrap();
    assert_eq!(
        report.schema.len(),
        crate::store::postgres::MIGRATIONS.len()
    );
    assert_eq!(report.consumers, 1);
    let names: Vec<&str> = report.feeds.iter().map(|c| c.feed.as_str()).collect();
    assert_eq!(names, ["big", "news", "quiet"]);
    let news = report.feeds.iter().find(|c| c.feed == "news").unwrap();
    assert!(
        news.dropped > 0 && (news.txns as u64) < news.head,
        "{news:?}"
    );
    assert!(report.feeds[0].upstream);

    // Opened later by a server with another clock: nothing is created anew.
    let later: Arc<dyn Clock> = Arc::new(ManualClock::new(now + 1));
    let to = Postgres::open(&url, &feeds(), later).await.unwrap();
    for name in feeds() {
        let (a, b) = (from.feed(&name).unwrap(), to.feed(&name).unwrap());
        same_feed(a.as_ref(), b.as_ref(), now).await;
    }
    assert_eq!(
        from.consumer_records().await.unwrap(),
        to.consumer_records().await.unwrap()
    );
    assert_eq!(
        from.hub_records().await.unwrap(),
        to.hub_records().await.unwrap()
    );

    // The copy takes writes where the source left off.
    let (a, b) = (from.feed("news").unwrap(), to.feed("news").unwrap());
    clock.advance(1500);
    let ops = [put("after", "1"), del("k1")];
    let (ra, rb) = (a.append(&ops).await, b.append(&ops).await);
    assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_with_feeds_or_consumers_is_refused_untouched() {
    let Some(server) = testing::server() else {
        return;
    };
    let clock = Arc::new(ManualClock::new(T0));
    let from = source(&clock).await;

    // A feed row (a server opened the database once): refused.
    let url = server.database().await;
    let other = Postgres::open(&url, &["elsewhere".to_string()], clock.clone())
        .await
        .unwrap();
    let epoch = other.feed("elsewhere").unwrap().epoch().to_string();
    match migrate(&from, &url, clock.now_ms()).await {
        Err(MigrateError::NotEmpty(o)) => assert_eq!(o.feeds, ["elsewhere"]),
        other => panic!("{other:?}"),
    }
    drop(other);
    let again = Postgres::open(&url, &["elsewhere".to_string()], clock.clone())
        .await
        .unwrap();
    assert_eq!(again.feed("elsewhere").unwrap().epoch(), epoch);
    assert_eq!(again.feed("elsewhere").unwrap().head(), 0);

    // A migrated database: refused.
    let url = server.database().await;
    migrate(&from, &url, clock.now_ms()).await.unwrap();
    match migrate(&from, &url, clock.now_ms()).await {
        Err(e @ MigrateError::NotEmpty(_)) => {
            let m = e.to_string();
            assert!(
                m.contains("feeds big, news, quiet") && m.contains("1 consumer records"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
}
