//! Spilled values: round trips of large items and transactions, updates
//! and deletes that replace them, compaction that removes them, reopening,
//! readers racing a writer, and the bound itself (no value in the tree above
//! `INLINE_MAX`, no piece without its descriptor).

use super::super::keys::{chunk_key, item_key};
use super::super::tests::{del, feeds, reopen};
use super::super::*;
use super::{Spilled, INLINE_MAX, PIECE, PIECE_BYTES};
use crate::clock::ManualClock;
use crate::model::{Action, Payload};
use crate::protocol::LogView;
use std::collections::BTreeSet;

/// `len` bytes of text particular to `seed`.
fn text(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

fn payload(seed: u64, len: usize) -> Payload {
    Payload {
        title: Some(format!("t{seed}")),
        content: Some(text(seed, len)),
        ..Payload::default()
    }
}

fn put(id: &str, seed: u64, len: usize) -> Op {
    Op::Put {
        id: id.into(),
        payload: payload(seed, len),
    }
}

/// The bound and the bookkeeping: no value above `INLINE_MAX`, and the
/// pieces in the tree are exactly those the descriptors name. Returns the
/// number of spilled values.
fn check_tree(log: &FeedLog) -> usize {
    let (mut named, mut found, mut spilled) = (BTreeSet::new(), BTreeSet::new(), 0);
    for kv in log.tree.iter() {
        let (k, v) = kv.unwrap();
        assert!(v.len() <= INLINE_MAX, "{k:?} holds {} bytes", v.len());
        if k[0] == PIECE {
            found.insert(k.to_vec());
        } else if let Some(s) = Spilled::of(&v) {
            assert!(matches!(k[0], b'c' | b'i'), "{k:?}");
            spilled += 1;
            named.extend((0..s.pieces()).map(|i| super::piece_key(s.version, i).to_vec()));
        }
    }
    assert_eq!(found, named, "pieces without a descriptor, or missing");
    spilled
}

/// Every transaction of the log, by scan (one at a time and all at once).
fn all_txns(log: &FeedLog) -> Vec<crate::model::Txn> {
    let all = log
        .scan_chunks(0, log.head(), usize::MAX, usize::MAX)
        .unwrap();
    let mut one_by_one = Vec::new();
    while let Some(t) = log
        .scan_chunks(
            one_by_one.last().map_or(0, |t: &crate::model::Txn| t.seq),
            log.head(),
            1,
            0,
        )
        .unwrap()
        .pop()
    {
        assert_eq!(log.stamp_of(t.seq).unwrap(), Some(t.stamp));
        one_by_one.push(t);
    }
    assert_eq!(all, one_by_one);
    all
}

#[test]
fn no_inline_value_reads_as_a_descriptor() {
    let d = Spilled {
        version: 7,
        len: 99,
    }
    .descriptor();
    assert_eq!(
        Spilled::of(&d),
        Some(Spilled {
            version: 7,
            len: 99
        })
    );
    let mut chunk = Vec::new();
    codec::put_entry(&mut chunk, 1, 0, 0, Action::Delete, "", None);
    let mut live = Vec::new();
    codec::put_live(&mut live, 1, 0, 0, &Payload::default());
    for inline in [chunk, live, codec::tomb(0).to_vec()] {
        assert_eq!(Spilled::of(&inline), None);
        let mut padded = inline.clone();
        padded.resize(d.len(), 0);
        assert_eq!(Spilled::of(&padded), None, "{inline:?}");
    }
    assert_eq!(Spilled::of(&d[1..]), None);
}

#[tokio::test]
async fn large_items_round_trip_through_updates_deletes_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(5_000));
    let sizes = [30 << 10, 300 << 10, 1 << 20];
    // What each item must read back as, with its last transaction.
    let mut want: Vec<(String, Option<Payload>)> = Vec::new();
    {
        let store = Embedded::open(dir.path(), &feeds(), clock.clone()).unwrap();
        let log = store.log("news");
        for (i, len) in sizes.iter().enumerate() {
            log.append(&[put(&format!("a{i}"), i as u64, *len)])
                .await
                .unwrap();
        }
        // Each item's record and its transaction's chunk are spilled.
        assert_eq!(check_tree(log), 6);
        // Spilled replaced by small, small by spilled, spilled by spilled.
        log.append(&[put("a2", 10, 100)]).await.unwrap();
        log.append(&[put("s", 11, 10)]).await.unwrap();
        log.append(&[put("s", 12, 40 << 10)]).await.unwrap();
        log.append(&[put("a1", 13, 500 << 10)]).await.unwrap();
        // A delete of a spilled record, and a batch of large ones with a delete.
        log.append(&[del("a0")]).await.unwrap();
        let batch = [put("b0", 14, 200 << 10), put("b1", 15, 25 << 10), del("s")];
        log.append(&batch).await.unwrap();
        // An identical large payload appends nothing.
        let same = log.append(&[put("b0", 14, 200 << 10)]).await.unwrap();
        assert_eq!(same.applied[0].outcome, Outcome::Unchanged);
        // Records: a1, b0, b1; chunks: the 3 adds, s, a1, and the batch's two.
        assert_eq!(check_tree(log), 3 + 7);
        want.extend([
            ("a0".into(), None),
            ("a1".into(), Some(payload(13, 500 << 10))),
            ("a2".into(), Some(payload(10, 100))),
            ("b0".into(), Some(payload(14, 200 << 10))),
            ("b1".into(), Some(payload(15, 25 << 10))),
            ("s".into(), None),
        ]);
        for (id, p) in &want {
            let got = log.item(id).await.unwrap().map(|s| s.payload);
            assert!(got == *p, "{id}");
        }
        store.flush().await.unwrap();
    }
    let store = reopen(dir.path(), clock);
    let log = store.log("news");
    assert_eq!(log.head(), 11);
    assert_eq!(check_tree(log), 10);
    for (id, p) in &want {
        let got = log.item(id).await.unwrap().map(|s| s.payload);
        assert!(got == *p, "{id} after reopening");
    }
    let items: Vec<_> = log.items().unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(items, ["a1", "a2", "b0", "b1"]);
    let txns = all_txns(log);
    let sizes: Vec<usize> = txns
        .iter()
        .map(|t| {
            t.payload
                .as_ref()
                .map_or(0, |p| p.content.as_ref().unwrap().len())
        })
        .collect();
    assert_eq!(
        sizes,
        [
            30 << 10,
            300 << 10,
            1 << 20,
            100,
            10,
            40 << 10,
            500 << 10,
            0,
            200 << 10,
            25 << 10,
            0
        ]
    );
    assert_eq!(txns[6].payload, Some(payload(13, 500 << 10)));
    // The reopened writer's versions start above the stored ones.
    log.append(&[put("c", 16, 100 << 10)]).await.unwrap();
    assert_eq!(check_tree(log), 12);
    let c = log.item("c").await.unwrap().unwrap();
    assert_eq!(c.payload, payload(16, 100 << 10));
    assert!(
        !dir.path().join("blobs").exists()
            || std::fs::read_dir(dir.path().join("blobs")).unwrap().count() == 0,
        "sled wrote a blob file"
    );
}

