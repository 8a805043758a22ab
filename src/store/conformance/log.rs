//! Appends and reads: actions, gap-free seqs, atomic batches, stamps and
//! the seconds index, limits of a range scan, and a consumer polling while
//! producers write.

use super::{del, feeds, put, Open};
use crate::clock::{ManualClock, SystemClock};
use crate::cursor::Cursor;
use crate::model::Action;
use crate::protocol::{plan, Limits, Plan};
use crate::store::{Appended, Outcome, StoreError};
use std::sync::Arc;

fn outcomes(a: &Appended) -> Vec<(Outcome, u64)> {
    a.applied.iter().map(|x| (x.outcome, x.seq)).collect()
}

pub(super) async fn actions_and_gap_free_seqs(open: Open) {
    let store = open(&feeds(), Arc::new(ManualClock::new(5_000))).await;
    let log = store.feed("news").unwrap();
    let a = log.append(&[put("a", "1")]).await.unwrap();
    assert_eq!((outcomes(&a), a.head), (vec![(Outcome::Add, 1)], 1));
    let a = log.append(&[put("a", "2")]).await.unwrap();
    assert_eq!(outcomes(&a), [(Outcome::Update, 2)]);
    // An identical payload appends nothing.
    let a = log.append(&[put("a", "2")]).await.unwrap();
    assert_eq!((outcomes(&a), a.head), (vec![(Outcome::Unchanged, 2)], 2));
    let a = log.append(&[del("a")]).await.unwrap();
    assert_eq!(outcomes(&a), [(Outcome::Delete, 3)]);
    assert_eq!(log.item("a").await.unwrap(), None);
    let txns = log.scan(0, 10, 10, usize::MAX).await.unwrap();
    let seqs: Vec<_> = txns.iter().map(|t| (t.seq, t.action)).collect();
    assert_eq!(
        seqs,
        [(1, Action::Add), (2, Action::Update), (3, Action::Delete)]
    );
    assert!(txns[2].payload.is_none());
    assert_eq!(store.feed("other").unwrap().head(), 0);
}

