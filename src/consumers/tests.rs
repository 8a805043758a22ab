use super::*;
use crate::clock::{Clock, ManualClock};
use crate::model::Payload;
use crate::protocol::Page;
use crate::store::embedded::Embedded;
use crate::store::{Backend, ConsumerRecord, Op};
use std::sync::Arc;

fn put(id: &str) -> Op {
    Op::Put {
        id: id.into(),
        payload: Payload {
            title: Some(id.into()),
            ..Payload::default()
        },
    }
}

fn page(after: u64) -> Plan {
    Plan::Page(Page {
        after,
        last: after,
        last_stamp: None,
        last_modified: 0,
        more: false,
        entries: vec![],
    })
}

const T0: u64 = 1_700_000_000_000;

/// A store whose `news` log holds seqs 1..=3 stamped T0, T0+2s, T0+5s.
async fn store_with_three(dir: &std::path::Path) -> (Embedded, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Embedded::open(dir, &["news".into()], clock.clone()).unwrap();
    let log = store.feed("news").unwrap();
    let log = log.as_ref();
    for (id, at) in [("a", T0), ("b", T0 + 2_000), ("c", T0 + 5_000)] {
        clock.set(at);
        log.append(&[put(id)]).await.unwrap();
    }
    (store, clock)
}

/// The consumers' names, in the report's order.
fn names_of(rows: Vec<Report>) -> Vec<String> {
    rows.into_iter().map(|r| r.name).collect()
}

async fn consumers(store: &Embedded, cap: usize) -> Consumers {
    Consumers::open(store.consumer_records().await.unwrap(), &["news"], cap)
}

#[test]
fn names_come_from_the_credential_then_the_query_then_from() {
    let from = HeaderValue::from_static(" ops@example.org ");
    assert_eq!(identify(None, Some("app-1"), Some(&from)), Some("app-1"));
    assert_eq!(identify(None, None, Some(&from)), Some("ops@example.org"));
    assert_eq!(
        identify(None, Some(""), Some(&from)),
        Some("ops@example.org")
    );
    assert_eq!(identify(None, None, None), None);
    let long = "x".repeat(MAX_NAME_BYTES + 1);
    assert_eq!(identify(None, Some(&long), None), None);
    assert_eq!(identify(None, Some("a\u{7}b"), None), None);
    let exact = "x".repeat(MAX_NAME_BYTES);
    assert_eq!(identify(None, Some(&exact), None), Some(exact.as_str()));
}

#[tokio::test]
async fn positions_and_lag_sorted_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clock) = store_with_three(dir.path()).await;
    let log = store.feed("news").unwrap();
    let log = log.as_ref();
    let c = consumers(&store, DEFAULT_CAP).await;
    clock.set(T0 + 9_000);
    c.record(log, "zed", Cursor::Seq(1), &page(1), clock.now_ms());
    c.record(
        log,
        "amy",
        Cursor::Seq(3),
        &Plan::NotModified {
            position: 3,
            last_modified: 0,
        },
        T0 + 9_500,
    );
    c.record(log, "bob", Cursor::CatchUp, &page(0), T0 + 9_600);
    // `If-None-Match: *` holds no position: not recorded.
    c.record(
        log,
        "star",
        Cursor::Star,
        &Plan::NotModified {
            position: 3,
            last_modified: 0,
        },
        T0,
    );
    let r = c.report(log).await.unwrap();
    let rows: Vec<_> = r
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.position,
                r.lag_transactions,
                r.lag_ms,
                r.polled_ms,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("amy", 3, 0, 0, T0 + 9_500),
            // Position 0 is as old as the log (created at T0).
            ("bob", 0, 3, 5_000, T0 + 9_600),
            ("zed", 1, 2, 5_000, T0 + 9_000),
        ]
    );
    assert!(r.iter().all(|r| r.epoch == log.epoch()));
    // A later poll moves the position (also backwards: a replay after a crash).
    c.record(log, "zed", Cursor::Seq(2), &page(2), T0 + 10_000);
    let zed = c.report(log).await.unwrap().pop().unwrap();
    assert_eq!(
        (zed.position, zed.lag_transactions, zed.lag_ms),
        (2, 1, 3_000)
    );
}

