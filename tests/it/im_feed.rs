//! `A-IM: feed` (RFC 3229+feed, PROTOCOL §3): a plain `200` by default, so
//! readers built on feedparser (which sends `A-IM: feed` on every request and
//! treats any other 2xx as an error) work; `226 IM Used`, `IM: feed` and
//! `Cache-Control: no-store, im` only on a feed configured with
//! `im_feed = true`. Both configurations, for catch-ups, deltas (also when
//! served from the page cache), 304s and HEAD.

use crate::support::*;

/// `news` (default) and `imf` (`im_feed = true`), each with three items.
async fn app() -> TestApp {
    let app = TestApp::builder()
        .toml("[feeds.imf]\ntitle = \"IM\"\nim_feed = true\n")
        .spawn()
        .await;
    for feed in ["news", "imf"] {
        for i in 1..=3 {
            let r = app.put(feed, &format!("i{i}"), r#"{"title":"t"}"#).await;
            assert_eq!(r.status, 201);
        }
    }
    // Let the writes' second close: until then `Last-Modified` (and Atom's
    // feed `<updated>`) is the second before, and moves between two fetches.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app
}

async fn epoch(app: &TestApp, feed: &str) -> String {
    let v = app.get("/feeds", &[]).await.json();
    let f = v["feeds"].as_array().unwrap().iter();
    f.clone().find(|f| f["name"] == feed).unwrap()["epoch"]
        .as_str()
        .unwrap()
        .to_string()
}

const A_IM: (&str, &str) = ("A-IM", "feed");

#[tokio::test]
async fn default_feed_answers_a_im_with_a_plain_200() {
    let app = app().await;
    let e = epoch(&app, "news").await;
    let inm = format!("\"{e}.1\"");
    for path in ["/feeds/news", "/feeds/news.atom", "/feeds/news?limit=1"] {
        // Catch-up and delta (the delta twice: the second comes from the page cache).
        for headers in [vec![], vec![("If-None-Match", inm.as_str())]] {
            for _ in 0..2 {
                let plain = app.get(path, &headers).await;
                let mut with = headers.clone();
                with.push(A_IM);
                let im = app.get(path, &with).await;
                assert_eq!((plain.status, im.status), (200, 200), "{path} {headers:?}");
                assert_eq!(im.header("im"), None);
                assert_eq!(im.body, plain.body, "{path}: same document");
                for h in ["etag", "last-modified", "cache-control", "vary", "link"] {
                    assert_eq!(im.header(h), plain.header(h), "{path}: {h}");
                }
                // A-IM changes nothing here, so Vary does not name it.
                assert!(!im.header("vary").unwrap().contains("A-IM"));
            }
        }
    }
    // At the head: the same 304 with or without A-IM.
    let head = format!("\"{e}.3\"");
    let plain = app.get("/feeds/news", &[("If-None-Match", &head)]).await;
    let im = app
        .get("/feeds/news", &[("If-None-Match", &head), A_IM])
        .await;
    assert_eq!((plain.status, im.status), (304, 304));
    assert_eq!(im.header("cache-control"), plain.header("cache-control"));
    assert_eq!(im.header("im"), None);
    // HEAD: 200, no body.
    let h = app.req("HEAD", "/feeds/news", &[A_IM], b"").await;
    assert_eq!((h.status, h.body.len()), (200, 0));
}

#[tokio::test]
async fn im_feed_answers_226_im_used() {
    let app = app().await;
    let e = epoch(&app, "imf").await;
    let inm = format!("\"{e}.1\"");
    for path in ["/feeds/imf", "/feeds/imf.atom", "/feeds/imf?limit=1"] {
        for headers in [vec![], vec![("If-None-Match", inm.as_str())]] {
            for _ in 0..2 {
                let plain = app.get(path, &headers).await;
                let mut with = headers.clone();
                with.push(A_IM);
                let im = app.get(path, &with).await;
                assert_eq!((plain.status, im.status), (200, 226), "{path} {headers:?}");
                assert_eq!(im.header("im"), Some("feed"));
                assert_eq!(im.header("cache-control"), Some("no-store, im"));
                assert_eq!(plain.header("im"), None);
                assert_ne!(plain.header("cache-control"), Some("no-store, im"));
                assert_eq!(im.body, plain.body, "{path}: the same document");
                assert_eq!(im.header("etag"), plain.header("etag"));
                // Here A-IM selects the answer: Vary says so, on both.
                for r in [&plain, &im] {
                    assert!(r.header("vary").unwrap().contains("A-IM"), "{path}");
                }
            }
        }
    }
    // Another instance manipulation is not `feed`: a plain 200.
    let r = app.get("/feeds/imf", &[("A-IM", "vcdiff")]).await;
    assert_eq!((r.status, r.header("im")), (200, None));
    // A 304 carries the Cache-Control the 226 would have.
    let head = format!("\"{e}.3\"");
    let nm = app
        .get("/feeds/imf", &[("If-None-Match", &head), A_IM])
        .await;
    assert_eq!(nm.status, 304);
    assert_eq!(nm.header("cache-control"), Some("no-store, im"));
    // HEAD: 226 and the headers, no body.
    let h = app.req("HEAD", "/feeds/imf", &[A_IM], b"").await;
    assert_eq!(
        (h.status, h.header("im"), h.body.len()),
        (226, Some("feed"), 0)
    );
}