#[tokio::test]
async fn compaction_removes_spilled_chunks_and_records_with_their_pieces() {
    let store = Embedded::temporary(&feeds(), Arc::new(ManualClock::new(5_000))).unwrap();
    let log = store.log("news");
    for round in 0..3 {
        for i in 0..4 {
            let seed = round * 10 + i;
            log.append(&[put(&format!("k{i}"), seed, (60 << 10) * (i as usize + 1))])
                .await
                .unwrap();
        }
    }
    log.append(&[del("k0")]).await.unwrap();
    log.append(&[put("tail", 99, 10)]).await.unwrap();
    // 3 live records, 12 spilled transactions.
    assert_eq!(check_tree(log), 15);
    let policy = Retention {
        keep_latest: Some(1),
        tombstones: Some(std::time::Duration::ZERO),
        ..Retention::default()
    };
    let report = log.compact_sync(&policy, 10_000).unwrap();
    // Round 1 of k1-k3 (superseded, not their add) and the whole of k0 (its
    // three transactions and its tombstone).
    assert_eq!((report.removed, report.tombstones_dropped), (3 + 3, 1));
    assert_eq!(check_tree(log), 3 + 6);
    assert!(log.tree.get(item_key("k0")).unwrap().is_none());
    let seqs: Vec<(u64, String)> = all_txns(log).into_iter().map(|t| (t.seq, t.id)).collect();
    let want = [
        (2, "k1"),
        (3, "k2"),
        (4, "k3"),
        (10, "k1"),
        (11, "k2"),
        (12, "k3"),
        (14, "tail"),
    ];
    let want: Vec<(u64, String)> = want.iter().map(|(s, id)| (*s, id.to_string())).collect();
    assert_eq!(seqs, want);
    assert!(log.tree.get(chunk_key(1)).unwrap().is_none());
    for i in 1..4 {
        let s = log.item(&format!("k{i}")).await.unwrap().unwrap();
        assert_eq!(s.payload, payload(20 + i, (60 << 10) * (i as usize + 1)));
    }
    // Updates after compaction still replace the records' pieces.
    log.append(&[put("k1", 50, 10), del("k2"), put("k3", 51, 70 << 10)])
        .await
        .unwrap();
    assert_eq!(check_tree(log), 1 + 6 + 1);
}

