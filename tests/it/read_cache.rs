//! The read path's ready-made answers (`http::cache`) over HTTP: a page
//! served from memory is byte for byte what a fresh rendering would be,
//! through writes (the digest follows the head; a page that reached the head
//! grows), compaction (pages change), and every variation of format, limit,
//! URL, method and `A-IM`; reads served from memory are counted and recorded
//! like any other.
//!
//! "Fresh" answers come from the same server under another `Host`: the host
//! is part of what a page shows (its links), so such a request is never
//! served from memory, and its body with the host swapped back is what the
//! cached answer must equal.

use crate::support::*;
use std::time::Duration;

const CACHED: &str = "cached.example";

async fn get_as(app: &TestApp, method: &str, host: &str, path: &str, inm: &str) -> Resp {
    let mut headers = vec![("Host", host)];
    if !inm.is_empty() {
        headers.push(("If-None-Match", inm));
    }
    app.req(method, path, &headers, b"").await
}

/// The answer from memory (after a first request rendered it) and a fresh
/// one, checked to be the same bytes and headers; returns the body.
async fn same_as_fresh(app: &TestApp, path: &str, inm: &str, fresh_host: &str) -> String {
    let cached = get_as(app, "GET", CACHED, path, inm).await;
    let fresh = get_as(app, "GET", fresh_host, path, inm).await;
    assert_eq!(cached.status, fresh.status, "{path} {inm}");
    let swapped = fresh.text().replace(fresh_host, CACHED);
    assert_eq!(cached.text(), swapped, "{path} {inm}: cached vs fresh");
    for h in [
        "etag",
        "last-modified",
        "content-type",
        "cache-control",
        "vary",
    ] {
        assert_eq!(cached.header(h), fresh.header(h), "{path} {inm}: {h}");
    }
    assert_eq!(
        cached.header("content-length"),
        Some(cached.body.len().to_string().as_str())
    );
    assert_eq!(
        cached.header("link").map(|l| l.replace(CACHED, fresh_host)),
        fresh.header("link").map(str::to_string),
        "{path}"
    );
    cached.text().to_string()
}

