//! Retention and compaction: superseded states go, tombstones go with
//! their incarnation and raise the dropped mark, the head stays, steps are
//! bounded, and every consumer position converges afterwards (through a
//! catch-up exactly when it is below the mark).

use super::{del, feeds, put, Open};
use crate::clock::{Clock, ManualClock};
use crate::cursor::Cursor;
use crate::model::Action;
use crate::protocol::{plan, Limits, Plan};
use crate::store::{CompactReport, Log, Op, Retention};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const T0: u64 = 1_700_000_000_000;
const HOUR: Duration = Duration::from_secs(3600);

/// A small deterministic random workload: returns the producer's final state.
pub(crate) async fn workload(
    log: &dyn Log,
    clock: &ManualClock,
    seed: u64,
    n: usize,
) -> BTreeMap<String, String> {
    let mut x = seed | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut state = BTreeMap::new();
    for i in 0..n {
        clock.advance(rnd() % 900);
        let id = format!("k{}", rnd() % 12);
        let title = format!("v{i}");
        let op = if state.contains_key(&id) && rnd() % 3 == 0 {
            del(&id)
        } else {
            put(&id, &title)
        };
        log.append(std::slice::from_ref(&op)).await.unwrap();
        match op {
            Op::Put { .. } | Op::Replace { .. } => state.insert(id, title),
            Op::Delete { .. } => state.remove(&id),
        };
    }
    state
}

/// A consumer at position `p` holding `items` reads to the head, checking
/// every action against what it holds; a catch-up replaces its state.
pub(crate) async fn converge(
    log: &dyn Log,
    mut p: u64,
    mut items: BTreeMap<String, String>,
    now: u64,
) -> (BTreeMap<String, String>, bool) {
    let limits = Limits {
        max_entries: 3,
        max_bytes: usize::MAX,
        second_entries: usize::MAX,
        second_bytes: usize::MAX,
    };
    let mut caught_up = false;
    for _ in 0..10_000 {
        match plan(log, Cursor::Seq(p), now, limits).await.unwrap() {
            Plan::NotModified { position, .. } => {
                assert_eq!(position, p);
                return (items, caught_up);
            }
            Plan::Page(page) => {
                if page.after == 0 && p > 0 {
                    caught_up = true;
                    items.clear();
                }
                for e in &page.entries {
                    let held = items.contains_key(&e.id);
                    match e.action {
                        Action::Add => assert!(!held, "add of held {} at {}", e.id, e.seq),
                        Action::Update | Action::Delete => {
                            assert!(held, "{:?} of unheld {} at {}", e.action, e.id, e.seq)
                        }
                    }
                    match &e.payload {
                        Some(pl) => {
                            items.insert(e.id.clone(), pl.title.clone().unwrap_or_default())
                        }
                        None => items.remove(&e.id),
                    };
                }
                p = page.last;
            }
        }
    }
    panic!("no convergence after 10,000 polls (from {p})");
}

/// Everything a consumer at each position holds, before compaction.
pub(crate) async fn snapshots(log: &dyn Log) -> Vec<BTreeMap<String, String>> {
    let mut out = vec![BTreeMap::new()];
    let mut items = BTreeMap::new();
    for t in log
        .scan(0, log.head(), usize::MAX, usize::MAX)
        .await
        .unwrap()
    {
        match t.payload {
            Some(p) => items.insert(t.id, p.title.unwrap_or_default()),
            None => items.remove(&t.id),
        };
        out.push(items.clone());
    }
    out
}

pub(super) async fn superseded_states_go_and_every_left_behind_consumer_converges(open: Open) {
    for seed in [3, 17, 99, 12345] {
        let clock = Arc::new(ManualClock::new(T0));
        let store = open(&feeds(), clock.clone()).await;
        let log = store.feed("news").unwrap();
        let log = log.as_ref();
        let state = workload(log, &clock, seed, 120).await;
        let before = snapshots(log).await;
        let head = log.head();

        let policy = Retention {
            keep_latest: Some(10),
            ..Retention::default()
        };
        let report = crate::store::compact(log, &policy, clock.now_ms() + 10 * 3_600_000)
            .await
            .unwrap();
        assert!(report.removed > 0, "{report:?}");
        assert_eq!(report.tombstones_dropped, 0);
        assert_eq!(log.head(), head, "the head never moves");
        let left: Vec<_> = log.scan(0, head, usize::MAX, usize::MAX).await.unwrap();
        assert_eq!(left.len() as u64, head - report.removed);
        assert_eq!(left.last().unwrap().seq, head);
        // Every consumer position, before compaction, still converges exactly,
        // without a catch-up (no tombstone was dropped).
        for (p, held) in before.iter().enumerate() {
            let (items, caught_up) =
                converge(log, p as u64, held.clone(), clock.now_ms() + 10_000).await;
            assert_eq!(items, state, "seed {seed} position {p}");
            assert!(!caught_up);
        }
    }
}

