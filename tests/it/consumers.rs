//! Consumer reporting: polls recorded under the
//! credential, `consumer` parameter or `From` header; `GET
//! /feeds/{feed}/consumers` with positions, poll times and lag; records that
//! survive a graceful restart and a crash; the admin rule.

use crate::support::*;
use feedgate::auth::hash_secret;
use serde_json::Value;
use std::time::{Duration, SystemTime};

async fn epoch(app: &Client) -> String {
    let v = app.get("/feeds", &[]).await.json();
    v["feeds"][0]["epoch"].as_str().unwrap().to_string()
}

fn names(report: &Value) -> Vec<&str> {
    report["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

fn find<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no consumer {name} in {report}"))
}

/// Both forms of the last poll name the same instant, close to now.
fn check_poll_times(c: &Value) {
    let imf = httpdate::parse_http_date(c["last_poll"].as_str().unwrap()).unwrap();
    let rfc =
        chrono::DateTime::parse_from_rfc3339(c["last_poll_rfc3339"].as_str().unwrap()).unwrap();
    let rfc_secs = rfc.timestamp() as u64;
    let imf_secs = imf
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(imf_secs, rfc_secs);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(imf_secs) < 60, "{c}");
}

#[tokio::test]
async fn polls_are_recorded_and_reported_with_lag() {
    let app = TestApp::builder().spawn().await;
    for id in ["a", "b", "c"] {
        app.put("news", id, r#"{"title": "t"}"#).await;
    }
    let e = epoch(&app).await;
    let r = app
        .get(&format!("/feeds/news?etag={e}.1&consumer=app-1"), &[])
        .await;
    assert_eq!(r.status, 200);
    let held = format!("\"{e}.3\"");
    let r = app
        .get(
            "/feeds/news",
            &[("If-None-Match", &held), ("From", "ops@example.org")],
        )
        .await;
    assert_eq!(r.status, 304);
    // Anonymous, `If-None-Match: *`, and an unusable name: not recorded.
    app.get("/feeds/news", &[]).await;
    app.get("/feeds/news?consumer=star", &[("If-None-Match", "*")])
        .await;
    let long = "x".repeat(129);
    app.get(&format!("/feeds/news?consumer={long}"), &[]).await;
    // A query name beats From; a catch-up holds position 0.
    app.get(
        "/feeds/news.atom?consumer=zed",
        &[("From", "not-me@example.org")],
    )
    .await;

    let r = app.get("/feeds/news/consumers", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let report = r.json();
    assert_eq!(report["feed"], "news");
    assert_eq!(report["head"], format!("{e}.3"));
    assert_eq!(names(&report), ["app-1", "ops@example.org", "zed"]);
    let app1 = find(&report, "app-1");
    assert_eq!(app1["position"], format!("{e}.1"));
    assert_eq!(app1["lag_transactions"], 2);
    let lag = app1["lag_seconds"].as_f64().unwrap();
    assert!((0.0..5.0).contains(&lag), "{lag}");
    check_poll_times(app1);
    let ops = find(&report, "ops@example.org");
    assert_eq!(ops["position"], format!("{e}.3"));
    assert_eq!(
        (&ops["lag_transactions"], &ops["lag_seconds"]),
        (&Value::from(0), &Value::from(0.0))
    );
    let zed = find(&report, "zed");
    assert_eq!(
        (zed["position"].as_str().unwrap(), &zed["lag_transactions"]),
        (format!("{e}.0").as_str(), &Value::from(3))
    );

    // The next poll moves the position.
    app.get(&format!("/feeds/news?etag={e}.2&consumer=app-1"), &[])
        .await;
    let report = app.get("/feeds/news/consumers", &[]).await.json();
    assert_eq!(find(&report, "app-1")["lag_transactions"], 1);

    // The other feed has its own list; unknown feeds are 404; only reads are allowed.
    let other = app.get("/feeds/other/consumers", &[]).await.json();
    assert_eq!(names(&other), Vec::<&str>::new());
    let r = app.get("/feeds/nope/consumers", &[]).await;
    assert_eq!((r.status, r.problem()), (404, "feed_not_found".to_string()));
    let r = app.req("POST", "/feeds/news/consumers", &[], b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));

    // Lag is exported to Prometheus as well.
    let m = app.get("/metrics", &[]).await;
    let t = m.text();
    assert!(
        t.lines()
            .any(|l| l == "feedgate_consumers{feed=\"news\"} 3"),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l == "feedgate_consumer_lag_transactions{feed=\"news\",consumer=\"zed\"} 3"),
        "{t}"
    );
    app.stop().await;
}

