//! Compressed pages: `Accept-Encoding: gzip` gets the page in gzip, the
//! same document a request without it gets, with `Vary: Accept-Encoding`
//! and a weak ETag naming the same position; pages kept in memory are
//! compressed once and still follow the head; 304s carry the tag a 200
//! would; a client that refuses gzip gets the identity page.

use crate::support::*;
use std::io::Read;

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

const GZIP: (&str, &str) = ("Accept-Encoding", "gzip, deflate");

async fn with_items(n: usize) -> TestApp {
    let app = TestApp::builder().spawn().await;
    for i in 0..n {
        let json = format!(r#"{{"title":"T{i}","summary":"{}"}}"#, "words ".repeat(20));
        app.put("news", &format!("i{i}"), &json).await;
    }
    app
}

#[tokio::test]
async fn a_gzip_page_is_the_identity_page_compressed_with_a_weak_tag() {
    let app = with_items(30).await;
    let epoch = app.head_etag("news").await;
    let epoch = epoch
        .trim_matches('"')
        .split('.')
        .next()
        .unwrap()
        .to_string();
    // An ETag-selected page (kept in memory) and a catch-up (not kept).
    for target in [
        format!("/feeds/news?etag={epoch}.3&limit=20"),
        "/feeds/news?limit=5".into(),
    ] {
        let plain = app.get(&target, &[]).await;
        let zipped = app.get(&target, &[GZIP]).await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-encoding"), None);
        assert_eq!(zipped.header("content-encoding"), Some("gzip"), "{target}");
        assert_eq!(gunzip(&zipped.body), plain.body, "{target}");
        assert!(zipped.body.len() < plain.body.len());
        assert_eq!(
            zipped.header("content-length").unwrap(),
            zipped.body.len().to_string()
        );
        assert_eq!(zipped.etag(), format!("W/{}", plain.etag()));
        for r in [&plain, &zipped] {
            assert!(r.header("vary").unwrap().contains("Accept-Encoding"));
        }
        // Served again (from memory for the first): the same bytes.
        assert_eq!(app.get(&target, &[GZIP]).await.body, zipped.body);
    }
}

#[tokio::test]
async fn a_kept_gzip_page_follows_the_head_like_the_identity_one() {
    let app = with_items(30).await;
    let head = app.head_etag("news").await;
    let epoch = head
        .trim_matches('"')
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let target = "/feeds/news?limit=10";
    let inm = format!("\"{epoch}.2\"");
    let first = app.get(target, &[("If-None-Match", &inm), GZIP]).await;
    app.put("news", "later", r#"{"title":"later"}"#).await;
    // A full page of the header form: its digest moved with the head.
    let zipped = app.get(target, &[("If-None-Match", &inm), GZIP]).await;
    let plain = app.get(target, &[("If-None-Match", &inm)]).await;
    assert_ne!(gunzip(&first.body), gunzip(&zipped.body));
    assert_eq!(gunzip(&zipped.body), plain.body);
}

#[tokio::test]
async fn not_modified_carries_the_tag_a_200_would_and_takes_either_back() {
    let app = with_items(3).await;
    let head = app.head_etag("news").await;
    let nm = app
        .get("/feeds/news", &[("If-None-Match", &head), GZIP])
        .await;
    assert_eq!(nm.status, 304);
    assert_eq!(nm.etag(), format!("W/{head}"));
    let weak = format!("W/{head}");
    let nm = app.get("/feeds/news", &[("If-None-Match", &weak)]).await;
    assert_eq!(nm.status, 304);
    assert_eq!(nm.etag(), head);
    let vary = nm.header("vary").unwrap();
    assert!(vary.contains("Accept-Encoding"), "{vary}");
}

#[tokio::test]
async fn refusing_gzip_or_asking_head_is_honoured() {
    let app = with_items(10).await;
    for refused in ["gzip;q=0", "identity", "br;q=1, *;q=0"] {
        let r = app
            .get("/feeds/news?limit=5", &[("Accept-Encoding", refused)])
            .await;
        assert_eq!(r.header("content-encoding"), None, "{refused}");
        Feed::parse(&r.body);
    }
    let zipped = app.get("/feeds/news?limit=5", &[GZIP]).await;
    let head = app.req("HEAD", "/feeds/news?limit=5", &[GZIP], b"").await;
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-encoding"), Some("gzip"));
    assert_eq!(
        head.header("content-length"),
        zipped.header("content-length")
    );
}
