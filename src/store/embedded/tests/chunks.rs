//! The log's chunks: how appends fill them, and that reads, reopening and
//! compaction see every transaction exactly once across chunk boundaries.

use super::super::codec;
use super::super::keys::chunk_key;
use super::super::*;
use super::super::{CHUNK_BYTES, CHUNK_TXNS};
use super::{del, feeds, put, reopen};
use crate::clock::ManualClock;
use crate::protocol::LogView;

/// The number of chunks, after checking that each is within its bounds (or
/// holds a single transaction).
fn chunk_count(log: &FeedLog) -> usize {
    let mut n = 0;
    for kv in log.tree.range(chunk_key(0)..=chunk_key(u64::MAX)) {
        let (_, chunk) = kv.unwrap();
        let txns = codec::entries(&chunk).count();
        assert!(txns <= CHUNK_TXNS, "{txns} transactions");
        assert!(
            txns == 1 || chunk.len() <= CHUNK_BYTES,
            "{} bytes",
            chunk.len()
        );
        n += 1;
    }
    n
}

/// Every position sees exactly the transactions after it, in order, with
/// `max` = 1, 7 and unbounded.
fn assert_scans_exact(log: &FeedLog) {
    let head = log.head();
    let all: Vec<u64> = log
        .scan_chunks(0, head, usize::MAX, usize::MAX)
        .unwrap()
        .iter()
        .map(|t| t.seq)
        .collect();
    for after in 0..=head {
        let want: Vec<u64> = all.iter().copied().filter(|s| *s > after).collect();
        for max in [1, 7, usize::MAX] {
            let got: Vec<u64> = log
                .scan_chunks(after, head, max, usize::MAX)
                .unwrap()
                .iter()
                .map(|t| t.seq)
                .collect();
            let n = want.len().min(max);
            assert_eq!(got, want[..n], "after {after}, max {max}");
        }
        if after > 0 && all.contains(&after) {
            assert!(log.stamp_of(after).unwrap().is_some(), "stamp of {after}");
        }
    }
}

#[tokio::test]
async fn lone_appends_share_chunks_and_batches_split_into_them() {
    let store = Embedded::temporary(&feeds(), Arc::new(ManualClock::new(5_000))).unwrap();
    let log = store.log("news");
    for i in 0..200 {
        log.append(&[put(&format!("a{i}"), "t")]).await.unwrap();
    }
    // Small transactions: a chunk takes CHUNK_TXNS of them, not one key each.
    assert_eq!(chunk_count(log), 200usize.div_ceil(CHUNK_TXNS));
    let batch: Vec<Op> = (0..1000).map(|i| put(&format!("b{i}"), "t")).collect();
    log.append(&batch).await.unwrap();
    let chunks = chunk_count(log);
    assert!(
        chunks <= 1200usize.div_ceil(CHUNK_TXNS) + 1,
        "{chunks} chunks"
    );
    // Larger transactions: the byte bound splits them (chunk_count checks it).
    let batch: Vec<Op> = (0..100)
        .map(|i| put(&format!("c{i}"), &"y".repeat(500)))
        .collect();
    log.append(&batch).await.unwrap();
    let more = chunk_count(log) - chunks;
    let per = CHUNK_BYTES / 560;
    // (the first of them may join the newest chunk)
    assert!(
        (100 / per - 1..=100 / per + 2).contains(&more),
        "{more} chunks for 100"
    );
    assert_eq!(log.head(), 1300);
    assert_scans_exact(log);
}

#[tokio::test]
async fn large_transactions_start_new_chunks_and_reopening_keeps_filling_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(5_000));
    let big = "x".repeat(CHUNK_BYTES);
    {
        let store = Embedded::open(dir.path(), &feeds(), clock.clone()).unwrap();
        let log = store.log("news");
        log.append(&[put("a", "small")]).await.unwrap();
        log.append(&[put("b", &big)]).await.unwrap();
        // Too big to join the first chunk: a chunk of its own, which is then full.
        assert_eq!(chunk_count(log), 2);
        log.append(&[put("c", "small")]).await.unwrap();
        assert_eq!(chunk_count(log), 3);
        store.flush().await.unwrap();
    }
    let store = reopen(dir.path(), clock);
    let log = store.log("news");
    assert_eq!(log.head(), 3);
    log.append(&[put("d", "small")]).await.unwrap();
    assert_eq!(chunk_count(log), 3, "the reopened log fills its last chunk");
    let seqs: Vec<(u64, String)> = log
        .scan_chunks(0, 10, 10, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|t| (t.seq, t.id))
        .collect();
    assert_eq!(
        seqs,
        [
            (1, "a".into()),
            (2, "b".into()),
            (3, "c".into()),
            (4, "d".into())
        ]
    );
}

#[tokio::test]
async fn compaction_rewrites_chunks_and_the_writer_starts_a_new_one() {
    let store = Embedded::temporary(&feeds(), Arc::new(ManualClock::new(5_000))).unwrap();
    let log = store.log("news");
    for round in 0..5 {
        for i in 0..30 {
            log.append(&[put(&format!("k{i}"), &format!("r{round}"))])
                .await
                .unwrap();
        }
    }
    // Supersedes a transaction of the newest chunk, which compaction rewrites.
    log.append(&[put("k29", "r5")]).await.unwrap();
    log.append(&[del("k0")]).await.unwrap();
    let policy = Retention {
        keep_latest: Some(1),
        ..Retention::default()
    };
    let report = log.compact_sync(&policy, 5_000).unwrap();
    // Rounds 1-3 of every item go (round 0 is each item's add, round 4 its
    // state), and the round 4 of k0 (deleted) and of k29 (updated again).
    assert_eq!(report.removed, 92);
    assert_scans_exact(log);
    let head = log.head();
    log.append(&[put("k1", "after")]).await.unwrap();
    let txns = log
        .scan_chunks(0, head + 1, usize::MAX, usize::MAX)
        .unwrap();
    assert_eq!(txns.len(), 152 - 92 + 1);
    assert_eq!(
        txns.last().map(|t| (t.seq, t.id.as_str())),
        Some((head + 1, "k1"))
    );
    assert_scans_exact(log);
}

#[test]
fn a_store_in_the_old_layout_is_refused_with_a_way_out() {
    // Written by the previous version: sled's default segments, one key per transaction.
    let old = |segments: Option<usize>| {
        let dir = tempfile::tempdir().unwrap();
        let mut config = sled::Config::new().path(dir.path());
        if let Some(size) = segments {
            config = config.segment_size(size);
        }
        let db = config.open().unwrap();
        let tree = db.open_tree("feed/news").unwrap();
        tree.insert(b"m:epoch", b"0123456789abcdef").unwrap();
        tree.insert(b"l\0\0\0\0\0\0\0\x01", b"{}").unwrap();
        db.flush().unwrap();
        drop(tree);
        drop(db);
        let clock = Arc::new(ManualClock::new(0));
        for _ in 0..100 {
            match Embedded::open(dir.path(), &feeds(), clock.clone()) {
                Err(StoreError::Format { what }) => return what,
                Err(StoreError::Backend(_)) => {
                    // sled's file lock, still held for a moment: try again.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => panic!("{:?}", other.map(|_| ())),
            }
        }
        panic!("locked");
    };
    assert!(old(None).contains("segments"));
    assert_eq!(old(Some(SEGMENT_BYTES)), "feed news");
    let err = StoreError::Format {
        what: "feed news".into(),
    };
    assert!(err.to_string().contains("export"), "{err}");
}