/// `Replace` applies only over the state it was derived from.
pub(super) async fn a_replace_applies_only_over_the_state_it_read(open: Open) {
    use crate::store::Op;
    let store = open(&feeds(), Arc::new(ManualClock::new(5_000))).await;
    let log = store.feed("news").unwrap();
    log.append(&[put("a", "1")]).await.unwrap();
    let replace = |title: &str, seq: u64| Op::Replace {
        id: "a".into(),
        payload: crate::model::Payload {
            title: Some(title.into()),
            ..Default::default()
        },
        seq,
    };
    let a = log.append(&[replace("derived", 1)]).await.unwrap();
    assert_eq!(outcomes(&a), [(Outcome::Update, 2)]);
    // A producer's write in between: the stale replace changes nothing.
    log.append(&[put("a", "producer")]).await.unwrap();
    let e = log.append(&[replace("stale", 2)]).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict(ref id) if id == "a"),
        "{e}"
    );
    let state = log.item("a").await.unwrap().unwrap();
    assert_eq!(
        (state.seq, state.payload.title.as_deref()),
        (3, Some("producer"))
    );
    assert_eq!(log.head(), 3);
    // Nor over a deleted item, nor one that never was.
    log.append(&[del("a")]).await.unwrap();
    assert!(matches!(
        log.append(&[replace("x", 3)]).await,
        Err(StoreError::Conflict(_))
    ));
    let none = Op::Replace {
        id: "b".into(),
        payload: Default::default(),
        seq: 1,
    };
    assert!(matches!(
        log.append(&[none]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(log.head(), 4);
}

pub(super) async fn batches_are_atomic_and_rejected_ones_leave_no_trace(open: Open) {
    let store = open(&feeds(), Arc::new(ManualClock::new(5_000))).await;
    let log = store.feed("news").unwrap();
    log.append(&[put("a", "1")]).await.unwrap();
    let err = log
        .append(&[put("b", "1"), put("a", "2"), del("nope")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ItemNotFound(id) if id == "nope"));
    assert_eq!(log.head(), 1);
    assert_eq!(log.published().live, 1);
    assert_eq!(log.item("b").await.unwrap(), None);
    assert_eq!(
        log.item("a")
            .await
            .unwrap()
            .unwrap()
            .payload
            .title
            .as_deref(),
        Some("1")
    );
    // Ops inside a batch apply in order; one stamp for the batch.
    let a = log
        .append(&[put("b", "1"), put("b", "2"), del("a"), put("b", "2")])
        .await
        .unwrap();
    let want = [
        (Outcome::Add, 2),
        (Outcome::Update, 3),
        (Outcome::Delete, 4),
        (Outcome::Unchanged, 3),
    ];
    assert_eq!(outcomes(&a), want);
    assert_eq!((a.head, log.published().live), (4, 1));
}

pub(super) async fn stamps_never_go_back_and_seconds_are_indexed(open: Open) {
    let clock = Arc::new(ManualClock::new(10_500));
    let store = open(&feeds(), clock.clone()).await;
    let log = store.feed("news").unwrap();
    log.append(&[put("a", "1")]).await.unwrap(); // 1 @ 10.5s
    clock.set(9_000); // the wall clock steps back
    log.append(&[put("b", "1")]).await.unwrap(); // 2 @ 10.5s
    clock.set(12_100);
    log.append(&[put("c", "1")]).await.unwrap(); // 3 @ 12.1s
    let stamps: Vec<_> = log
        .scan(0, 3, 9, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|t| t.stamp)
        .collect();
    assert_eq!(stamps, [10_500, 10_500, 12_100]);
    assert_eq!(log.first_seq_from_second(0).await.unwrap(), Some(1));
    assert_eq!(log.first_seq_from_second(11).await.unwrap(), Some(3));
    assert_eq!(log.first_seq_from_second(13).await.unwrap(), None);
    assert_eq!(log.stamp(2).await.unwrap(), Some(10_500));
}

pub(super) async fn concurrent_producers_and_a_polling_consumer(open: Open) {
    let store = open(&feeds(), Arc::new(SystemClock)).await;
    const PRODUCERS: usize = 8;
    const EACH: usize = 40;
    let mut tasks = vec![];
    for p in 0..PRODUCERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let log = store.feed("news").unwrap();
            for i in 0..EACH {
                let op = if i % 5 == 4 {
                    vec![
                        put(&format!("p{p}-{i}"), "x"),
                        put(&format!("p{p}-b{i}"), "y"),
                    ]
                } else {
                    vec![put(&format!("p{p}-{i}"), "x")]
                };
                log.append(&op).await.unwrap();
            }
        }));
    }
    let total = (PRODUCERS * EACH + PRODUCERS * (EACH / 5)) as u64;
    let consumer = {
        let store = store.clone();
        tokio::spawn(async move {
            let log = store.feed("news").unwrap();
            let limits = Limits {
                max_entries: 7,
                max_bytes: usize::MAX,
                second_entries: usize::MAX,
                second_bytes: usize::MAX,
            };
            let mut held = 0u64;
            let mut seen = vec![];
            while held < total {
                match plan(log.as_ref(), Cursor::Seq(held), 0, limits)
                    .await
                    .unwrap()
                {
                    Plan::NotModified { position, .. } => {
                        assert_eq!(position, held);
                        tokio::task::yield_now().await;
                    }
                    Plan::Page(p) => {
                        assert_eq!(p.after, held);
                        seen.extend(p.entries.iter().map(|e| (e.seq, e.id.clone())));
                        held = p.last;
                    }
                }
            }
            seen
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    let seen = consumer.await.unwrap();
    let seqs: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "every transaction once, in order"
    );
    let mut ids: Vec<_> = seen.into_iter().map(|(_, id)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as u64, total);
}

pub(super) async fn scans_honour_limits_and_ranges(open: Open) {
    let store = open(&feeds(), Arc::new(ManualClock::new(5_000))).await;
    let log = store.feed("news").unwrap();
    for i in 0..10 {
        log.append(&[put(&format!("i{i}"), "x")]).await.unwrap();
    }
    let seqs = |v: Vec<crate::model::Txn>| v.iter().map(|t| t.seq).collect::<Vec<_>>();
    let all = usize::MAX;
    assert_eq!(seqs(log.scan(3, 7, 100, all).await.unwrap()), [4, 5, 6, 7]);
    assert_eq!(seqs(log.scan(3, 7, 2, all).await.unwrap()), [4, 5]);
    // A byte budget ends a scan, never before its first transaction.
    assert_eq!(seqs(log.scan(0, 10, 100, 1).await.unwrap()), [1]);
    assert!(log.scan(7, 7, 100, all).await.unwrap().is_empty());
    assert!(log.scan(10, 20, 100, all).await.unwrap().is_empty());
    assert_eq!(log.stamp(0).await.unwrap(), None);
    assert_eq!(log.stamp(11).await.unwrap(), None);
    assert_eq!(log.stamp(10).await.unwrap(), Some(5_000));
}
