//! Server-sent events (PROTOCOL §9): one event per transaction, backlog
//! then live, `Last-Event-ID` resumes exactly where a dropped stream ended,
//! heartbeats, `retry:`, the lifetime and shutdown end streams, the cap,
//! and authorization through `access_token`.

use crate::long_poll::waiting;
use crate::support::*;
use feedgate::metrics::WaitKind;
use std::time::Duration;

/// One event as the stream framed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    id: String,
    event: String,
    data: serde_json::Value,
}

impl Event {
    fn seq(&self) -> u64 {
        self.id.rsplit('.').next().unwrap().parse().unwrap()
    }
}

/// An open event stream.
struct Stream {
    res: reqwest::Response,
    buf: String,
    /// Comment lines and `retry:` lines seen so far.
    other: Vec<String>,
}

async fn open(app: &TestApp, target: &str, headers: &[(&str, &str)]) -> Stream {
    let mut req = reqwest::Client::new()
        .get(format!("http://{}{target}", app.addr))
        .header("Accept", "text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h = |n: &str| res.headers().get(n).unwrap().to_str().unwrap().to_string();
    assert_eq!(h("content-type"), "text/event-stream");
    assert_eq!(h("cache-control"), "no-store");
    Stream {
        res,
        buf: String::new(),
        other: Vec::new(),
    }
}

impl Stream {
    /// The next event; `None` once the stream ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, None);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).unwrap());
                    } else if !line.is_empty() {
                        self.other.push(line.to_string());
                    }
                }
                match (id, event, data) {
                    (Some(id), Some(event), Some(data)) => return Some(Event { id, event, data }),
                    (None, Some(event), Some(data)) => {
                        return Some(Event {
                            id: String::new(),
                            event,
                            data,
                        })
                    }
                    _ => {}
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(15), self.res.chunk())
                .await
                .expect("no event within 15 s")
                .unwrap()?;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    async fn take(&mut self, n: usize) -> Vec<Event> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(self.next().await.expect("the stream ended early"));
        }
        v
    }
}

