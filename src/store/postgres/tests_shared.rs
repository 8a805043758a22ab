//! What processes on one database share beyond the log itself: the
//! upstream sync turn, consumer records, and compaction while the other
//! process appends or compacts too (two `Postgres` stores on one database
//! stand for two processes, as in `tests.rs`).

use super::tests::{bounded, two};
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::consumers::Consumers;
use crate::cursor::Cursor;
use crate::protocol::Plan;
use crate::store::conformance::compaction::{converge, snapshots, workload};
use crate::store::conformance::put;
use crate::store::{Backend, CompactReport, Log, Retention};
use std::sync::Arc;
use std::time::Duration;

const T0: u64 = 1_700_000_000_000;

/// Take `log`'s sync turn, retrying while the previous holder's unlock is
/// on its way (at most 10 s).
async fn turn_eventually(log: &dyn Log) -> crate::store::SyncTurn {
    for _ in 0..1000 {
        if let Some(t) = log.sync_turn().await.unwrap() {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the sync turn was not given back after 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_process_at_a_time_holds_a_feeds_sync_turn() {
    let clock = Arc::new(SystemClock);
    let Some((a, b)) = two(clock.clone(), clock).await else {
        return;
    };
    let (la, lb) = (a.feed("news").unwrap(), b.feed("news").unwrap());
    let turn = la
        .sync_turn()
        .await
        .unwrap()
        .expect("nobody holds the turn");
    for _ in 0..3 {
        assert!(lb.sync_turn().await.unwrap().is_none(), "B got A's turn");
    }
    drop(turn);
    let turn = bounded("B takes the turn", turn_eventually(lb.as_ref())).await;
    assert!(la.sync_turn().await.unwrap().is_none(), "A got B's turn");
    drop(turn);
    drop(bounded("A takes it back", turn_eventually(la.as_ref())).await);
}

/// A poll by `name` at `position`, answered 304, at `at`.
fn poll(c: &Consumers, log: &dyn Log, name: &str, position: u64, at: u64) {
    let plan = Plan::NotModified {
        position,
        last_modified: 0,
    };
    c.record(log, name, Cursor::Seq(position), &plan, at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumer_records_keep_the_newest_poll_and_every_process_reports_them() {
    let clock = Arc::new(SystemClock);
    let Some((a, b)) = two(clock.clone(), clock).await else {
        return;
    };
    let (la, lb) = (a.feed("news").unwrap(), b.feed("news").unwrap());
    la.append(&[put("x", "1")]).await.unwrap();
    la.append(&[put("y", "1")]).await.unwrap();
    assert_eq!(lb.head_at_least(2).await.unwrap(), 2);
    let ca = Consumers::open(a.consumer_records().await.unwrap(), &["news"], 100);
    let cb = Consumers::open(b.consumer_records().await.unwrap(), &["news"], 100);
    // `one` polled A last (at position 2), B before (at 1); `two` only B.
    poll(&ca, la.as_ref(), "one", 2, T0 + 2_000);
    poll(&cb, lb.as_ref(), "one", 1, T0 + 1_000);
    poll(&cb, lb.as_ref(), "two", 1, T0 + 1_500);
    assert_eq!(ca.persist(&a).await.unwrap(), 1);
    // B saves later, with an older poll of `one`: the newer one stays.
    assert_eq!(cb.persist(&b).await.unwrap(), 2);
    let stored: Vec<(String, u64, u64)> = a
        .consumer_records()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.position, r.polled_ms))
        .collect();
    assert_eq!(
        stored,
        [
            ("one".to_string(), 2, T0 + 2_000),
            ("two".to_string(), 1, T0 + 1_500)
        ]
    );
    // B merged the newer poll of `one` when it persisted; A learns `two`
    // at its next persist, which writes nothing.
    assert_eq!(ca.persist(&a).await.unwrap(), 0);
    for (c, log) in [(&ca, &la), (&cb, &lb)] {
        let seen: Vec<(String, u64, u64, u64)> = c
            .report(log.as_ref())
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.name, r.position, r.polled_ms, r.lag_transactions))
            .collect();
        assert_eq!(
            seen,
            [
                ("one".to_string(), 2, T0 + 2_000, 0),
                ("two".to_string(), 1, T0 + 1_500, 1)
            ]
        );
    }
    // A poll newer than the merged one is saved again.
    poll(&cb, lb.as_ref(), "one", 2, T0 + 3_000);
    assert_eq!(cb.persist(&b).await.unwrap(), 1);
    let polled = a.consumer_records().await.unwrap()[0].polled_ms;
    assert_eq!(polled, T0 + 3_000);
}

/// A whole compaction pass of `log` under `policy` in steps of `budget`.
async fn pass(log: &dyn Log, policy: &Retention, now: u64, budget: usize) -> CompactReport {
    let mut report = CompactReport::default();
    let mut from = 0;
    while let Some(next) = log
        .compact_step(policy, now, from, budget, &mut report)
        .await
        .unwrap()
    {
        from = next;
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_compacting_one_feed_while_one_appends_leave_a_log_every_consumer_converges_on(
) {
    for seed in [5, 21, 1000] {
        let clock = Arc::new(ManualClock::new(T0));
        let Some((a, b)) = two(clock.clone(), clock.clone()).await else {
            return;
        };
        let (la, lb) = (a.feed("news").unwrap(), b.feed("news").unwrap());
        let mut state = workload(la.as_ref(), &clock, seed, 150).await;
        let head = la.head();
        assert_eq!(lb.head_at_least(head).await.unwrap(), head);
        let before = snapshots(la.as_ref()).await;
        let retention = Retention {
            compact_after: Some(Duration::from_secs(30)),
            tombstones: Some(Duration::from_secs(30)),
            keep_latest: None,
        };
        let now = clock.now_ms();
        // A and B compact in small steps, which interleave, while B appends.
        let appender = async {
            for i in 0..40 {
                let op = put(&format!("n{}", i % 10), &format!("w{i}"));
                lb.append(std::slice::from_ref(&op)).await.unwrap();
            }
        };
        let (ra, rb, ()) = bounded("concurrent compaction", async {
            tokio::join!(
                pass(la.as_ref(), &retention, now, 7),
                pass(lb.as_ref(), &retention, now, 5),
                appender
            )
        })
        .await;
        assert!(
            ra.tombstones_dropped + rb.tombstones_dropped > 0 && ra.removed + rb.removed > 0,
            "seed {seed}: {ra:?} {rb:?}"
        );
        for i in 30..40 {
            state.insert(format!("n{}", i % 10), format!("w{i}"));
        }
        // Another round on the result: nothing left that either process
        // disagrees on.
        let (ra, rb) = tokio::join!(
            pass(la.as_ref(), &retention, now, 7),
            pass(lb.as_ref(), &retention, now, 5)
        );
        assert_eq!(
            (ra.tombstones_dropped, rb.tombstones_dropped),
            (0, 0),
            "seed {seed}"
        );
        for log in [&la, &lb] {
            assert_eq!(log.head_at_least(head + 40).await.unwrap(), head + 40);
            for (p, held) in before.iter().enumerate() {
                let (items, _) = converge(log.as_ref(), p as u64, held.clone(), now + 5_000).await;
                assert_eq!(items, state, "seed {seed} position {p}");
            }
        }
    }
}
