//! Upstream-derived feeds against a real origin server (PROTOCOL §6): the
//! exact transactions each origin change produces, conditional GET to the
//! origin, failures that change nothing, the mass-delete guard, JSON
//! mapping, RSS and Atom origins, read-only feeds.

use crate::support::{
    origin::{Origin, Reply},
    upstream_kit::*,
    *,
};
use serde_json::json;

fn items(list: &[(&str, &str)]) -> serde_json::Value {
    list.iter()
        .map(|(id, title)| json!({"id": id, "title": title}))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn json_origin_changes_become_exact_transactions() {
    let origin = Origin::start().await;
    let v1 = [("a", "A"), ("b", "B"), ("c", "C")];
    origin.set("/items.json", Reply::json(&items(&v1)).with_etag("\"v1\""));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/items.json"), "json", ""))
        .spawn()
        .await;
    let mut c = Consumer::new("mirror");
    let got = c.poll(&app).await;
    assert_eq!(
        triples(&got),
        [t("a", "add", 1), t("b", "add", 2), t("c", "add", 3)]
    );
    assert_eq!(c.titles(), pairs(&v1));

    // Unchanged origin: the gateway sends the origin's ETag back, gets a 304,
    // and the consumer stays at 304.
    let hits = origin.hits();
    assert!(c.once(&app).await.is_none());
    assert_eq!(origin.hits(), hits + 1);
    assert_eq!(origin.last_seen().header("if-none-match"), Some("\"v1\""));
    assert_eq!(status(&app, "mirror").await["last_outcome"], "not_modified");

    // b changed, c gone, d new: update, add, delete, in that order.
    let v2 = [("a", "A"), ("b", "B2"), ("d", "D")];
    origin.set("/items.json", Reply::json(&items(&v2)).with_etag("\"v2\""));
    let got = c.poll(&app).await;
    assert_eq!(
        triples(&got),
        [t("b", "update", 4), t("d", "add", 5), t("c", "delete", 6)]
    );
    assert_eq!(c.titles(), pairs(&v2));
    let st = status(&app, "mirror").await;
    assert_eq!(st["state"], "ok");
    assert_eq!(st["format"], "json");

    // Same items under a new ETag (and in another order): no transaction.
    let v3 = [("d", "D"), ("b", "B2"), ("a", "A")];
    origin.set("/items.json", Reply::json(&items(&v3)).with_etag("\"v3\""));
    assert!(c.once(&app).await.is_none());
    let st = status(&app, "mirror").await;
    assert_eq!(st["last_outcome"], "unchanged");
    assert_eq!(feed_info(&app, "mirror").await["head"], 6);

    // The item JSON is what the origin said.
    let item = app.get("/feeds/mirror/items/b", &[]).await.json();
    assert_eq!(item, json!({"id": "b", "title": "B2"}));
}

#[tokio::test]
async fn failed_origin_responses_change_nothing() {
    let origin = Origin::start().await;
    let path = "/items.json";
    origin.set(path, Reply::json(&items(&[("a", "A"), ("b", "B")])));
    let keys = "timeout = \"500ms\"\nmax_bytes = 1024";
    let app = TestApp::builder()
        .toml(&mirror(&origin.url(path), "json", keys))
        .spawn()
        .await;
    let mut c = Consumer::new("mirror");
    c.poll(&app).await;
    let big = json!([{"id": "a", "title": "x".repeat(2000)}]);
    let failures = [
        (Reply::Status(500), "HTTP 500"),
        (Reply::Status(404), "HTTP 404"),
        (
            Reply::body("<html>oops</html>", "text/html"),
            "unparseable json",
        ),
        (
            Reply::Truncated {
                body: br#"[{"id": "a", "title": "A"}"#.to_vec(),
                declared: 400,
            },
            "truncated",
        ),
        (Reply::json(&big), "larger than the limit of 1024 bytes"),
        // Small on the wire, too large once decoded: the limit applies after gzip.
        (
            Reply::json(&big).gzipped(),
            "larger than the limit of 1024 bytes",
        ),
        (Reply::Hang, "timed out"),
    ];
    for (n, (reply, error)) in failures.into_iter().enumerate() {
        origin.set(path, reply);
        let started = std::time::Instant::now();
        assert!(
            c.once(&app).await.is_none(),
            "case {error}: the consumer stays at 304"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{error}"
        );
        let st = status(&app, "mirror").await;
        assert_eq!(st["state"], "failing", "{error}");
        assert_eq!(st["last_outcome"], "failed", "{error}");
        assert_eq!(st["consecutive_failures"], n as u64 + 1);
        let text = st["last_error"].as_str().unwrap();
        assert!(text.contains(error), "expected {error:?} in {text:?}");
        assert_eq!(feed_info(&app, "mirror").await["head"], 2, "{error}");
    }
    origin.set(
        path,
        Reply::json(&items(&[("a", "A"), ("b", "B"), ("c", "C")])),
    );
    assert_eq!(triples(&c.poll(&app).await), [t("c", "add", 3)]);
    let st = status(&app, "mirror").await;
    assert_eq!(
        (st["state"].as_str(), st["consecutive_failures"].as_u64()),
        (Some("ok"), Some(0))
    );
    assert_eq!(st["failures"], 7);
    assert_eq!(st["last_error"], serde_json::Value::Null);
}

#[tokio::test]
async fn mass_delete_guard_refuses_a_wipe() {
    let origin = Origin::start().await;
    let path = "/items.json";
    let all = [("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")];
    origin.set(path, Reply::json(&items(&all)));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url(path), "json", ""))
        .spawn()
        .await;
    let mut c = Consumer::new("mirror");
    assert_eq!(c.poll(&app).await.len(), 4);
    // An empty list by mistake, then one that keeps a single item: refused.
    for (list, gone) in [(&[][..], "4 of 4"), (&all[..1], "3 of 4")] {
        origin.set(path, Reply::json(&items(list)));
        assert!(c.once(&app).await.is_none());
        let st = status(&app, "mirror").await;
        assert_eq!(st["last_outcome"], "refused");
        let text = st["last_error"].as_str().unwrap();
        assert!(
            text.contains("mass-delete guard") && text.contains(gone),
            "{text}"
        );
    }
    assert_eq!(c.titles(), pairs(&all));
    // Half of them is within max_delete_ratio = 0.5.
    origin.set(path, Reply::json(&items(&all[..2])));
    assert_eq!(
        triples(&c.poll(&app).await),
        [t("c", "delete", 5), t("d", "delete", 6)]
    );
    assert_eq!(c.titles(), pairs(&all[..2]));
}