/// Random workloads with every policy at once: every position converges,
/// exactly those below the dropped mark through a catch-up.
pub(super) async fn random_workloads_with_tombstone_drops_converge_from_every_position(open: Open) {
    for seed in [5, 8, 21, 77, 1000] {
        let clock = Arc::new(ManualClock::new(T0));
        let store = open(&feeds(), clock.clone()).await;
        let log = store.feed("news").unwrap();
        let log = log.as_ref();
        let state = workload(log, &clock, seed, 150).await;
        let before = snapshots(log).await;
        let retention = Duration::from_secs(30);
        let policy = Retention {
            compact_after: Some(retention),
            tombstones: Some(retention),
            keep_latest: None,
        };
        let now = clock.now_ms();
        let report = crate::store::compact(log, &policy, now).await.unwrap();
        assert!(
            report.tombstones_dropped > 0 && report.removed > 0,
            "seed {seed}: {report:?}"
        );
        let mark = log.dropped();
        // A fresh consumer reaches past the mark in its first response.
        match plan(
            log,
            Cursor::CatchUp,
            now + 5_000,
            Limits {
                max_entries: 2,
                max_bytes: 1,
                second_entries: usize::MAX,
                second_bytes: usize::MAX,
            },
        )
        .await
        .unwrap()
        {
            Plan::Page(p) => assert!(
                p.last >= mark,
                "seed {seed}: catch-up ended at {} below {mark}",
                p.last
            ),
            other => panic!("{other:?}"),
        }
        for (p, held) in before.iter().enumerate() {
            let (items, caught_up) = converge(log, p as u64, held.clone(), now + 5_000).await;
            assert_eq!(items, state, "seed {seed} position {p}");
            assert_eq!(
                caught_up,
                p > 0 && (p as u64) < mark,
                "seed {seed} position {p}"
            );
        }
    }
}

pub(super) async fn dropped_tombstones_send_older_positions_to_a_catch_up(open: Open) {
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(&feeds(), clock.clone()).await;
    let log = store.feed("news").unwrap();
    let log = log.as_ref();
    log.append(&[put("a", "1"), put("b", "1"), put("c", "1")])
        .await
        .unwrap(); // 1..3
    log.append(&[del("b")]).await.unwrap(); // 4
    clock.advance(2 * 3_600_000);
    log.append(&[put("a", "2")]).await.unwrap(); // 5
    log.append(&[del("c")]).await.unwrap(); // 6: recent, kept
    log.append(&[put("d", "1")]).await.unwrap(); // 7
    let before = snapshots(log).await;
    let policy = Retention {
        compact_after: Some(HOUR),
        tombstones: Some(HOUR),
        ..Retention::default()
    };
    let now = clock.now_ms();
    let report = crate::store::compact(log, &policy, now).await.unwrap();
    // a@1 and c@3 are their incarnations' adds: kept. b's tombstone @4 is
    // old: dropped with its add @2. c's tombstone @6 is recent: kept.
    assert_eq!((report.removed, report.tombstones_dropped), (1, 1));
    assert_eq!(log.dropped(), 4);
    let seqs: Vec<u64> = log
        .scan(0, 7, 99, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|t| t.seq)
        .collect();
    assert_eq!(seqs, [1, 3, 5, 6, 7]);
    let state: BTreeMap<String, String> = [("a", "2"), ("d", "1")]
        .map(|(k, v)| (k.into(), v.into()))
        .into();
    for (p, held) in before.iter().enumerate() {
        let (items, caught_up) = converge(log, p as u64, held.clone(), now + 5_000).await;
        assert_eq!(items, state, "position {p}");
        assert_eq!(caught_up, p > 0 && p < 4, "position {p}");
    }
}

pub(super) async fn steps_are_bounded_and_nothing_happens_without_a_policy(open: Open) {
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(&feeds(), clock.clone()).await;
    let log = store.feed("news").unwrap();
    let log = log.as_ref();
    for i in 0..50 {
        log.append(&[put("same", &i.to_string())]).await.unwrap();
    }
    assert_eq!(
        crate::store::compact(log, &Retention::default(), T0 + 10 * 3_600_000)
            .await
            .unwrap(),
        CompactReport::default()
    );
    let policy = Retention {
        keep_latest: Some(1),
        ..Retention::default()
    };
    let mut report = CompactReport::default();
    let mut from = 0;
    let mut steps = 0;
    while let Some(next) = log
        .compact_step(&policy, T0, from, 7, &mut report)
        .await
        .unwrap()
    {
        assert!(next > from);
        from = next;
        steps += 1;
    }
    assert_eq!(steps, 7); // 7 transactions per step, the last step reaches the head
    assert_eq!(report.removed, 48); // all but the add and the latest state
    let left = log.scan(0, 50, 99, usize::MAX).await.unwrap();
    assert_eq!(left.iter().map(|t| t.seq).collect::<Vec<_>>(), [1, 50]);
    assert_eq!(
        crate::store::compact_all(store.as_ref(), |_| Retention::default(), T0)
            .await
            .unwrap(),
        vec![]
    );
}
