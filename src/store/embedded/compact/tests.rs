//! The sled backend's compaction bookkeeping (the conformance suite covers
//! what compaction does): the dropped mark is stored with the removal, so
//! it survives a restart.

use super::super::tests::{del, feeds, put, reopen};
use super::*;
use crate::clock::{Clock, ManualClock};
use crate::protocol::LogView;
use crate::store::embedded::Embedded;
use std::sync::Arc;
use std::time::Duration;

const T0: u64 = 1_700_000_000_000;

#[tokio::test]
async fn the_dropped_mark_is_stored_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    {
        let store = Embedded::open(dir.path(), &feeds(), clock.clone()).unwrap();
        let log = store.log("news");
        log.append(&[put("a", "1"), put("b", "1")]).await.unwrap(); // 1, 2
        log.append(&[del("b")]).await.unwrap(); // 3
        clock.advance(2 * 3_600_000);
        log.append(&[put("a", "2")]).await.unwrap(); // 4
        let policy = Retention {
            tombstones: Some(Duration::from_secs(3600)),
            ..Retention::default()
        };
        let report = log.compact_sync(&policy, clock.now_ms()).unwrap();
        assert_eq!(report.tombstones_dropped, 1);
        assert_eq!(u64_of(log.tree.get(DROPPED).unwrap()), 3);
        crate::store::Backend::flush(&store).await.unwrap();
    }
    let store = reopen(dir.path(), clock.clone());
    let log = store.log("news");
    assert_eq!((log.dropped(), log.dropped_stamp()), (3, T0));
    assert_eq!(log.head(), 4);
}