#[tokio::test]
async fn records_survive_a_restart_and_a_foreign_epoch_lags_by_the_head() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, _) = store_with_three(dir.path()).await;
        let log = store.feed("news").unwrap();
        let log = log.as_ref();
        let c = consumers(&store, DEFAULT_CAP).await;
        c.record(log, "amy", Cursor::Seq(2), &page(2), T0 + 7_000);
        assert_eq!(c.persist(&store).await.unwrap(), 1);
        assert_eq!(c.persist(&store).await.unwrap(), 0, "nothing changed since");
        // A record made under an older incarnation of the log.
        let old = ConsumerRecord {
            feed: "news".into(),
            name: "old".into(),
            epoch: "0123456789abcdef".into(),
            position: 2,
            polled_ms: T0,
        };
        store.save_consumer_records(&[old], &[]).await.unwrap();
        store.flush().await.unwrap();
    }
    let store =
        Embedded::open(dir.path(), &["news".into()], Arc::new(ManualClock::new(T0))).unwrap();
    let log = store.feed("news").unwrap();
    let log = log.as_ref();
    let c = consumers(&store, DEFAULT_CAP).await;
    let r = c.report(log).await.unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(
        (
            r[0].name.as_str(),
            r[0].position,
            r[0].polled_ms,
            r[0].lag_transactions
        ),
        ("amy", 2, T0 + 7_000, 1)
    );
    assert_eq!(r[0].epoch, log.epoch());
    assert_eq!(
        (
            r[1].name.as_str(),
            r[1].epoch.as_str(),
            r[1].position,
            r[1].lag_transactions,
            r[1].lag_ms
        ),
        ("old", "0123456789abcdef", 2, 3, 5_000)
    );
}

#[tokio::test]
async fn beyond_the_cap_the_least_recently_polled_is_evicted_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_three(dir.path()).await;
    let log = store.feed("news").unwrap();
    let log = log.as_ref();
    let c = consumers(&store, 2).await;
    c.record(log, "a", Cursor::Seq(1), &page(1), T0 + 1);
    c.record(log, "b", Cursor::Seq(1), &page(1), T0 + 2);
    c.persist(&store).await.unwrap();
    c.record(log, "a", Cursor::Seq(2), &page(2), T0 + 3);
    c.record(log, "c", Cursor::Seq(1), &page(1), T0 + 4);
    let names = names_of(c.report(log).await.unwrap());
    assert_eq!(names, ["a", "c"]);
    c.persist(&store).await.unwrap();
    let stored: Vec<String> = store
        .consumer_records()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert!(!stored.contains(&"b".to_string()));
    assert!(stored.contains(&"c".to_string()));
    // Reopening with a smaller cap keeps the most recent.
    let c = consumers(&store, 1).await;
    let names = names_of(c.report(log).await.unwrap());
    assert_eq!(names, ["c"]);
}

#[tokio::test]
async fn at_a_large_cap_one_percent_makes_room() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_three(dir.path()).await;
    let log = store.feed("news").unwrap();
    let log = log.as_ref();
    let c = consumers(&store, 200).await;
    for i in 0..200u64 {
        c.record(log, &format!("c{i:03}"), Cursor::Seq(1), &page(1), T0 + i);
    }
    c.record(log, "new", Cursor::Seq(1), &page(1), T0 + 1_000);
    let names = names_of(c.report(log).await.unwrap());
    assert_eq!(names.len(), 199);
    assert!(!names.iter().any(|n| n == "c000" || n == "c001"));
    assert!(names.iter().any(|n| n == "c002") && names.iter().any(|n| n == "new"));
}
