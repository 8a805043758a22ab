//! `GET /metrics`: Prometheus text through the real
//! server, with the counters moved by real reads and writes, and its access
//! rule (open without credentials, admin on every feed with them).

use crate::support::{
    origin::{Origin, Reply},
    *,
};
use feedgate::auth::hash_secret;

/// The value of one series (`name{labels}` exactly as exposed).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

fn must(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

async fn epoch(app: &TestApp, feed: &str) -> String {
    let v = app.get("/feeds", &[]).await.json();
    let f = v["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == feed)
        .unwrap()
        .clone();
    f["epoch"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn reads_writes_and_requests_are_counted() {
    let app = TestApp::builder().spawn().await;
    for id in ["a", "b", "c"] {
        assert_eq!(app.put("news", id, r#"{"title": "one"}"#).await.status, 201);
    }
    assert_eq!(
        app.put("news", "a", r#"{"title": "two"}"#).await.status,
        200
    );
    // Identical: appends nothing, but is still an append call.
    assert_eq!(
        app.put("news", "a", r#"{"title": "two"}"#).await.status,
        200
    );
    assert_eq!(app.delete("news", "b").await.status, 200);
    let batch = r#"[{"id": "d", "title": "x"}, {"id": "e", "title": "y"}]"#;
    assert_eq!(app.batch("other", batch).await.status, 200);

    let e = epoch(&app, "news").await;
    // Pages selected by ETag may reach into the current second: seqs 1-3
    // (three adds), then 4-5 (an update and a delete).
    let r = app
        .get(&format!("/feeds/news?etag={e}.0&limit=3"), &[])
        .await;
    assert_eq!((r.status, r.feed().entries.len()), (200, 3));
    let r = app.get(&format!("/feeds/news.atom?etag={e}.3"), &[]).await;
    assert_eq!((r.status, r.feed().entries.len()), (200, 2));
    let head = format!("\"{e}.5\"");
    let r = app.get("/feeds/news", &[("If-None-Match", &head)]).await;
    assert_eq!(r.status, 304);
    let r = app
        .get(
            "/feeds/news",
            &[("If-None-Match", &head), ("Accept", "application/atom+xml")],
        )
        .await;
    assert_eq!(r.status, 304);
    assert_eq!(app.get("/feeds/news?limit=0", &[]).await.status, 400);
    assert_eq!(app.get("/nowhere", &[]).await.status, 404);

    let m = app.get("/metrics", &[]).await;
    assert_eq!(m.status, 200);
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let t = m.text();
    let reads = |format: &str, outcome: &str| {
        must(
            t,
            &format!("feedgate_feed_reads_total{{feed=\"news\",format=\"{format}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(reads("rss", "page"), 1.0);
    assert_eq!(reads("atom", "page"), 1.0);
    assert_eq!(reads("rss", "not_modified"), 1.0);
    assert_eq!(reads("atom", "not_modified"), 1.0);
    // Entries per page: 3 and 2.
    assert_eq!(
        must(t, "feedgate_feed_page_entries_count{feed=\"news\"}"),
        2.0
    );
    assert_eq!(
        must(t, "feedgate_feed_page_entries_sum{feed=\"news\"}"),
        5.0
    );
    assert_eq!(
        must(
            t,
            "feedgate_feed_page_entries_bucket{feed=\"news\",le=\"2\"}"
        ),
        1.0
    );
    let appended = |feed: &str, action: &str| {
        must(
            t,
            &format!("feedgate_transactions_appended_total{{feed=\"{feed}\",action=\"{action}\"}}"),
        )
    };
    assert_eq!(appended("news", "add"), 3.0);
    assert_eq!(appended("news", "update"), 1.0);
    assert_eq!(appended("news", "delete"), 1.0);
    assert_eq!(appended("other", "add"), 2.0);
    // Six append calls on news (the unchanged PUT included), one on other.
    assert_eq!(
        must(t, "feedgate_append_duration_seconds_count{feed=\"news\"}"),
        6.0
    );
    assert_eq!(
        must(t, "feedgate_append_duration_seconds_count{feed=\"other\"}"),
        1.0
    );
    assert!(must(t, "feedgate_append_duration_seconds_sum{feed=\"news\"}") > 0.0);
    let requests = |route: &str, status: u16| {
        must(
            t,
            &format!("feedgate_http_requests_total{{route=\"{route}\",status=\"{status}\"}}"),
        )
    };
    assert_eq!(requests("item", 201), 3.0);
    assert_eq!(requests("item", 200), 3.0);
    assert_eq!(requests("items", 200), 1.0);
    assert_eq!(requests("feed", 200), 2.0);
    assert_eq!(requests("feed", 304), 2.0);
    assert_eq!(requests("feed", 400), 1.0);
    assert_eq!(requests("unknown", 404), 1.0);
    assert!(must(t, "feedgate_store_size_bytes") > 0.0);
    // The scrape itself is counted once it is answered.
    let t2 = app.get("/metrics", &[]).await;
    assert_eq!(
        must(
            t2.text(),
            "feedgate_http_requests_total{route=\"metrics\",status=\"200\"}"
        ),
        1.0
    );
    app.stop().await;
}

#[tokio::test]
async fn the_304_share_is_the_ratio_of_read_outcomes() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title": "one"}"#).await;
    let e = epoch(&app, "news").await;
    let held = format!("\"{e}.1\"");
    for _ in 0..3 {
        let r = app.get("/feeds/news", &[("If-None-Match", &held)]).await;
        assert_eq!(r.status, 304);
    }
    let r = app.get(&format!("/feeds/news?etag={e}.0"), &[]).await;
    assert_eq!(r.status, 200);
    let t = app.get("/metrics", &[]).await;
    let t = t.text();
    let not_modified = must(
        t,
        "feedgate_feed_reads_total{feed=\"news\",format=\"rss\",outcome=\"not_modified\"}",
    );
    let page = must(
        t,
        "feedgate_feed_reads_total{feed=\"news\",format=\"rss\",outcome=\"page\"}",
    );
    assert_eq!(not_modified / (not_modified + page), 0.75);
    app.stop().await;
}

#[tokio::test]
async fn with_credentials_metrics_need_admin_on_every_feed() {
    let extra = format!(
        r#"
[credentials.reader]
token_sha256 = "{}"
roles = {{ "*" = "read" }}
[credentials.newsadmin]
token_sha256 = "{}"
roles = {{ news = "admin" }}
[credentials.ops]
token_sha256 = "{}"
roles = {{ "*" = "admin" }}
"#,
        hash_secret("t-reader"),
        hash_secret("t-newsadmin"),
        hash_secret("t-ops"),
    );
    let app = TestApp::builder().toml(&extra).spawn().await;
    let r = app.get("/metrics", &[]).await;
    assert_eq!((r.status, r.problem()), (401, "unauthorized".to_string()));
    for token in ["t-reader", "t-newsadmin"] {
        let auth = format!("Bearer {token}");
        let r = app.get("/metrics", &[("Authorization", &auth)]).await;
        assert_eq!(
            (r.status, r.problem()),
            (403, "forbidden".to_string()),
            "{token}"
        );
    }
    let r = app
        .get("/metrics", &[("Authorization", "Bearer t-ops")])
        .await;
    assert_eq!(r.status, 200);
    assert!(value(r.text(), "feedgate_store_size_bytes").is_some());
    // Health probes stay open.
    assert_eq!(app.get("/healthz", &[]).await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn upstream_syncs_are_counted_by_outcome_with_their_transactions() {
    let origin = Origin::start().await;
    let items = serde_json::json!([{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]);
    origin.set("/items.json", Reply::json(&items).with_etag("\"v1\""));
    let url = origin.url("/items.json");
    let app = TestApp::builder()
        .toml(&upstream_kit::mirror(&url, "json", ""))
        .spawn()
        .await;
    let mut c = upstream_kit::Consumer::new("mirror");
    assert_eq!(c.poll(&app).await.len(), 2);
    // The origin answers 304 next, then fails.
    c.once(&app).await;
    origin.set("/items.json", Reply::Status(500));
    c.once(&app).await;
    let t = app.get("/metrics", &[]).await;
    let t = t.text();
    let syncs = |outcome: &str| {
        value(
            t,
            &format!("feedgate_upstream_syncs_total{{feed=\"mirror\",outcome=\"{outcome}\"}}"),
        )
    };
    // Every consumer read syncs (refresh 0s): one applied, then 304s, then one failure.
    let (applied, not_modified, failed) = (
        syncs("applied").unwrap_or(0.0),
        syncs("not_modified").unwrap_or(0.0),
        syncs("failed").unwrap_or(0.0),
    );
    assert_eq!((applied, failed), (1.0, 1.0), "{t}");
    assert!(not_modified >= 1.0, "{t}");
    let total = upstream_kit::status(&app, "mirror").await["syncs"]
        .as_f64()
        .unwrap();
    assert_eq!(applied + not_modified + failed, total, "{t}");
    assert_eq!(
        must(
            t,
            "feedgate_transactions_appended_total{feed=\"mirror\",action=\"add\"}"
        ),
        2.0
    );
    app.stop().await;
}

#[tokio::test]
async fn build_info_and_the_process_series() {
    let app = TestApp::builder().spawn().await;
    let m = app.get("/metrics", &[]).await.text().to_string();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        m.contains(&format!("feedgate_build_info{{version=\"{version}\"}} 1")),
        "{m}"
    );
    let value = |name: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {m}"))
    };
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(value("process_virtual_memory_bytes") > 1e6);
    assert!(value("process_open_fds") >= 3.0);
    assert!(value("process_max_fds") >= value("process_open_fds"));
    assert!(value("process_cpu_seconds_total") > 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = value("process_start_time_seconds");
    assert!(
        started <= now + 1.0 && started > now - 3600.0,
        "{started} vs {now}"
    );
}
