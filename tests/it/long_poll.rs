//! Long-poll (PROTOCOL §9): a read whose answer would be a 304 waits for the
//! head to move (`Prefer: wait=N`, `?wait=N`), is answered the moment a
//! transaction beyond its cursor is visible, and gets the 304 at its
//! deadline or at shutdown; `max_waiting` caps the waiters apart from
//! `max_connections`. Asserted by ordering (what an answer holds, which
//! answer came first), never by how long something took.

use crate::support::*;
use feedgate::metrics::WaitKind;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Resolves once `n` requests of `kind` wait on `app` (at most 10 s).
pub async fn waiting(app: &feedgate::app::App, kind: WaitKind, n: i64) {
    for _ in 0..2000 {
        if app.metrics().immediate.waiting_now(kind) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "{n} waiters expected, {} waiting",
        app.metrics().immediate.waiting_now(kind)
    );
}

/// A GET of `target` with `headers`, in a task of its own.
fn spawn_get(app: &TestApp, target: &str, headers: &[(&str, &str)]) -> JoinHandle<Resp> {
    let client = Client::new(app.addr);
    let target = target.to_string();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::spawn(async move {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (&**k, &**v)).collect();
        client.get(&target, &h).await
    })
}

async fn joined(task: JoinHandle<Resp>) -> Resp {
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the long-poll was never answered")
        .unwrap()
}