#[tokio::test]
async fn records_survive_a_graceful_restart() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title": "t"}"#).await;
    app.put("news", "b", r#"{"title": "t"}"#).await;
    let e = epoch(&app).await;
    app.get(&format!("/feeds/news?etag={e}.1&consumer=keeper"), &[])
        .await;
    let before = app.get("/feeds/news/consumers", &[]).await.json();
    let dir = app.stop().await;
    let app = TestApp::builder().dir(dir).spawn().await;
    let after = app.get("/feeds/news/consumers", &[]).await.json();
    assert_eq!(before["consumers"], after["consumers"]);
    assert_eq!(find(&after, "keeper")["position"], format!("{e}.1"));
    app.stop().await;
}

#[tokio::test]
async fn with_credentials_the_credential_names_the_consumer_and_the_report_needs_admin() {
    let extra = format!(
        r#"
[credentials.reader]
token_sha256 = "{}"
roles = {{ news = "read" }}
[credentials.newsadmin]
token_sha256 = "{}"
roles = {{ news = "admin" }}
"#,
        hash_secret("t-reader"),
        hash_secret("t-admin"),
    );
    let app = TestApp::builder().toml(&extra).spawn().await;
    let r = app
        .get(
            "/feeds/news?consumer=someone-else",
            &[
                ("Authorization", "Bearer t-reader"),
                ("From", "x@example.org"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app.get("/feeds/news/consumers", &[]).await;
    assert_eq!(r.status, 401);
    let r = app
        .get(
            "/feeds/news/consumers",
            &[("Authorization", "Bearer t-reader")],
        )
        .await;
    assert_eq!((r.status, r.problem()), (403, "forbidden".to_string()));
    let r = app
        .get(
            "/feeds/other/consumers",
            &[("Authorization", "Bearer t-admin")],
        )
        .await;
    assert_eq!(r.status, 403, "admin of news only");
    let r = app
        .get(
            "/feeds/news/consumers",
            &[("Authorization", "Bearer t-admin")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(names(&r.json()), ["reader"]);
    app.stop().await;
}

/// The periodic persist: a poll survives `kill -9` once a persist period
/// has passed.
#[tokio::test]
async fn records_survive_a_crash_after_the_persist_period() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feedgate.toml");
    std::fs::write(&config, "[feeds.news]\n").unwrap();
    let data = dir.path().join("data");
    let (config, data) = (config.to_str().unwrap(), data.to_str().unwrap());
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        config,
        "--data-dir",
        data,
    ];
    let start = || {
        let p = binary::start(&args, &[]);
        let app = Client::new(p.addr);
        (p, app)
    };
    let (child, app) = start();
    app.put("news", "a", r#"{"title": "t"}"#).await;
    let e = epoch(&app).await;
    app.get(&format!("/feeds/news?etag={e}.0&consumer=survivor"), &[])
        .await;
    tokio::time::sleep(feedgate::server::PERSIST_EVERY + Duration::from_millis(1500)).await;
    child.kill();
    let (child, app) = start();
    let report = app.get("/feeds/news/consumers", &[]).await.json();
    child.kill();
    assert_eq!(names(&report), ["survivor"]);
    assert_eq!(find(&report, "survivor")["position"], format!("{e}.0"));
}
