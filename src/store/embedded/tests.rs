use super::codec::Record;
use super::*;
use crate::clock::{ManualClock, SystemClock};
use crate::cursor::Cursor;
use crate::model::{Action, Payload};
use crate::protocol::{plan, Limits, LogView, Plan};

/// A PUT of an item with just a title (also used by `compact::tests`).
pub(super) fn put(id: &str, title: &str) -> Op {
    Op::Put {
        id: id.into(),
        payload: Payload {
            title: Some(title.into()),
            ..Payload::default()
        },
    }
}

pub(super) fn del(id: &str) -> Op {
    Op::Delete { id: id.into() }
}

pub(super) fn feeds() -> Vec<String> {
    vec!["news".into(), "other".into()]
}

/// Open the store at `path` again once the dropped one has let go of it:
/// sled's own threads can hold the database's file lock for a moment after
/// the last handle is dropped.
pub(super) fn reopen(path: &std::path::Path, clock: Arc<dyn crate::clock::Clock>) -> Store {
    for _ in 0..100 {
        match Store::open(path, &feeds(), clock.clone()) {
            Err(StoreError::Sled(sled::Error::Io(e))) if e.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
    panic!("the store at {} stayed locked", path.display());
}

fn outcomes(a: &Appended) -> Vec<(Outcome, u64)> {
    a.applied.iter().map(|x| (x.outcome, x.seq)).collect()
}

#[tokio::test]
async fn actions_and_gap_free_seqs() {
    let store = Store::temporary(&feeds(), Arc::new(ManualClock::new(5_000))).unwrap();
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
    let txns = log.scan(0, 10, 10, usize::MAX).unwrap();
    let seqs: Vec<_> = txns.iter().map(|t| (t.seq, t.action)).collect();
    assert_eq!(
        seqs,
        [(1, Action::Add), (2, Action::Update), (3, Action::Delete)]
    );
    assert!(txns[2].payload.is_none());
    assert_eq!(store.feed("other").unwrap().head(), 0);
}

#[tokio::test]
async fn batches_are_atomic_and_rejected_ones_leave_no_trace() {
    let store = Store::temporary(&feeds(), Arc::new(ManualClock::new(5_000))).unwrap();
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

#[tokio::test]
async fn stamps_never_go_back_and_seconds_are_indexed() {
    let clock = Arc::new(ManualClock::new(10_500));
    let store = Store::temporary(&feeds(), clock.clone()).unwrap();
    let log = store.feed("news").unwrap();
    log.append(&[put("a", "1")]).await.unwrap(); // 1 @ 10.5s
    clock.set(9_000); // the wall clock steps back
    log.append(&[put("b", "1")]).await.unwrap(); // 2 @ 10.5s
    clock.set(12_100);
    log.append(&[put("c", "1")]).await.unwrap(); // 3 @ 12.1s
    let stamps: Vec<_> = log
        .scan(0, 3, 9, usize::MAX)
        .unwrap()
        .iter()
        .map(|t| t.stamp)
        .collect();
    assert_eq!(stamps, [10_500, 10_500, 12_100]);
    assert_eq!(log.first_seq_from_second(0).unwrap(), Some(1));
    assert_eq!(log.first_seq_from_second(11).unwrap(), Some(3));
    assert_eq!(log.first_seq_from_second(13).unwrap(), None);
    assert_eq!(log.stamp_of(2).unwrap(), Some(10_500));
}

#[tokio::test]
async fn reopening_keeps_epoch_head_and_items() {
    let dir = tempfile::tempdir().unwrap();
    let (epoch, other_epoch) = {
        let store = Store::open(dir.path(), &feeds(), Arc::new(SystemClock)).unwrap();
        let log = store.feed("news").unwrap();
        log.append(&[put("a", "1"), put("b", "1")]).await.unwrap();
        log.append(&[del("a")]).await.unwrap();
        (
            log.epoch().to_string(),
            store.feed("other").unwrap().epoch().to_string(),
        )
    };
    assert_ne!(epoch, other_epoch);
    assert_eq!(epoch.len(), 16);
    let store = reopen(dir.path(), Arc::new(SystemClock));
    let log = store.feed("news").unwrap();
    assert_eq!(
        (log.epoch(), log.head(), log.published().live),
        (epoch.as_str(), 3, 1)
    );
    assert!(log.item("b").await.unwrap().is_some());
    assert_eq!(log.append(&[put("c", "1")]).await.unwrap().head, 4);
    // A wiped store gets new epochs.
    drop(store);
    let fresh = tempfile::tempdir().unwrap();
    let store = Store::open(fresh.path(), &feeds(), Arc::new(SystemClock)).unwrap();
    assert_ne!(store.feed("news").unwrap().epoch(), epoch);
}

/// 8 concurrent producers and a consumer polling with its ETag the whole
/// time: the consumer ends holding every transaction exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_producers_and_a_polling_consumer() {
    let store = Arc::new(Store::temporary(&feeds(), Arc::new(SystemClock)).unwrap());
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
                match plan(log.as_ref(), Cursor::Seq(held), 0, limits).unwrap() {
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

#[tokio::test]
async fn a_group_decides_each_append_on_its_own_and_writes_one_batch() {
    use super::append::Pending;
    let store = Store::temporary(&feeds(), Arc::new(ManualClock::new(5_000))).unwrap();
    let log = store.feed("news").unwrap();
    log.append(&[put("x", "0")]).await.unwrap();
    let written = store.durability.written();
    let (group, answers): (Vec<_>, Vec<_>) = [
        vec![put("a", "1")],
        vec![put("b", "1"), del("missing")],
        vec![put("a", "2"), put("x", "0")],
        vec![del("a"), del("x")],
        vec![put("a", "3")],
    ]
    .into_iter()
    .map(Pending::new)
    .unzip();
    // An append whose caller is gone is not applied.
    let (gone, dropped) = Pending::new(vec![put("c", "1")]);
    drop(dropped);
    let mut group = group;
    group.insert(1, gone);
    let publish = log.apply_group(group).expect("the group wrote");
    assert_eq!(store.durability.written(), written + 1, "one batch");
    publish.run().await.unwrap();
    let head = log.published();
    assert_eq!((head.seq, head.live), (6, 1));
    let mut got = vec![];
    for a in answers {
        got.push(match a.await.unwrap() {
            Ok(applied) => Ok(applied
                .iter()
                .map(|x| (x.outcome, x.seq))
                .collect::<Vec<_>>()),
            Err(e) => Err(e.to_string()),
        });
    }
    assert_eq!(
        got,
        [
            Ok(vec![(Outcome::Add, 2)]),
            Err(StoreError::ItemNotFound("missing".into()).to_string()),
            Ok(vec![(Outcome::Update, 3), (Outcome::Unchanged, 1)]),
            Ok(vec![(Outcome::Delete, 4), (Outcome::Delete, 5)]),
            Ok(vec![(Outcome::Add, 6)]),
        ]
    );
    let txns = log.scan(0, 10, 100, usize::MAX).unwrap();
    let shown: Vec<_> = txns
        .iter()
        .map(|t| (t.seq, t.id.as_str(), t.action, t.born))
        .collect();
    assert_eq!(
        shown,
        [
            (1, "x", Action::Add, 1),
            (2, "a", Action::Add, 2),
            (3, "a", Action::Update, 2),
            (4, "a", Action::Delete, 2),
            (5, "x", Action::Delete, 1),
            (6, "a", Action::Add, 6),
        ]
    );
    assert_eq!(
        log.state("a").unwrap().map(|s| (s.seq, s.born)),
        Some((6, 6))
    );
    for gone in ["b", "c", "x", "missing"] {
        assert_eq!(log.state(gone).unwrap(), None, "{gone}");
    }
    assert_eq!(log.record("x").unwrap(), Some(Record::Tomb(5)));
    assert!(
        matches!(log.record("a").unwrap(), Some(Record::Live(s)) if s.seq == 6),
        "re-added"
    );
}

mod chunks;