#[tokio::test]
async fn json_mapping_gzip_and_last_modified() {
    let origin = Origin::start().await;
    let doc = json!({"data": {"products": [
        {"sku": 101, "name": "Lamp", "url": "https://shop.example/101", "tags": "lighting",
         "meta": {"date": "Tue, 02 Jan 2024 10:00:00 +0100"}, "price": 12.5},
        {"sku": "102", "name": "Desk", "tags": ["furniture", "office"]},
        {"name": "no sku"}
    ]}});
    let date = "Tue, 02 Jan 2024 10:00:00 GMT";
    origin.set("/p", Reply::json(&doc).with_last_modified(date).gzipped());
    let keys = "items_key = \"data.products\"\nid_field = \"sku\"\nfields = { title = \"name\", link = \"url\", categories = \"tags\", published = \"meta.date\" }";
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/p"), "json", keys))
        .spawn()
        .await;
    let mut c = Consumer::new("mirror");
    let got = c.poll(&app).await;
    assert_eq!(triples(&got), [t("101", "add", 1), t("102", "add", 2)]);
    assert!(origin.seen()[0]
        .header("accept-encoding")
        .unwrap_or("")
        .contains("gzip"));
    let lamp = app.get("/feeds/mirror/items/101", &[]).await.json();
    assert_eq!(
        lamp,
        json!({"id": "101", "title": "Lamp", "link": "https://shop.example/101",
               "categories": ["lighting"], "published": "2024-01-02T09:00:00Z"})
    );
    assert_eq!(status(&app, "mirror").await["skipped_items"], 1);
    // Only Last-Modified from the origin: it comes back as If-Modified-Since.
    assert!(c.once(&app).await.is_none());
    assert_eq!(origin.last_seen().header("if-modified-since"), Some(date));
    assert_eq!(status(&app, "mirror").await["last_outcome"], "not_modified");
}

