//! Content mirroring against a local origin that serves files, honours or
//! ignores `Range`, fails, cuts answers short, hangs and lies about
//! lengths: a stored file is always the whole file, an item points at
//! feedgate's copy only once it is stored (its original URL kept as `via`),
//! a file that cannot be fetched leaves the item alone and is reported, and
//! a restart resumes what a stop cut off.

use crate::support::origin::{Origin, Reply};
use crate::support::*;
use std::time::Duration;

const BASE: &str = "https://gw.example";

fn toml(origin: &Origin, extra: &str) -> String {
    format!(
        "base_url = \"{BASE}\"\n[feeds.news.content]\nmirror = true\nallow = [{:?}]\n\
         retry_min = \"20ms\"\nretry_max = \"100ms\"\ntimeout = \"1s\"\nattempts = 6\n{extra}\n",
        origin.url("")
    )
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 253) as u8).collect()
}

fn file(body: &[u8]) -> Reply {
    Reply::File {
        body: body.to_vec(),
        ranges: true,
        cut_after: None,
    }
}

fn item(url: &str, length: u64) -> String {
    serde_json::json!({
        "title": "Episode",
        "enclosures": [{"url": url, "length": length, "type": "audio/mpeg"}],
    })
    .to_string()
}

/// The item's first enclosure once `done` holds for it (or panic after ~10 s).
async fn enclosure_when(
    app: &TestApp,
    id: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..1000 {
        last = app
            .get(&format!("/feeds/news/items/{id}"), &[])
            .await
            .json();
        let e = &last["enclosures"][0];
        if done(e) {
            return e.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not reached; the item is {last}");
}

fn mirrored(e: &serde_json::Value) -> bool {
    e["url"].as_str().is_some_and(|u| u.starts_with(BASE))
}

/// The content state `GET /feeds` shows for `news`.
async fn state(app: &TestApp) -> serde_json::Value {
    let feeds = app.get("/feeds", &[]).await.json();
    let news = feeds["feeds"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "news"));
    news.map(|f| f["content"].clone()).unwrap_or_default()
}

/// Served at `/content/…` of the copy `e` points at.
async fn served(app: &TestApp, e: &serde_json::Value) -> Vec<u8> {
    let url = e["url"].as_str().unwrap_or_default();
    let r = app.get(url.trim_start_matches(BASE), &[]).await;
    assert_eq!(r.status, 200, "{url}");
    r.body
}

#[tokio::test]
async fn a_file_is_fetched_stored_and_the_item_points_at_the_copy() {
    let origin = Origin::start().await;
    let body = bytes(200_000);
    origin.set("/ep1.mp3", file(&body));
    let app = TestApp::builder().toml(&toml(&origin, "")).spawn().await;
    let url = origin.url("/ep1.mp3");
    let ack = app.put("news", "ep1", &item(&url, 200_000)).await;
    assert_eq!(ack.status, 201);
    let added = ack.json()["etag"].as_str().unwrap_or_default().to_string();
    let e = enclosure_when(&app, "ep1", mirrored).await;
    assert_eq!(e["via"], url.as_str());
    assert_eq!(e["length"], 200_000);
    assert_eq!(served(&app, &e).await, body);
    // A consumer that took the add learns of the copy through the protocol:
    // an update, once its second is whole.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let page = app
        .get(&format!("/feeds/news.atom?etag={added}"), &[])
        .await;
    let feed = Feed::parse(&page.body);
    let actions: Vec<_> = feed.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["update"],
        "one entry per item, its latest transaction"
    );
    let doc = page.text();
    assert!(
        doc.contains(&format!(
            "href=\"{}\" rel=\"enclosure\"",
            e["url"].as_str().unwrap()
        )),
        "{doc}"
    );
    assert!(
        doc.contains(&format!("href=\"{url}\" rel=\"via\"")),
        "{doc}"
    );
    let st = state(&app).await;
    assert_eq!(
        (st["stored_files"].as_u64(), st["stored_bytes"].as_u64()),
        (Some(1), Some(200_000))
    );
    let m = app.get("/metrics", &[]).await.text().to_string();
    assert!(
        m.contains("feedgate_content_downloads_total{feed=\"news\",outcome=\"stored\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("feedgate_content_received_bytes_total{feed=\"news\"} 200000"),
        "{m}"
    );
    // The same URL in another item is not fetched again.
    let hits = origin.hits();
    app.put("news", "ep1-again", &item(&url, 0)).await;
    let again = enclosure_when(&app, "ep1-again", mirrored).await;
    assert_eq!(
        (again["url"].clone(), origin.hits()),
        (e["url"].clone(), hits)
    );
}

#[tokio::test]
async fn a_cut_off_download_resumes_with_a_range() {
    let origin = Origin::start().await;
    let body = bytes(300_000);
    origin.set(
        "/ep.mp3",
        Reply::File {
            body: body.clone(),
            ranges: true,
            cut_after: Some(120_000),
        },
    );
    let app = TestApp::builder().toml(&toml(&origin, "")).spawn().await;
    app.put("news", "ep", &item(&origin.url("/ep.mp3"), 300_000))
        .await;
    // Let an attempt or two be cut off, then serve the rest.
    for _ in 0..500 {
        if origin.hits() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    origin.set("/ep.mp3", file(&body));
    let e = enclosure_when(&app, "ep", mirrored).await;
    assert_eq!(served(&app, &e).await, body);
    let ranges: Vec<_> = origin
        .seen()
        .iter()
        .filter_map(|s| s.header("range").map(String::from))
        .collect();
    assert!(ranges.contains(&"bytes=120000-".to_string()), "{ranges:?}");
    assert!(origin
        .seen()
        .iter()
        .skip(1)
        .all(|s| s.header("if-range") == Some("\"file\"")));
}

#[tokio::test]
async fn an_origin_that_ignores_ranges_still_gives_the_whole_file() {
    let origin = Origin::start().await;
    let body = bytes(100_000);
    let cut = |cut_after| Reply::File {
        body: body.clone(),
        ranges: false,
        cut_after,
    };
    origin.set("/ep.mp3", cut(Some(30_000)));
    let app = TestApp::builder().toml(&toml(&origin, "")).spawn().await;
    app.put("news", "ep", &item(&origin.url("/ep.mp3"), 0))
        .await;
    for _ in 0..500 {
        if origin.hits() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    origin.set("/ep.mp3", cut(None));
    let e = enclosure_when(&app, "ep", mirrored).await;
    assert_eq!(served(&app, &e).await, body);
    assert_eq!(e["length"], 0, "as the item gave it");
}

#[tokio::test]
async fn failures_hangs_and_lies_leave_the_item_alone_and_are_reported() {
    let origin = Origin::start().await;
    origin.set("/gone.mp3", Reply::Status(404));
    origin.set("/broken.mp3", Reply::Status(503));
    origin.set("/short.mp3", file(&bytes(500)));
    origin.set("/huge.mp3", file(&bytes(5_000)));
    let app = TestApp::builder()
        .toml(&toml(&origin, "max_bytes = 4000\nmax_total_bytes = 100000"))
        .spawn()
        .await;
    app.put("news", "gone", &item(&origin.url("/gone.mp3"), 0))
        .await;
    app.put("news", "broken", &item(&origin.url("/broken.mp3"), 0))
        .await;
    // The item says 999 bytes; the origin has 500.
    app.put("news", "lie", &item(&origin.url("/short.mp3"), 999))
        .await;
    app.put("news", "huge", &item(&origin.url("/huge.mp3"), 0))
        .await;
    let mut st = serde_json::Value::Null;
    for _ in 0..1000 {
        st = state(&app).await;
        if st["failed"].as_object().map_or(0, |f| f.len()) == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let failed = st["failed"].as_object().unwrap_or_else(|| panic!("{st}"));
    assert_eq!(failed.len(), 4, "{st}");
    assert!(failed[&origin.url("/gone.mp3")]
        .as_str()
        .unwrap()
        .contains("404"));
    assert!(failed[&origin.url("/short.mp3")]
        .as_str()
        .unwrap()
        .contains("999"));
    assert!(failed[&origin.url("/huge.mp3")]
        .as_str()
        .unwrap()
        .contains("max_bytes"));
    for id in ["gone", "broken", "lie", "huge"] {
        let i = app
            .get(&format!("/feeds/news/items/{id}"), &[])
            .await
            .json();
        assert!(
            i["enclosures"][0]["url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1"),
            "{i}"
        );
        assert!(i["enclosures"][0].get("via").is_none());
    }
    // 503 is retried (6 attempts), 404 and a wrong length are not.
    let count = |p: &str| origin.seen().iter().filter(|s| s.path == p).count();
    assert_eq!(
        (
            count("/broken.mp3"),
            count("/gone.mp3"),
            count("/short.mp3")
        ),
        (6, 1, 1)
    );
    assert!(
        app.app().content().unwrap().list().is_empty(),
        "nothing broken is stored"
    );
    // The feed is served all along.
    assert_eq!(app.get("/feeds/news", &[]).await.status, 200);
}

#[tokio::test]
async fn a_hanging_origin_times_out_and_is_tried_again() {
    let origin = Origin::start().await;
    origin.set("/ep.mp3", Reply::Hang);
    let app = TestApp::builder().toml(&toml(&origin, "")).spawn().await;
    app.put("news", "ep", &item(&origin.url("/ep.mp3"), 0))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let st = state(&app).await;
    assert_eq!(
        st["pending"],
        serde_json::json!([origin.url("/ep.mp3")]),
        "{st}"
    );
    origin.set("/ep.mp3", file(b"finally"));
    let e = enclosure_when(&app, "ep", mirrored).await;
    assert_eq!(served(&app, &e).await, b"finally");
}

#[tokio::test]
async fn a_restart_resumes_what_a_stop_cut_off() {
    let origin = Origin::start().await;
    let body = bytes(150_000);
    origin.set("/ep.mp3", Reply::Hang);
    let app = TestApp::builder().toml(&toml(&origin, "")).spawn().await;
    app.put("news", "ep", &item(&origin.url("/ep.mp3"), 150_000))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dir = app.stop().await;
    origin.set("/ep.mp3", file(&body));
    let app = TestApp::builder()
        .toml(&toml(&origin, ""))
        .dir(dir)
        .spawn()
        .await;
    let e = enclosure_when(&app, "ep", mirrored).await;
    assert_eq!(served(&app, &e).await, body);
}

#[tokio::test]
async fn a_producer_write_during_a_download_is_kept() {
    let origin = Origin::start().await;
    origin.set("/ep.mp3", Reply::Hang);
    let app = TestApp::builder().toml(&toml(&origin, "")).spawn().await;
    let url = origin.url("/ep.mp3");
    app.put("news", "ep", &item(&url, 0)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The producer changes the title while the file is being fetched.
    let changed = serde_json::json!({
        "title": "Episode, corrected",
        "enclosures": [{"url": url, "length": 0, "type": "audio/mpeg"}],
    });
    app.put("news", "ep", &changed.to_string()).await;
    origin.set("/ep.mp3", file(b"audio"));
    enclosure_when(&app, "ep", mirrored).await;
    let i = app.get("/feeds/news/items/ep", &[]).await.json();
    assert_eq!(i["title"], "Episode, corrected");
}

#[tokio::test]
async fn files_no_item_points_at_are_collected_shared_ones_stay() {
    let origin = Origin::start().await;
    origin.set("/a.mp3", file(b"file a"));
    origin.set("/b.mp3", file(b"file b"));
    let app = TestApp::builder().toml(&toml(&origin, "")).spawn().await;
    let (a, b) = (origin.url("/a.mp3"), origin.url("/b.mp3"));
    app.put("news", "one", &item(&a, 0)).await;
    app.put("news", "two", &item(&a, 0)).await;
    app.put("news", "three", &item(&b, 0)).await;
    for id in ["one", "two", "three"] {
        enclosure_when(&app, id, mirrored).await;
    }
    let store = app.app().content().unwrap().clone();
    let mirror = app.app().mirror().unwrap();
    assert_eq!(store.list().len(), 2);
    assert_eq!(mirror.collect(app.app()).await.unwrap(), (0, 0));
    // `a` is still shared by `two`; `b` no item points at.
    app.req("DELETE", "/feeds/news/items/one", &[], b"").await;
    app.req("DELETE", "/feeds/news/items/three", &[], b"").await;
    assert_eq!(mirror.collect(app.app()).await.unwrap(), (1, 6));
    let m = app.get("/metrics", &[]).await.text().to_string();
    assert!(m.contains("feedgate_content_files{feed=\"news\"} 1"), "{m}");
    assert!(
        m.contains("feedgate_content_stored_bytes{feed=\"news\"} 6"),
        "{m}"
    );
    let left = store.list();
    assert_eq!(left.len(), 1);
    let two = enclosure_when(&app, "two", mirrored).await;
    assert!(two["url"].as_str().unwrap().ends_with(&left[0]));
    assert_eq!(served(&app, &two).await, b"file a");
    // A file an update no longer points at goes too.
    app.put(
        "news",
        "two",
        &serde_json::json!({"title": "no audio"}).to_string(),
    )
    .await;
    assert_eq!(mirror.collect(app.app()).await.unwrap(), (1, 6));
    assert!(store.list().is_empty());
}

#[tokio::test]
async fn a_feed_stays_within_max_total_bytes() {
    let origin = Origin::start().await;
    origin.set("/a.mp3", file(&bytes(6_000)));
    origin.set("/b.mp3", file(&bytes(6_001)));
    let app = TestApp::builder()
        .toml(&toml(&origin, "max_bytes = 8000\nmax_total_bytes = 10000"))
        .spawn()
        .await;
    app.put("news", "a", &item(&origin.url("/a.mp3"), 0)).await;
    enclosure_when(&app, "a", mirrored).await;
    app.put("news", "b", &item(&origin.url("/b.mp3"), 0)).await;
    let mut st = serde_json::Value::Null;
    for _ in 0..500 {
        st = state(&app).await;
        if st["failed"].as_object().is_some_and(|f| !f.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let why = st["failed"][origin.url("/b.mp3").as_str()]
        .as_str()
        .unwrap_or_else(|| panic!("{st}"));
    assert!(
        why.contains("max_bytes") || why.contains("max_total_bytes"),
        "{why}"
    );
    assert_eq!(app.app().content().unwrap().total_bytes(), 6_000);
}

#[tokio::test]
async fn a_chain_of_two_gateways_carries_the_files() {
    let origin = Origin::start().await;
    let body = bytes(250_000);
    origin.set("/ep.mp3", file(&body));
    // The first gateway mirrors from the origin.
    let up_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up_addr = up_listener.local_addr().unwrap();
    drop(up_listener);
    let up_base = format!("http://{up_addr}");
    let up_toml = toml(&origin, "").replace(BASE, &up_base);
    let up = TestApp::builder()
        .toml(&up_toml)
        .addr(up_addr)
        .spawn()
        .await;
    up.put("news", "ep", &item(&origin.url("/ep.mp3"), 250_000))
        .await;
    // The second follows the first (feedgate protocol) and mirrors from its /content/.
    let down_toml = format!(
        "base_url = \"{BASE}\"\n[feeds.replica]\nupstream = {{ url = \"{up_base}/feeds/news\", format = \"feedgate\", refresh = \"0s\" }}\n\
         [feeds.replica.content]\nmirror = true\nallow = [\"{up_base}\"]\nretry_min = \"20ms\"\nretry_max = \"100ms\"\n"
    );
    let down = TestApp::builder().toml(&down_toml).spawn().await;
    let mut e = serde_json::Value::Null;
    for _ in 0..1000 {
        // A read syncs the replica; its items follow the first gateway's.
        down.get("/feeds/replica", &[]).await;
        e = down.get("/feeds/replica/items/ep", &[]).await.json()["enclosures"][0].clone();
        if mirrored(&e) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(mirrored(&e), "{e}");
    let via = e["via"].as_str().unwrap_or_default();
    assert!(
        via.starts_with(&format!("{up_base}/content/")),
        "mirrored from the first gateway: {via}"
    );
    assert_eq!(served(&down, &e).await, body);
    let from_origin = origin.seen().iter().filter(|s| s.path == "/ep.mp3").count();
    assert_eq!(
        from_origin, 1,
        "the origin served the file once, to the first gateway"
    );
}

#[tokio::test]
async fn writing_an_item_again_as_its_origin_has_it_appends_nothing() {
    let origin = Origin::start().await;
    origin.set("/ep.mp3", file(b"audio"));
    let app = TestApp::builder().toml(&toml(&origin, "")).spawn().await;
    let body = item(&origin.url("/ep.mp3"), 5);
    app.put("news", "ep", &body).await;
    enclosure_when(&app, "ep", mirrored).await;
    let before = app
        .get("/feeds/news", &[("If-None-Match", "*")])
        .await
        .etag();
    // A CMS that republishes its whole state: the same item, the origin's URL.
    let again = app.put("news", "ep", &body).await;
    assert_eq!(again.status, 200);
    let batch = format!("[{}]", body.replacen('{', "{\"id\":\"ep\",", 1));
    let r = app
        .req(
            "POST",
            "/feeds/news/items",
            &[("Content-Type", "application/json")],
            batch.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = app
        .get("/feeds/news", &[("If-None-Match", "*")])
        .await
        .etag();
    assert_eq!(after, before, "nothing appended");
    let e = enclosure_when(&app, "ep", mirrored).await;
    assert_eq!(e["via"], origin.url("/ep.mp3").as_str());
}

#[tokio::test]
async fn a_compaction_pass_takes_the_files_of_deleted_items_with_it() {
    let origin = Origin::start().await;
    origin.set("/a.mp3", file(b"file a"));
    let retention = "[feeds.news.retention]\ncompact_after = \"0s\"\ntombstones = \"0s\"\ninterval = \"100ms\"\n";
    let app = TestApp::builder()
        .toml(&format!("{}{retention}", toml(&origin, "")))
        .spawn()
        .await;
    app.put("news", "one", &item(&origin.url("/a.mp3"), 0))
        .await;
    enclosure_when(&app, "one", mirrored).await;
    let store = app.app().content().unwrap().clone();
    assert_eq!(store.list().len(), 1);
    app.req("DELETE", "/feeds/news/items/one", &[], b"").await;
    // No call here: the background compaction pass collects.
    for _ in 0..500 {
        if store.list().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the file of the deleted item is still stored");
}
