//! What processes on one database share beyond the log itself: the
//! upstream sync turn, consumer records, and compaction while the other
//! process appends or compacts too (two `Postgres` stores on one database
//! stand for two processes, as in `tests.rs`).

use super::tests::{bounded, two};
use crate::clock::SystemClock;
use crate::store::{Backend, Log};
use std::sync::Arc;
use std::time::Duration;

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