/// A gateway whose `news` feed holds one item; its head's ETag.
async fn with_one(toml: &str) -> (TestApp, String) {
    let app = TestApp::builder().toml(toml).spawn().await;
    assert_eq!(app.put("news", "a", r#"{"title":"A"}"#).await.status, 201);
    let etag = app.head_etag("news").await;
    (app, etag)
}

#[tokio::test]
async fn a_waiter_is_answered_with_the_write_that_woke_it() {
    let (app, etag) = with_one("").await;
    let poll = spawn_get(
        &app,
        "/feeds/news",
        &[("If-None-Match", &etag), ("Prefer", "wait=30")],
    );
    waiting(app.app(), WaitKind::LongPoll, 1).await;
    assert_eq!(app.put("news", "b", r#"{"title":"B"}"#).await.status, 201);
    let res = joined(poll).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("preference-applied"), Some("wait=30"));
    let feed = res.feed();
    assert_eq!(feed.ids(), [("b", "add")]);
    assert_ne!(res.etag(), etag);
    // The query form waits the same way.
    let etag = res.etag();
    let poll = spawn_get(
        &app,
        &format!("/feeds/news?wait=30&etag={}", etag.trim_matches('"')),
        &[],
    );
    waiting(app.app(), WaitKind::LongPoll, 1).await;
    assert_eq!(app.delete("news", "a").await.status, 200);
    let res = joined(poll).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.feed().ids(), [("a", "delete")]);
    assert_eq!(
        app.app()
            .metrics()
            .immediate
            .waiting_now(WaitKind::LongPoll),
        0
    );
}

#[tokio::test]
async fn a_waiter_gets_the_304_at_its_deadline() {
    let (app, etag) = with_one("max_wait = \"1s\"").await;
    // Asks for 30 s, capped at max_wait.
    let res = app
        .get(
            "/feeds/news",
            &[("If-None-Match", &etag), ("Prefer", "wait=30")],
        )
        .await;
    assert_eq!(res.status, 304);
    assert_eq!(res.etag(), etag);
    assert_eq!(res.header("preference-applied"), Some("wait=1"));
    // A read that has something to answer does not wait at all.
    let res = app.get("/feeds/news?wait=30", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("preference-applied"), None);
}

#[tokio::test]
async fn shutdown_answers_every_waiter_at_once() {
    // Were the waiters not answered, the drain would take the whole grace
    // period and the joins below would time out first.
    let (app, etag) = with_one("shutdown_grace = \"60s\"").await;
    let polls: Vec<_> = (0..3)
        .map(|_| {
            spawn_get(
                &app,
                "/feeds/news",
                &[("If-None-Match", &etag), ("Prefer", "wait=60")],
            )
        })
        .collect();
    waiting(app.app(), WaitKind::LongPoll, 3).await;
    let stopped = tokio::time::timeout(Duration::from_secs(20), app.stop()).await;
    assert!(stopped.is_ok(), "the drain waited for the waiters");
    for poll in polls {
        let res = joined(poll).await;
        assert_eq!(res.status, 304);
        assert_eq!(res.etag(), etag);
    }
}

#[tokio::test]
async fn over_max_waiting_a_read_is_answered_at_once() {
    let (app, etag) = with_one("max_waiting = 1").await;
    let first = spawn_get(
        &app,
        "/feeds/news",
        &[("If-None-Match", &etag), ("Prefer", "wait=30")],
    );
    waiting(app.app(), WaitKind::LongPoll, 1).await;
    // Answered while the first still waits: the 304, not an error.
    let second = app
        .get(
            "/feeds/news",
            &[("If-None-Match", &etag), ("Prefer", "wait=30")],
        )
        .await;
    assert_eq!(second.status, 304);
    assert_eq!(second.header("preference-applied"), None);
    assert!(!first.is_finished());
    assert_eq!(app.put("news", "b", r#"{"title":"B"}"#).await.status, 201);
    assert_eq!(joined(first).await.status, 200);
}

#[tokio::test]
async fn waiters_do_not_take_the_connection_slots() {
    let (app, etag) = with_one("max_connections = 2").await;
    let mut polls = Vec::new();
    for n in 1..=6 {
        let h = [("If-None-Match", &*etag), ("Prefer", "wait=30")];
        polls.push(spawn_get(&app, "/feeds/news", &h));
        // Each one waits, and gives its slot back, before the next connects.
        waiting(app.app(), WaitKind::LongPoll, n).await;
    }
    // Six connections wait; ordinary requests are still served.
    assert_eq!(
        app.get("/feeds/news", &[("If-None-Match", &etag)])
            .await
            .status,
        304
    );
    assert_eq!(app.put("news", "b", r#"{"title":"B"}"#).await.status, 201);
    for poll in polls {
        let res = joined(poll).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.feed().ids(), [("b", "add")]);
    }
}

#[tokio::test]
async fn a_date_cursor_waits_for_its_second_to_settle() {
    let (app, _) = with_one("").await;
    // Wait for a's second to close, so its Last-Modified names it.
    let mut date = String::new();
    for _ in 0..400 {
        let res = app.get("/feeds/news", &[]).await;
        if res.feed().ids() == [("a", "add")] {
            date = res.header("last-modified").unwrap().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!date.is_empty());
    let poll = spawn_get(
        &app,
        "/feeds/news",
        &[("If-Modified-Since", &date), ("Prefer", "wait=30")],
    );
    waiting(app.app(), WaitKind::LongPoll, 1).await;
    assert_eq!(app.put("news", "b", r#"{"title":"B"}"#).await.status, 201);
    let res = joined(poll).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.feed().ids(), [("b", "add")]);
    assert_eq!(res.header("preference-applied"), Some("wait=30"));
}

#[tokio::test]
async fn a_wait_that_is_not_a_number_is_refused() {
    let (app, etag) = with_one("").await;
    let res = app
        .get("/feeds/news?wait=soon", &[("If-None-Match", &etag)])
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.problem(), "invalid_parameter");
    // An unknown preference value is ignored (RFC 7240).
    let res = app
        .get(
            "/feeds/news",
            &[("If-None-Match", &etag), ("Prefer", "wait=soon")],
        )
        .await;
    assert_eq!(res.status, 304);
}

#[tokio::test]
async fn on_postgres_a_write_on_one_process_wakes_a_waiter_on_another() {
    let Some(pg) = crate::migrate::pg::server() else {
        return;
    };
    let url = pg.database().await;
    let toml = format!("store = {url:?}");
    let a = TestApp::builder().toml(&toml).spawn().await;
    let b = TestApp::builder().toml(&toml).spawn().await;
    assert_eq!(a.put("news", "a", r#"{"title":"A"}"#).await.status, 201);
    let etag = a.head_etag("news").await;
    let poll = spawn_get(
        &a,
        "/feeds/news",
        &[("If-None-Match", &etag), ("Prefer", "wait=30")],
    );
    waiting(a.app(), WaitKind::LongPoll, 1).await;
    assert_eq!(b.put("news", "b", r#"{"title":"B"}"#).await.status, 201);
    let res = joined(poll).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.feed().ids(), [("b", "add")]);
}
