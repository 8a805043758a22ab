//! When upstream feeds sync and what operators see: single-flight for
//! concurrent readers, the bounded wait, `refresh`, the background
//! `interval`, state kept across restarts, status in `GET /feeds` and
//! `/readyz`, request headers that reach the origin but no log, redirects,
//! https through rustls.

use crate::support::{
    origin::{Origin, Reply},
    upstream_kit::*,
    *,
};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn one(id: &str) -> Reply {
    Reply::json(&json!([{"id": id, "title": id}]))
}

#[tokio::test]
async fn concurrent_readers_share_one_fetch() {
    let origin = Origin::start().await;
    origin.set("/i", one("a"));
    origin.set_delay(Duration::from_millis(800));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/i"), "json", ""))
        .spawn()
        .await;
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = Client::new(app.addr);
        readers.spawn(async move { client.get("/feeds/mirror", &[]).await.status });
    }
    while let Some(status) = readers.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(origin.hits(), 1, "one fetch for eight concurrent readers");
    assert_eq!(feed_info(&app, "mirror").await["head"], 1);
}

#[tokio::test]
async fn readers_wait_a_bounded_time_then_get_the_log() {
    let origin = Origin::start().await;
    origin.set("/i", one("a"));
    origin.set_delay(Duration::from_millis(1500));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/i"), "json", "wait = \"200ms\""))
        .spawn()
        .await;
    let started = Instant::now();
    let r = app.get("/feeds/mirror", &[]).await;
    let waited = started.elapsed();
    assert_eq!(r.status, 200);
    assert!(r.feed().entries.is_empty(), "answered from the (empty) log");
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_millis(1200),
        "{waited:?}"
    );
    // The fetch goes on without the reader and lands in the log.
    assert_eq!(feed_info(&app, "mirror").await["head"], 0);
    wait_for_head(&app, "mirror", 1).await;
    assert_eq!(origin.hits(), 1);
}

#[tokio::test]
async fn refresh_limits_fetches() {
    let origin = Origin::start().await;
    origin.set("/i", one("a"));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/i"), "json", "refresh = \"1h\""))
        .spawn()
        .await;
    for _ in 0..3 {
        assert_eq!(app.get("/feeds/mirror", &[]).await.status, 200);
    }
    assert_eq!(
        origin.hits(),
        1,
        "a fresh feed is served without asking the origin"
    );
    // Push feeds never touch it.
    app.get("/feeds/news", &[]).await;
    assert_eq!(origin.hits(), 1);
}