async fn epoch(app: &TestApp) -> String {
    app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn cached_pages_follow_writes_exactly() {
    let app = TestApp::builder().spawn().await;
    for i in 1..=5 {
        app.put("news", &format!("i{i}"), &format!(r#"{{"title":"t{i}"}}"#))
            .await;
    }
    let e = epoch(&app).await;
    let full = format!("\"{e}.1\""); // seqs 2..3 of 5 with limit 2: ends before the head
    let at_head = format!("\"{e}.4\""); // seq 5: reaches the head
    let mut round = 0;
    let mut check = |path: &'static str, inm: String| {
        round += 1;
        let app = &app;
        async move {
            // Twice: the first renders and keeps it, the second comes from memory.
            get_as(app, "GET", CACHED, path, &inm).await;
            same_as_fresh(app, path, &inm, &format!("fresh-{round}.example")).await
        }
    };
    let before = check("/feeds/news?limit=2", full.clone()).await;
    let before_atom = check("/feeds/news.atom?limit=2", full.clone()).await;
    let short = check("/feeds/news?limit=2", at_head.clone()).await;
    assert!(before.contains("<sync:tick>6</sync:tick>"), "{before}");
    for i in 6..=7 {
        app.put("news", &format!("i{i}"), &format!(r#"{{"title":"t{i}"}}"#))
            .await;
    }
    // The full pages keep their entries and show the new head in the digest.
    let after = check("/feeds/news?limit=2", full.clone()).await;
    assert!(after.contains("<sync:tick>8</sync:tick>"), "{after}");
    assert_eq!(
        Feed::parse(after.as_bytes()).ids(),
        Feed::parse(before.as_bytes()).ids()
    );
    let after_atom = check("/feeds/news.atom?limit=2", full.clone()).await;
    assert_eq!(
        Feed::parse(after_atom.as_bytes()).ids(),
        Feed::parse(before_atom.as_bytes()).ids()
    );
    // The page that had reached the head now holds what came since.
    let grown = check("/feeds/news?limit=2", at_head.clone()).await;
    assert_eq!(Feed::parse(short.as_bytes()).ids(), [("i5", "add")]);
    assert_eq!(
        Feed::parse(grown.as_bytes()).ids(),
        [("i5", "add"), ("i6", "add")]
    );
    // The head itself: a ready-made 304, then a new one once the head moves.
    let head = format!("\"{e}.7\"");
    for _ in 0..2 {
        let r = get_as(&app, "GET", CACHED, "/feeds/news", &head).await;
        assert_eq!((r.status, r.etag()), (304, head.clone()));
        assert!(r.header("last-modified").is_some());
    }
    app.put("news", "i8", r#"{"title":"t8"}"#).await;
    let r = get_as(&app, "GET", CACHED, "/feeds/news", &head).await;
    assert_eq!(r.status, 200);
    let r = get_as(&app, "GET", CACHED, "/feeds/news", &format!("\"{e}.8\"")).await;
    assert_eq!((r.status, r.etag()), (304, format!("\"{e}.8\"")));
}

#[tokio::test]
async fn format_limit_url_and_method_variants_are_kept_apart() {
    let app = TestApp::builder().spawn().await;
    for i in 1..=6 {
        app.put("news", &format!("i{i}"), &format!(r#"{{"title":"t{i}"}}"#))
            .await;
    }
    let inm = format!("\"{}.1\"", epoch(&app).await);
    let paths = [
        "/feeds/news",
        "/feeds/news.atom",
        "/feeds/news.rss",
        "/feeds/news?format=atom",
        "/feeds/news?limit=1",
        "/feeds/news?limit=2",
        "/feeds/news.atom?limit=2&x=y",
    ];
    for p in paths {
        get_as(&app, "GET", CACHED, p, &inm).await;
    }
    let mut bodies = Vec::new();
    for (n, p) in paths.iter().enumerate() {
        bodies.push(same_as_fresh(&app, p, &inm, &format!("fresh-{n}.example")).await);
    }
    for (i, a) in bodies.iter().enumerate() {
        for b in &bodies[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // HEAD and A-IM: feed are answered from the same page.
    let get = get_as(&app, "GET", CACHED, "/feeds/news?limit=2", &inm).await;
    let head = get_as(&app, "HEAD", CACHED, "/feeds/news?limit=2", &inm).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    let headers = [("Host", CACHED), ("If-None-Match", &inm), ("A-IM", "feed")];
    // (A plain 200 on a feed without `im_feed`; `im_feed.rs` has the 226.)
    let im = app.get("/feeds/news?limit=2", &headers).await;
    assert_eq!(im.status, 200);
    assert_eq!(im.header("im"), None);
    assert_eq!(im.header("cache-control"), get.header("cache-control"));
    assert_eq!(im.body, get.body);
    // Selected by `If-None-Match`: not for shared caches (PROTOCOL §3 Caches).
    assert_eq!(get.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn compaction_changes_what_is_served() {
    let app = TestApp::builder()
        .toml("[feeds.news.retention]\ncompact_after = \"1s\"\ninterval = \"100ms\"\n")
        .spawn()
        .await;
    for (id, title) in [
        ("a", "a0"),
        ("b", "b0"),
        ("c", "c0"),
        ("a", "a1"),
        ("a", "a2"),
    ] {
        app.put("news", id, &format!(r#"{{"title":"{title}"}}"#))
            .await;
    }
    // After position 3 with limit 1: seq 4 (a1) until compaction removes it,
    // then seq 5 (a2).
    let inm = format!("\"{}.3\"", epoch(&app).await);
    let path = "/feeds/news?limit=1";
    let before = get_as(&app, "GET", CACHED, path, &inm).await;
    let shown = Feed::parse(&before.body);
    assert_eq!(shown.entries[0].title.as_deref(), Some("a1"));
    let mut n = 0;
    let compacted = loop {
        n += 1;
        let fresh = get_as(&app, "GET", &format!("f{n}.example"), path, &inm).await;
        let title = Feed::parse(&fresh.body).entries[0].title.clone();
        if title.as_deref() == Some("a2") {
            break fresh;
        }
        assert!(n < 100, "compaction did not happen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cached = get_as(&app, "GET", CACHED, path, &inm).await;
    assert_eq!(
        cached.text(),
        compacted.text().replace(&format!("f{n}.example"), CACHED)
    );
    assert_eq!(cached.etag(), compacted.etag());
}

#[tokio::test]
async fn reads_from_memory_are_counted_and_recorded() {
    let app = TestApp::builder().spawn().await;
    for i in 1..=3 {
        app.put("news", &format!("i{i}"), &format!(r#"{{"title":"t{i}"}}"#))
            .await;
    }
    let e = epoch(&app).await;
    let inm = format!("\"{e}.1\"");
    let pages = |m: &str| -> u64 {
        m.lines()
            .find(|l| {
                l.starts_with("feedgate_feed_reads_total{")
                    && l.contains("feed=\"news\"")
                    && l.contains("format=\"rss\"")
                    && l.contains("outcome=\"page\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let before = pages(app.get("/metrics", &[]).await.text());
    for _ in 0..3 {
        let r = app
            .get("/feeds/news?consumer=reader", &[("If-None-Match", &inm)])
            .await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(pages(app.get("/metrics", &[]).await.text()), before + 3);
    let report = app.get("/feeds/news/consumers", &[]).await.json();
    let c = &report["consumers"][0];
    assert_eq!(c["name"], "reader");
    assert_eq!(c["position"], format!("{e}.1"));
}
