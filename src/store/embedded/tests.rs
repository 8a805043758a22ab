//! The sled backend's own behaviour (the conformance suite covers what
//! every backend does): reopening, group apply.

use super::codec::Record;
use super::*;
use crate::clock::{ManualClock, SystemClock};
use crate::model::Action;
use crate::protocol::LogView;
use crate::store::{Outcome, StoreError};

pub(super) use crate::store::conformance::{del, feeds, put};

/// Open the store at `path` again once the dropped one has let go of it:
/// sled's own threads can hold the database's file lock for a moment after
/// the last handle is dropped.
pub(super) fn reopen(path: &std::path::Path, clock: Arc<dyn crate::clock::Clock>) -> Embedded {
    for _ in 0..100 {
        match Embedded::open(path, &feeds(), clock.clone()) {
            Err(e) if e.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
    panic!("the store at {} stayed locked", path.display());
}

#[tokio::test]
async fn reopening_keeps_epoch_head_and_items() {
    let dir = tempfile::tempdir().unwrap();
    let (epoch, other_epoch) = {
        let store = Embedded::open(dir.path(), &feeds(), Arc::new(SystemClock)).unwrap();
        let log = store.log("news");
        log.append(&[put("a", "1"), put("b", "1")]).await.unwrap();
        log.append(&[del("a")]).await.unwrap();
        (
            log.epoch().to_string(),
            store.log("other").epoch().to_string(),
        )
    };
    assert_ne!(epoch, other_epoch);
    assert_eq!(epoch.len(), 16);
    let store = reopen(dir.path(), Arc::new(SystemClock));
    let log = store.log("news");
    assert_eq!(
        (log.epoch(), log.head(), log.published().live),
        (epoch.as_str(), 3, 1)
    );
    assert!(log.item("b").await.unwrap().is_some());
    assert_eq!(log.append(&[put("c", "1")]).await.unwrap().head, 4);
    // A wiped store gets new epochs.
    drop(store);
    let fresh = tempfile::tempdir().unwrap();
    let store = Embedded::open(fresh.path(), &feeds(), Arc::new(SystemClock)).unwrap();
    assert_ne!(store.log("news").epoch(), epoch);
}

#[tokio::test]
async fn a_group_decides_each_append_on_its_own_and_writes_one_batch() {
    use super::writer::Pending;
    let store = Embedded::temporary(&feeds(), Arc::new(ManualClock::new(5_000))).unwrap();
    let log = store.log("news");
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
    let txns = log.scan_chunks(0, 10, 100, usize::MAX).unwrap();
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