/// Readers of a record that a writer keeps replacing (spilled by spilled,
/// by inline, by nothing) see one whole state each time, never a mix of
/// two, never an error.
#[test]
fn readers_see_whole_values_while_a_writer_replaces_them() {
    let store = Embedded::temporary(&feeds(), Arc::new(ManualClock::new(5_000))).unwrap();
    let log = store.log("news").clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let len_of = |seed: u64| [0, 100, 90 << 10, 300 << 10][(seed % 4) as usize];
    runtime
        .block_on(log.append(&[put("x", 1, len_of(1))]))
        .unwrap();
    let policy = Retention {
        keep_latest: Some(2),
        tombstones: Some(std::time::Duration::ZERO),
        ..Retention::default()
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    let whole = |p: &Payload| {
        let seed: u64 = p.title.as_ref().unwrap()[1..].parse().unwrap();
        assert_eq!(*p, payload(seed, len_of(seed)));
    };
    std::thread::scope(|s| {
        let states = s.spawn(|| {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(state) = log.state("x").unwrap() {
                    whole(&state.payload);
                }
                reads += 1;
            }
            reads
        });
        let scans = s.spawn(|| {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                for t in log
                    .scan_chunks(0, u64::MAX, usize::MAX, usize::MAX)
                    .unwrap()
                {
                    t.payload.as_ref().map(whole);
                }
                reads += 1;
            }
            reads
        });
        for seed in 2..200u64 {
            let op = match seed % 4 {
                0 => del("x"),
                _ => put("x", seed, len_of(seed)),
            };
            runtime.block_on(log.append(&[op])).unwrap();
            if seed % 10 == 0 {
                log.compact_sync(&policy, 1_000_000).unwrap();
            }
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(states.join().unwrap() > 0);
        assert!(scans.join().unwrap() > 0);
    });
    check_tree(&log);
}

#[test]
fn a_version_2_store_opens_as_version_3() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::Config::new()
            .path(dir.path())
            .segment_size(SEGMENT_BYTES)
            .open()
            .unwrap();
        let tree = db.open_tree("feed/news").unwrap();
        tree.insert(b"m:format", &2u64.to_be_bytes()).unwrap();
        tree.insert(b"m:epoch", b"0123456789abcdef").unwrap();
        db.flush().unwrap();
    }
    let clock = Arc::new(ManualClock::new(0));
    let store = reopen(dir.path(), clock.clone());
    let log = store.log("news");
    assert_eq!(log.epoch(), "0123456789abcdef");
    let format = log.tree.get(b"m:format").unwrap().unwrap();
    assert_eq!(format.as_ref(), 3u64.to_be_bytes());
    drop(store);
    // A later layout is refused.
    let store = reopen(dir.path(), clock.clone());
    store
        .log("news")
        .tree
        .insert(b"m:format", &4u64.to_be_bytes())
        .unwrap();
    store.db.flush().unwrap();
    drop(store);
    for _ in 0..100 {
        match Embedded::open(dir.path(), &feeds(), clock.clone()) {
            Err(StoreError::Format { what }) => return assert_eq!(what, "feed news"),
            Err(StoreError::Backend(_)) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    panic!("locked");
}

#[test]
fn pieces_are_at_most_piece_bytes() {
    let mut batch = sled::Batch::default();
    let mut next = 5;
    let value = vec![7u8; 3 * PIECE_BYTES + 1];
    super::put(&mut batch, &mut next, b"ix", &value, None);
    assert_eq!(next, 6);
    let tree = sled::Config::new().temporary(true).open().unwrap();
    tree.apply_batch(batch).unwrap();
    let pieces: Vec<usize> = tree
        .scan_prefix([PIECE])
        .map(|kv| kv.unwrap().1.len())
        .collect();
    assert_eq!(pieces, [PIECE_BYTES, PIECE_BYTES, PIECE_BYTES, 1]);
    assert_eq!(super::next_version(&tree).unwrap(), 6);
}
