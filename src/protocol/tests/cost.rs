//! What a plan reads: the 304 path and the delta path cost O(page) rows
//! and a few index probes, whatever the log size.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// A view that counts what the protocol reads.
struct Counting<'a> {
    inner: &'a Mem,
    rows: AtomicUsize,
    probes: AtomicUsize,
}

#[async_trait]
impl LogView for Counting<'_> {
    type Error = Infallible;
    fn head(&self) -> u64 {
        self.inner.head()
    }
    fn frontier(&self, now_ms: u64) -> Frontier {
        self.inner.frontier(now_ms)
    }
    fn created_ms(&self) -> u64 {
        self.inner.created_ms()
    }
    async fn scan(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, Infallible> {
        let v = self.inner.scan(after, upto, max, max_bytes).await?;
        self.rows.fetch_add(v.len(), Relaxed);
        Ok(v)
    }
    async fn first_seq_from_second(&self, sec: u64) -> Result<Option<u64>, Infallible> {
        self.probes.fetch_add(1, Relaxed);
        self.inner.first_seq_from_second(sec).await
    }
}

/// The 304 path and the delta path read O(page) rows whatever the log size.
#[test]
fn reads_cost_a_page_not_the_log() {
    let mut log = Mem::new();
    for i in 0..50_000u64 {
        log.push(
            &format!("i{}", i % 1000),
            if i < 1000 {
                Action::Add
            } else {
                Action::Update
            },
            T0 + i * 10,
        );
    }
    let now = T0 + 10_000_000;
    let lim = Limits {
        max_entries: 100,
        max_bytes: usize::MAX,
        ..BIG
    };
    let cases = [
        (Cursor::Seq(50_000), 0),
        (Cursor::Seq(49_000), 100),
        (Cursor::Seq(10), 100),
        (Cursor::Date((T0 + 400_000) / 1000), 100),
        (Cursor::CatchUp, 100),
    ];
    for (cursor, max_rows) in cases {
        let view = Counting {
            inner: &log,
            rows: 0.into(),
            probes: 0.into(),
        };
        plan(&view, cursor, now, lim).unwrap();
        assert!(
            view.rows.load(Relaxed) <= max_rows,
            "{cursor:?} read {} rows",
            view.rows.load(Relaxed)
        );
        assert!(
            // A plan's cut and whole-second probes, and one for Last-Modified.
            view.probes.load(Relaxed) <= 4,
            "{cursor:?} probed {} times",
            view.probes.load(Relaxed)
        );
    }
}