fn summary(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e.data["id"].as_str().unwrap().to_string(), e.event.clone()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn backlog_then_live_one_event_per_transaction() {
    let app = TestApp::builder()
        .toml("sse_retry = \"750ms\"")
        .spawn()
        .await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    app.put("news", "b", r#"{"title":"B"}"#).await;
    let mut s = open(&app, "/feeds/news", &[]).await;
    let backlog = s.take(2).await;
    assert_eq!(summary(&backlog), pairs(&[("a", "add"), ("b", "add")]));
    assert_eq!(backlog[0].data["title"], "A");
    assert_eq!(s.other.first().map(String::as_str), Some("retry: 750"));
    // Three transactions, one of them to the same item: three events.
    app.put("news", "a", r#"{"title":"A2"}"#).await;
    app.put("news", "a", r#"{"title":"A3"}"#).await;
    app.delete("news", "b").await;
    let live = s.take(3).await;
    assert_eq!(
        summary(&live),
        pairs(&[("a", "update"), ("a", "update"), ("b", "delete")])
    );
    assert_eq!(live[1].data["title"], "A3");
    assert_eq!(live[2].data, serde_json::json!({"id": "b"}));
    let seqs: Vec<u64> = backlog.iter().chain(&live).map(Event::seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let epoch = app.head_etag("news").await;
    assert!(epoch.starts_with(&format!("\"{}", live[0].id.split('.').next().unwrap())));
}

#[tokio::test]
async fn last_event_id_replays_exactly_what_a_dropped_stream_missed() {
    let app = TestApp::builder().spawn().await;
    for i in 0..3 {
        app.put("news", &format!("i{i}"), r#"{"title":"x"}"#).await;
    }
    let mut s = open(&app, "/feeds/news", &[]).await;
    let first = s.take(2).await;
    drop(s);
    for i in 3..6 {
        app.put("news", &format!("i{i}"), r#"{"title":"x"}"#).await;
    }
    let last = first.last().unwrap().id.clone();
    let mut s = open(&app, "/feeds/news", &[("Last-Event-ID", &last)]).await;
    let rest = s.take(4).await;
    let seqs: Vec<u64> = first.iter().chain(&rest).map(Event::seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6], "nothing lost, nothing repeated");
    // Last-Event-ID comes before the other validators.
    let head = app.head_etag("news").await;
    let mut s = open(
        &app,
        "/feeds/news",
        &[("Last-Event-ID", &last), ("If-None-Match", &head)],
    )
    .await;
    assert_eq!(s.next().await.unwrap().seq(), 3);
    // Without it, If-None-Match and ?etag are cursors as for documents.
    let mut s = open(&app, "/feeds/news", &[("If-None-Match", &head)]).await;
    app.put("news", "live", r#"{"title":"x"}"#).await;
    assert_eq!(s.next().await.unwrap().seq(), 7);
    let q = format!("/feeds/news?etag={}", last);
    let mut s = open(&app, &q, &[]).await;
    assert_eq!(s.next().await.unwrap().seq(), 3);
}

#[tokio::test]
async fn a_position_of_another_epoch_gets_a_reset_then_the_whole_log() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    let mut s = open(
        &app,
        "/feeds/news",
        &[("Last-Event-ID", "0000000000000000.9")],
    )
    .await;
    let got = s.take(2).await;
    assert_eq!(got[0].event, "reset");
    assert_eq!(summary(&got[1..]), pairs(&[("a", "add")]));
}

#[tokio::test]
async fn heartbeats_then_the_end_of_the_lifetime() {
    let toml = "sse_heartbeat = \"100ms\"\nsse_lifetime = \"1s\"";
    let app = TestApp::builder().toml(toml).spawn().await;
    let mut s = open(&app, "/feeds/news", &[]).await;
    assert_eq!(s.next().await, None, "the stream ends after its lifetime");
    assert!(s.other.iter().any(|l| l == ": heartbeat"), "{:?}", s.other);
    assert_eq!(
        app.app().metrics().immediate.waiting_now(WaitKind::Stream),
        0
    );
}

#[tokio::test]
async fn shutdown_ends_every_stream() {
    let app = TestApp::builder()
        .toml("shutdown_grace = \"60s\"")
        .spawn()
        .await;
    let mut streams = Vec::new();
    for n in 1..=3 {
        streams.push(open(&app, "/feeds/news", &[]).await);
        waiting(app.app(), WaitKind::Stream, n).await;
    }
    let stopped = tokio::time::timeout(Duration::from_secs(20), app.stop()).await;
    assert!(stopped.is_ok(), "the drain waited for the streams");
    for mut s in streams {
        assert_eq!(s.next().await, None);
    }
}

#[tokio::test]
async fn over_max_waiting_a_stream_sends_its_backlog_and_ends() {
    let app = TestApp::builder().toml("max_waiting = 1").spawn().await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    let mut first = open(&app, "/feeds/news", &[]).await;
    first.take(1).await;
    waiting(app.app(), WaitKind::Stream, 1).await;
    let mut second = open(&app, "/feeds/news", &[]).await;
    assert_eq!(summary(&second.take(1).await), pairs(&[("a", "add")]));
    assert_eq!(second.next().await, None);
    app.put("news", "b", r#"{"title":"B"}"#).await;
    assert_eq!(summary(&first.take(1).await), pairs(&[("b", "add")]));
}

#[tokio::test]
async fn a_stream_is_a_feed_read_for_authorization() {
    let toml = format!(
        "[credentials.reader]\ntoken_sha256 = \"{}\"\nroles = {{ news = \"read\" }}\n\
         [credentials.writer]\ntoken_sha256 = \"{}\"\nroles = {{ news = \"write\" }}\n",
        feedgate::auth::hash_secret("t-reader"),
        feedgate::auth::hash_secret("t-writer"),
    );
    let app = TestApp::builder().toml(&toml).spawn().await;
    let res = app
        .get("/feeds/news", &[("Accept", "text/event-stream")])
        .await;
    assert_eq!(res.status, 401);
    let res = app
        .get(
            "/feeds/other?access_token=t-reader",
            &[("Accept", "text/event-stream")],
        )
        .await;
    assert_eq!(res.status, 403);
    let mut s = open(&app, "/feeds/news?access_token=t-reader", &[]).await;
    let put = app
        .req(
            "PUT",
            "/feeds/news/items/a",
            &[
                ("Authorization", "Bearer t-writer"),
                ("Content-Type", "application/json"),
            ],
            br#"{"title":"A"}"#,
        )
        .await;
    assert_eq!(put.status, 201);
    assert_eq!(summary(&s.take(1).await), pairs(&[("a", "add")]));
}
