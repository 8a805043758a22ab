//! What only a store shared by several processes must do: two `Postgres`
//! stores on one database stand for two feedgate processes (each has its
//! own pool, notification connection and views). The conformance suite
//! runs against this backend too (`store::conformance`).

use super::testing::server;
use super::{pending_migrations, Postgres, MIGRATIONS};
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::cursor::Cursor;
use crate::protocol::{plan, Limits, LogView, Plan};
use crate::store::conformance::put;
use crate::store::{Backend, Log, LogRef, Op};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Two processes' stores on one fresh database, with feed `news`.
pub(super) async fn two(
    clock_a: Arc<dyn Clock>,
    clock_b: Arc<dyn Clock>,
) -> Option<(Postgres, Postgres)> {
    let url = server()?.database().await;
    let feeds = ["news".to_string()];
    let a = Postgres::open(&url, &feeds, clock_a).await.unwrap();
    let b = Postgres::open(&url, &feeds, clock_b).await.unwrap();
    Some((a, b))
}

pub(super) async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(60), f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no end after 60 s"),
    }
}

/// Wait until `cond` holds (checked every 10 ms, at most 10 s).
pub(super) async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not after 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_run_once_and_pending_ones_are_reported() {
    let Some(server) = server() else { return };
    let url = server.database().await;
    let pending = pending_migrations(&url).await.unwrap();
    assert_eq!(pending, MIGRATIONS.to_vec());
    assert_eq!(pending[0].version, 1);
    let feeds = ["news".to_string()];
    let clock = Arc::new(SystemClock);
    // Two processes starting at once: one migrates, the other finds it done.
    let (a, b) = tokio::join!(
        Postgres::open(&url, &feeds, clock.clone()),
        Postgres::open(&url, &feeds, clock.clone())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(pending_migrations(&url).await.unwrap().is_empty());
    // One feed row, so one epoch and creation instant for every process.
    let (la, lb) = (a.feed("news").unwrap(), b.feed("news").unwrap());
    assert_eq!(la.epoch(), lb.epoch());
    assert_eq!(la.created_ms(), lb.created_ms());
    drop((a, b));
    let c = Postgres::open(&url, &feeds, clock).await.unwrap();
    assert_eq!(c.feed("news").unwrap().epoch(), la.epoch());
    assert!(c.size_on_disk().await.unwrap() > 0);
    c.check_writable().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heads_reach_the_other_process_by_notification_and_on_demand() {
    let clock = Arc::new(SystemClock);
    let Some((a, b)) = two(clock.clone(), clock).await else {
        return;
    };
    let (la, lb) = (a.feed("news").unwrap(), b.feed("news").unwrap());
    la.append(&[put("x", "1"), put("y", "1")]).await.unwrap();
    // No query of B's: its view learns the head from the notification.
    eventually("B sees head 2", || lb.head() == 2).await;
    assert_eq!(lb.published().live, 2);
    // Unchanged on B answers the seq A wrote, within B's head.
    let again = lb.append(&[put("x", "1")]).await.unwrap();
    assert_eq!((again.applied[0].seq, again.head), (1, 2));
    // A position beyond a process's view is re-read at once.
    la.append(&[put("z", "1")]).await.unwrap();
    assert_eq!(lb.head_at_least(3).await.unwrap(), 3);
    assert_eq!(lb.head_at_least(9).await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_notification_connection_falls_back_to_re_reading_heads() {
    let clock = Arc::new(SystemClock);
    let Some((a, b)) = two(clock.clone(), clock).await else {
        return;
    };
    let (la, lb) = (a.feed("news").unwrap(), b.feed("news").unwrap());
    // Cut every listening connection (A's and B's).
    let conn = b.shared.pool.get().await.unwrap();
    let cut = conn
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query = 'LISTEN feedgate'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cut, 2);
    // (`/readyz` shows what `health` says.)
    let said = |state: &str| b.health() == [("notifications", state.to_string())];
    eventually("B notices", || !b.listening() && said("reconnecting")).await;
    la.append(&[put("x", "1")]).await.unwrap();
    eventually("B re-reads the head", || lb.head() == 1).await;
    eventually("B listens again", || b.listening() && said("listening")).await;
    eventually("A listens again", || a.listening()).await;
    la.append(&[put("x", "2")]).await.unwrap();
    eventually("B is notified again", || lb.head() == 2).await;
}

/// A write stamped by one process and committed after another process was
/// asked for the seconds up to now: the other process does not close the
/// write's second until it is committed, and then shows it to a date cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_in_flight_in_one_process_holds_the_seconds_of_the_other() {
    let clock_a = Arc::new(ManualClock::new(10_000));
    let clock_b = Arc::new(ManualClock::new(12_000));
    let Some((a, b)) = two(clock_a.clone(), clock_b.clone()).await else {
        return;
    };
    let (la, lb) = (a.log("news").clone(), b.feed("news").unwrap());
    clock_a.set(10_500);
    let held = la.hold.write().await;
    let la2 = la.clone();
    let write = tokio::spawn(async move { la2.append(&[put("x", "1")]).await });
    // The write has its stamp and waits to commit, holding the feed's row.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!write.is_finished());
    // B is read at 12 s: it asks for the seconds before 12 closed...
    let f = lb.frontier(12_000);
    assert_eq!((f.head, f.open_ms), (0, 10_000));
    tokio::time::sleep(Duration::from_millis(800)).await;
    // ...but cannot close them while the write is in flight.
    assert_eq!(lb.frontier(12_000).open_ms, 10_000);
    let page = plan(lb.as_ref(), Cursor::Date(9), 12_000, limits(10))
        .await
        .unwrap();
    assert!(
        matches!(page, Plan::NotModified { position: 0, .. }),
        "{page:?}"
    );
    drop(held);
    assert_eq!(write.await.unwrap().unwrap().head, 1);
    eventually("B closes the seconds before 12 s", || {
        lb.frontier(12_000).open_ms == 12_000
    })
    .await;
    match plan(lb.as_ref(), Cursor::Date(9), 12_000, limits(10))
        .await
        .unwrap()
    {
        Plan::Page(p) => {
            let seqs: Vec<u64> = p.entries.iter().map(|e| e.seq).collect();
            assert_eq!((seqs, p.last_modified), (vec![1], 10));
        }
        other => panic!("{other:?}"),
    }
    // And A's next write is stamped no earlier than what B closed.
    la.append(&[put("y", "1")]).await.unwrap();
    assert_eq!(la.scan(1, 2, 1, usize::MAX).await.unwrap()[0].stamp, 12_000);
}

fn limits(n: usize) -> Limits {
    Limits {
        max_entries: n,
        max_bytes: usize::MAX,
        second_entries: usize::MAX,
        second_bytes: usize::MAX,
    }
}

/// Each consumer's transactions in the order it saw them.
type Seen = Vec<u64>;

/// A consumer switching process at every poll, by ETag: re-reads a view
/// behind its position first, as the read path does.
async fn etag_consumer(logs: [LogRef; 2], total: u64) -> Seen {
    let (mut held, mut seen, mut turn) = (0, Vec::new(), 0);
    while held < total {
        let log = &logs[turn % 2];
        turn += 1;
        log.head_at_least(held).await.unwrap();
        let now = SystemClock.now_ms();
        match plan(log.as_ref(), Cursor::Seq(held), now, limits(7))
            .await
            .unwrap()
        {
            Plan::NotModified { position, .. } => {
                assert_eq!(position, held);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            Plan::Page(p) => {
                assert_eq!(p.after, held);
                seen.extend(p.entries.iter().map(|e| e.seq));
                held = p.last;
            }
        }
    }
    seen
}

/// A consumer switching process at every poll that keeps only the
/// `Last-Modified` of each page (a 304 does not move it back).
async fn date_consumer(logs: [LogRef; 2], total: u64) -> Seen {
    let (mut date, mut seen, mut turn) = (None, Vec::<u64>::new(), 0);
    while seen.last().copied().unwrap_or(0) < total {
        let log = &logs[turn % 2];
        turn += 1;
        let cursor = date.map_or(Cursor::CatchUp, Cursor::Date);
        let now = SystemClock.now_ms();
        match plan(log.as_ref(), cursor, now, limits(5)).await.unwrap() {
            Plan::NotModified { .. } => tokio::time::sleep(Duration::from_millis(5)).await,
            Plan::Page(p) => {
                seen.extend(p.entries.iter().map(|e| e.seq));
                date = Some(p.last_modified);
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_concurrent_appenders_and_consumers_switching_between_them() {
    let clock = Arc::new(SystemClock);
    let Some((a, b)) = two(clock.clone(), clock).await else {
        return;
    };
    let logs = [a.feed("news").unwrap(), b.feed("news").unwrap()];
    const PRODUCERS: u64 = 3; // per process
    const EACH: u64 = 40;
    let total = 2 * PRODUCERS * (EACH + EACH / 4);
    let mut producers = Vec::new();
    for (p, log) in (0..2 * PRODUCERS).zip(logs.iter().cycle()) {
        let log = log.clone();
        producers.push(tokio::spawn(async move {
            let mut x = p * 7919 + 1;
            for i in 0..EACH {
                let mut ops: Vec<Op> = vec![put(&format!("p{p}-{i}"), "x")];
                if i % 4 == 3 {
                    ops.push(put(&format!("p{p}-b{i}"), "y"));
                }
                log.append(&ops).await.unwrap();
                x = x.wrapping_mul(6364136223846793005) % 1_000_003;
                tokio::time::sleep(Duration::from_millis(x % 60)).await;
            }
        }));
    }
    // Writes now and then wait between their stamp and their commit.
    let holds = {
        let (ha, hb) = (a.log("news").clone(), b.log("news").clone());
        tokio::spawn(async move {
            for i in 0u64.. {
                let h = if i % 2 == 0 { &ha } else { &hb };
                let guard = h.hold.write().await;
                tokio::time::sleep(Duration::from_millis(10 + i % 40)).await;
                drop(guard);
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };
    let by_etag = tokio::spawn(etag_consumer(logs.clone(), total));
    let by_date = tokio::spawn(date_consumer(logs.clone(), total));
    let started = std::time::Instant::now();
    bounded("producers", async {
        for p in producers {
            p.await.unwrap();
        }
    })
    .await;
    holds.abort();
    let by_etag = bounded("ETag consumer", by_etag).await.unwrap();
    let by_date = bounded("date consumer", by_date).await.unwrap();
    // Every transaction once, in order: the first one out of place, if any.
    let wrong = |seen: &Seen| {
        let at =
            (0..seen.len().max(total as usize)).find(|&i| seen.get(i) != Some(&(i as u64 + 1)));
        at.map(|i| (i as u64 + 1, seen.get(i).copied()))
    };
    assert_eq!(wrong(&by_etag), None, "by ETag: (expected, seen)");
    assert_eq!(wrong(&by_date), None, "by date: (expected, seen)");
    // Both processes hold the same log.
    let scan = |log: &LogRef| {
        let log = log.clone();
        async move { log.scan(0, total, usize::MAX, usize::MAX).await.unwrap() }
    };
    assert_eq!(scan(&logs[0]).await, scan(&logs[1]).await);
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "spans a second boundary"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_configured_with_a_postgres_url_keeps_its_feeds_there() {
    let Some(server) = server() else { return };
    let url = server.database().await;
    let config = |url: &str| {
        let text = format!("store = \"{url}\"\n[feeds.news]\n[feeds.other]\n");
        crate::config::Config::from_toml(&text).unwrap()
    };
    let clock = Arc::new(SystemClock);
    let app = crate::app::App::build(config(&url), clock.clone())
        .await
        .unwrap();
    let news = app.feed("news").unwrap();
    news.append(&[put("a", "1")]).await.unwrap();
    // A second process on the same database sees the write and the epoch.
    let other = crate::app::App::build(config(&url), clock).await.unwrap();
    let log = other.feed("news").unwrap().log();
    assert_eq!(log.epoch(), news.log().epoch());
    assert_eq!(log.head_at_least(1).await.unwrap(), 1);
    let a = log.item("a").await.unwrap().unwrap();
    assert_eq!((a.seq, a.payload.title.as_deref()), (1, Some("1")));
    assert_eq!(other.feed("other").unwrap().log().head(), 0);
}