const RSS_V1: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>O</title><link>https://o/</link><description>d</description>
<item><title>Two</title><guid>item-2</guid><link>https://o/2</link><description>second</description><pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate></item>
<item><title>One</title><guid>item-1</guid><link>https://o/1</link></item>
</channel></rss>"#;

#[tokio::test]
async fn rss_origin() {
    let origin = Origin::start().await;
    origin.set("/rss", Reply::body(RSS_V1, "application/rss+xml"));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/rss"), "rss", ""))
        .spawn()
        .await;
    let mut c = Consumer::new("mirror");
    assert_eq!(
        triples(&c.poll(&app).await),
        [t("item-1", "add", 1), t("item-2", "add", 2)]
    );
    let two = app.get("/feeds/mirror/items/item-2", &[]).await.json();
    assert_eq!(
        two,
        json!({"id": "item-2", "title": "Two", "link": "https://o/2", "summary": "second",
               "published": "2024-01-02T10:00:00Z"})
    );
    let v2 = RSS_V1
        .replace("<title>Two</title>", "<title>Two!</title>")
        .replace(
            "<item><title>One</title><guid>item-1</guid><link>https://o/1</link></item>",
            "",
        )
        .replace(
            "<item><title>Two",
            "<item><title>Three</title><guid>item-3</guid></item><item><title>Two",
        );
    origin.set("/rss", Reply::body(v2, "application/rss+xml"));
    assert_eq!(
        triples(&c.poll(&app).await),
        [
            t("item-2", "update", 3),
            t("item-3", "add", 4),
            t("item-1", "delete", 5)
        ]
    );
    assert_eq!(
        c.titles(),
        pairs(&[("item-2", "Two!"), ("item-3", "Three")])
    );
}

const ATOM_V1: &str = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>O</title><id>urn:o</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title>B</title><id>tag:o,2024:b</id><updated>2024-01-02T00:00:00Z</updated><summary>bee</summary></entry>
<entry><title>A</title><id>tag:o,2024:a</id><updated>2024-01-01T00:00:00Z</updated><content type="html">&lt;p&gt;a&lt;/p&gt;</content></entry>
</feed>"#;

#[tokio::test]
async fn atom_origin() {
    let origin = Origin::start().await;
    origin.set(
        "/atom",
        Reply::body(ATOM_V1, "application/atom+xml").with_etag("\"a1\""),
    );
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/atom"), "atom", ""))
        .spawn()
        .await;
    let mut c = Consumer::new("mirror");
    assert_eq!(
        triples(&c.poll(&app).await),
        [t("tag:o,2024:a", "add", 1), t("tag:o,2024:b", "add", 2)]
    );
    let a = app
        .get("/feeds/mirror/items/tag%3Ao%2C2024%3Aa", &[])
        .await
        .json();
    assert_eq!(
        a,
        json!({"id": "tag:o,2024:a", "title": "A", "content": "<p>a</p>", "content_type": "html"})
    );
    let v2 = ATOM_V1.replace("<summary>bee</summary>", "<summary>bee 2</summary>");
    origin.set(
        "/atom",
        Reply::body(v2, "application/atom+xml").with_etag("\"a2\""),
    );
    assert_eq!(
        triples(&c.poll(&app).await),
        [t("tag:o,2024:b", "update", 3)]
    );
}