async fn wait_for_head(app: &TestApp, feed: &str, head: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while feed_info(app, feed).await["head"] != head {
        assert!(Instant::now() < deadline, "head never reached {head}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn background_interval_syncs_without_readers() {
    let origin = Origin::start().await;
    origin.set("/i", one("a"));
    let keys = "refresh = \"1h\"\ninterval = \"200ms\"";
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/i"), "json", keys))
        .spawn()
        .await;
    wait_for_head(&app, "mirror", 1).await;
    origin.set("/i", Reply::json(&json!([{"id": "a"}, {"id": "b"}])));
    wait_for_head(&app, "mirror", 3).await;
    assert!(origin.hits() >= 2);
}

#[tokio::test]
async fn validators_survive_a_restart() {
    let origin = Origin::start().await;
    origin.set("/i", one("a").with_etag("\"e1\""));
    let extra = mirror(&origin.url("/i"), "json", "");
    let app = TestApp::builder().toml(&extra).spawn().await;
    let mut c = Consumer::new("mirror");
    assert_eq!(c.poll(&app).await.len(), 1);
    let dir = app.stop().await;
    let app = TestApp::builder().toml(&extra).dir(dir).spawn().await;
    let hits = origin.hits();
    assert!(c.once(&app).await.is_none());
    assert_eq!(origin.hits(), hits + 1);
    assert_eq!(origin.last_seen().header("if-none-match"), Some("\"e1\""));
    assert_eq!(status(&app, "mirror").await["last_outcome"], "not_modified");
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn status_readiness_and_secret_headers() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    // The test runtime is single-threaded: this captures the server's logs too.
    let _guard = tracing::subscriber::set_default(subscriber);

    let origin = Origin::start().await;
    origin.set("/i", Reply::Status(503));
    let secret = "Bearer s3cret-token";
    let keys = format!("headers = {{ Authorization = \"{secret}\", X-Tenant = \"t1\" }}");
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/i?key=q"), "json", &keys))
        .spawn()
        .await;
    assert_eq!(app.get("/feeds/mirror", &[]).await.status, 200);
    let seen = origin.last_seen();
    assert_eq!(seen.header("authorization"), Some(secret));
    assert_eq!(seen.header("x-tenant"), Some("t1"));

    let ready = app.get("/readyz", &[]).await;
    assert_eq!(
        ready.status, 200,
        "an upstream failure does not make the gateway unready"
    );
    let body = ready.json();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["upstreams_failing"], 1);
    assert_eq!(body["upstreams"]["mirror"]["state"], "failing");
    assert_eq!(body["upstreams"]["mirror"]["consecutive_failures"], 1);
    assert!(body["upstreams"]["mirror"]["last_error"]
        .as_str()
        .unwrap()
        .contains("503"));
    let st = status(&app, "mirror").await;
    assert_eq!(st["url"], format!("http://{}/i?…", origin.addr));
    assert!(st["last_sync"].as_str().unwrap().ends_with('Z'));
    assert_eq!(st["last_success"], serde_json::Value::Null);

    let listing = app.get("/feeds", &[]).await;
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("upstream sync failed"),
        "logs were captured: {logged}"
    );
    for text in [ready.text(), listing.text(), &logged] {
        assert!(
            !text.contains("s3cret") && !text.contains("key=q"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn redirects_are_followed_within_the_limit() {
    let origin = Origin::start().await;
    origin.set("/items", one("a"));
    origin.set("/old", Reply::Redirect("/items".into()));
    origin.set("/loop", Reply::Redirect("/loop".into()));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/old"), "json", ""))
        .spawn()
        .await;
    assert_eq!(Consumer::new("mirror").poll(&app).await.len(), 1);
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/loop"), "json", "max_redirects = 3"))
        .spawn()
        .await;
    app.get("/feeds/mirror", &[]).await;
    let st = status(&app, "mirror").await;
    assert!(
        st["last_error"].as_str().unwrap().contains("redirect"),
        "{st}"
    );
    assert_eq!(
        origin.seen().iter().filter(|s| s.path == "/loop").count(),
        4
    );
}

#[tokio::test]
async fn https_goes_through_rustls_and_refused_connections_fail_cleanly() {
    // A server that answers plain HTTP at once, behind an https URL: the TLS
    // handshake fails (so https is supported at all, by rustls), and nothing
    // changes.
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_addr = plain.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = plain.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let url = format!("https://{plain_addr}/i");
    let app = TestApp::builder()
        .toml(&mirror(&url, "json", "timeout = \"2s\""))
        .spawn()
        .await;
    app.get("/feeds/mirror", &[]).await;
    let st = status(&app, "mirror").await;
    let err = st["last_error"].as_str().unwrap().to_ascii_lowercase();
    assert!(!err.contains("scheme") && !err.contains("builder"), "{err}");
    assert!(
        err.contains("tls") || err.contains("corrupt") || err.contains("handshake"),
        "{err}"
    );
    assert_eq!(feed_info(&app, "mirror").await["head"], 0);

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let app = TestApp::builder()
        .toml(&mirror(&format!("http://{addr}/i"), "json", ""))
        .spawn()
        .await;
    app.get("/feeds/mirror", &[]).await;
    let st = status(&app, "mirror").await;
    // One line, each cause once: not reqwest's, hyper's and the socket's
    // wrappers around it ("error sending request for url: client error
    // (Connect): tcp connect error: …").
    assert_eq!(
        st["last_error"], "cannot connect: Connection refused (os error 111)",
        "{st}"
    );
}

#[tokio::test]
async fn host_names_resolve_through_hickory() {
    // hickory reads /etc/hosts (no glibc NSS involved).
    let origin = Origin::start().await;
    origin.set("/i", one("a"));
    let url = format!("http://localhost:{}/i", origin.addr.port());
    let app = TestApp::builder()
        .toml(&mirror(&url, "json", ""))
        .spawn()
        .await;
    assert_eq!(Consumer::new("mirror").poll(&app).await.len(), 1);
    assert_eq!(
        origin.last_seen().header("host"),
        Some(&*format!("localhost:{}", origin.addr.port()))
    );
}