#[tokio::test]
async fn upstream_feeds_are_read_only() {
    let origin = Origin::start().await;
    origin.set("/i", Reply::json(&items(&[("a", "A")])));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/i"), "json", ""))
        .spawn()
        .await;
    Consumer::new("mirror").poll(&app).await;
    let put = app.put("mirror", "x", r#"{"title":"X"}"#).await;
    assert_eq!(
        (put.status, put.problem().as_str()),
        (409, "read_only_feed")
    );
    let del = app.delete("mirror", "a").await;
    assert_eq!(
        (del.status, del.problem().as_str()),
        (409, "read_only_feed")
    );
    let batch = app.batch("mirror", r#"[{"id":"y"}]"#).await;
    assert_eq!(
        (batch.status, batch.problem().as_str()),
        (409, "read_only_feed")
    );
    assert_eq!(feed_info(&app, "mirror").await["head"], 1);
    assert_eq!(feed_info(&app, "mirror").await["kind"], "upstream");
    // The push feed beside it is writable.
    assert_eq!(app.put("news", "x", r#"{"title":"X"}"#).await.status, 201);
}

/// Reading one item of an upstream feed syncs a due feed first, like a feed read.
#[tokio::test]
async fn item_reads_sync_a_due_upstream_feed() {
    let origin = Origin::start().await;
    origin.set("/items.json", Reply::json(&items(&[("a", "A")])));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url("/items.json"), "json", ""))
        .spawn()
        .await;
    assert_eq!(origin.hits(), 0);
    let item = app.get("/feeds/mirror/items/a", &[]).await;
    assert_eq!(item.status, 200);
    assert_eq!(item.json(), json!({"id": "a", "title": "A"}));
    assert_eq!(origin.hits(), 1);
}

/// An origin that cannot be reached is said where consumers look, not only
/// in `/feeds`: a `Feedgate-Upstream` header on every answer (304s too) and
/// `feedgate:upstream` in the document, which is then never kept or
/// cacheable; both go once a sync succeeds again.
#[tokio::test]
async fn an_unreachable_origin_is_said_where_consumers_look() {
    let origin = Origin::start().await;
    let path = "/items.json";
    origin.set(path, Reply::json(&items(&[("a", "A"), ("b", "B")])));
    let app = TestApp::builder()
        .toml(&mirror(&origin.url(path), "json", ""))
        .spawn()
        .await;
    // The sync's second is over before the read: the page shows both.
    let first = app.get("/feeds/mirror", &[]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("feedgate-upstream"), None);
    let etag = first.header("etag").unwrap().to_string();

    origin.set(path, Reply::Status(503));
    let r = app.get("/feeds/mirror", &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status, 304);
    let said = r
        .header("feedgate-upstream")
        .expect("said on a 304")
        .to_string();
    assert!(
        said.starts_with("failing; failures=1; last-success=\"20") && said.ends_with("HTTP 503\""),
        "{said}"
    );
    for target in ["/feeds/mirror", "/feeds/mirror.atom"] {
        let r = app.get(target, &[]).await;
        assert_eq!(r.status, 200);
        let said = r.header("feedgate-upstream").unwrap();
        assert!(said.starts_with("failing; failures="), "{said}");
        let body = r.text();
        assert!(
            body.contains("xmlns:feedgate=\"urn:feedgate:xmlns:1\"")
                && body.contains("<feedgate:upstream")
                && body.contains("state=\"failing\"")
                && body.contains("HTTP 503"),
            "{target}: {body}"
        );
        assert_eq!(r.feed().entries.len(), 2, "the log is served as it is");
    }
    // A full query-form page is immutable while the origin answers; not now.
    let epoch = etag
        .trim_matches('"')
        .rsplit_once('.')
        .unwrap()
        .0
        .to_string();
    let page = format!("/feeds/mirror?etag={epoch}.0&limit=1");
    let r = app.get(&page, &[]).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.text().contains("<feedgate:upstream"));

    origin.set(path, Reply::json(&items(&[("a", "A"), ("b", "B")])));
    let r = app.get(&page, &[]).await;
    assert_eq!(r.header("feedgate-upstream"), None);
    assert!(!r.text().contains("feedgate:upstream"));
    assert!(r.header("cache-control").unwrap().contains("immutable"));
}
