//! What caches may do with the answers that are not feed documents
//! (PROTOCOL §3 Caches): the operations endpoints, consumer reports and
//! every error are `Cache-Control: no-store`; an item's `GET` is a
//! representation of its own with `ETag` (the position of its latest
//! transaction), `Last-Modified` (its stamp), `Cache-Control: no-cache`, and
//! `304 Not Modified` for `If-None-Match` / `If-Modified-Since`, HEAD too.

use crate::support::*;
use feedgate::auth::hash_secret;
use std::time::Duration;

#[tokio::test]
async fn operations_endpoints_are_no_store() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    app.get("/feeds/news?consumer=c1", &[]).await;
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/feeds",
        "/feeds/news/consumers",
    ] {
        for method in ["GET", "HEAD"] {
            let r = app.req(method, path, &[], b"").await;
            assert_eq!(r.status, 200, "{method} {path}");
            assert_eq!(
                r.header("cache-control"),
                Some("no-store"),
                "{method} {path}"
            );
        }
    }
}

/// Method, path, headers, body, expected status and problem code.
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a [u8],
    u16,
    &'a str,
);

#[tokio::test]
async fn every_error_is_no_store() {
    let app = TestApp::builder()
        .toml("max_body_bytes = 64\n")
        .spawn()
        .await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    let json = [("Content-Type", "application/json")];
    let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(100));
    let cases: Vec<Case> = vec![
        ("GET", "/feeds/nope", &[], b"", 404, "feed_not_found"),
        ("GET", "/feeds/nope.atom", &[], b"", 404, "feed_not_found"),
        ("GET", "/nothing/here", &[], b"", 404, "not_found"),
        (
            "GET",
            "/feeds/news/items/zz",
            &[],
            b"",
            404,
            "item_not_found",
        ),
        ("HEAD", "/feeds/news/items/zz", &[], b"", 404, ""),
        (
            "DELETE",
            "/feeds/news/items/zz",
            &[],
            b"",
            404,
            "item_not_found",
        ),
        (
            "GET",
            "/feeds/news?limit=0",
            &[],
            b"",
            400,
            "invalid_parameter",
        ),
        (
            "GET",
            "/feeds/news?format=json",
            &[],
            b"",
            400,
            "invalid_parameter",
        ),
        (
            "GET",
            "/feeds/news/items/%FF",
            &[],
            b"",
            400,
            "invalid_parameter",
        ),
        (
            "PUT",
            "/feeds/news/items/b",
            &json,
            b"{\"bogus\":1}",
            400,
            "invalid_item",
        ),
        (
            "PUT",
            "/feeds/news/items/b",
            &json,
            big.as_bytes(),
            413,
            "payload_too_large",
        ),
        (
            "PUT",
            "/feeds/news/items/b",
            &[],
            b"{}",
            415,
            "unsupported_media_type",
        ),
        ("POST", "/feeds/news", &[], b"", 405, "method_not_allowed"),
        ("DELETE", "/healthz", &[], b"", 405, "method_not_allowed"),
    ];
    for (method, path, headers, body, status, code) in cases {
        let r = app.req(method, path, headers, body).await;
        assert_eq!(r.status, status, "{method} {path}");
        assert_eq!(
            r.header("cache-control"),
            Some("no-store"),
            "{method} {path}"
        );
        if !code.is_empty() {
            assert_eq!(r.problem(), code, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn authorization_errors_are_no_store() {
    let extra = format!(
        "[credentials.reader]\ntoken_sha256 = \"{}\"\nroles = {{ news = \"read\" }}\n",
        hash_secret("t-reader")
    );
    let app = TestApp::builder().toml(&extra).spawn().await;
    let r = app.get("/feeds/news", &[]).await;
    assert_eq!((r.status, r.problem().as_str()), (401, "unauthorized"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let bearer = [("Authorization", "Bearer t-reader")];
    let r = app.get("/feeds/other", &bearer).await;
    assert_eq!((r.status, r.problem().as_str()), (403, "forbidden"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = app.get("/feeds", &bearer).await;
    assert_eq!(
        (r.status, r.header("cache-control")),
        (200, Some("no-store"))
    );
}

/// `GET` of an item with the given headers.
async fn item(app: &TestApp, method: &str, headers: &[(&str, &str)]) -> Resp {
    app.req(method, "/feeds/news/items/a%20b", headers, b"")
        .await
}

#[tokio::test]
async fn item_get_is_a_conditional_representation() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "other", r#"{"title":"O"}"#).await;
    let put = app.put("news", "a b", r#"{"title":"A"}"#).await;
    let seq = put.json()["seq"].as_u64().unwrap();
    let epoch = put.json()["etag"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let tag = format!("\"{epoch}.{seq}\"");
    let r = item(&app, "GET", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["title"], "A");
    assert_eq!(r.etag(), tag);
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let lm = r.header("last-modified").unwrap().to_string();
    assert!(httpdate::parse_http_date(&lm).is_ok(), "{lm}");
    // A later write to another item changes neither validator.
    app.put("news", "other", r#"{"title":"O2"}"#).await;
    let again = item(&app, "GET", &[]).await;
    assert_eq!(
        (again.etag(), again.header("last-modified")),
        (tag.clone(), Some(lm.as_str()))
    );

    // If-None-Match: the tag, weak, in a list, on two lines, `*`.
    let weak = format!("W/{tag}");
    let list = format!("\"{epoch}.999\", {tag}");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("If-None-Match", &tag)],
        vec![("If-None-Match", &weak)],
        vec![("If-None-Match", &list)],
        vec![("If-None-Match", "\"x.1\""), ("If-None-Match", &tag)],
        vec![("If-None-Match", "*")],
        // With If-None-Match present, If-Modified-Since is ignored.
        vec![
            ("If-None-Match", &tag),
            ("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"),
        ],
    ];
    for headers in &cases {
        for method in ["GET", "HEAD"] {
            let nm = item(&app, method, headers).await;
            assert_eq!(nm.status, 304, "{method} {headers:?}");
            assert!(nm.body.is_empty());
            assert_eq!(nm.etag(), tag);
            assert_eq!(nm.header("last-modified"), Some(lm.as_str()));
            assert_eq!(nm.header("cache-control"), Some("no-cache"));
            assert!(nm.header("date").is_some());
        }
    }
    for stale in [
        format!("\"{epoch}.1\""),
        "\"other.2\"".to_string(),
        "junk".to_string(),
    ] {
        let r = item(&app, "GET", &[("If-None-Match", &stale)]).await;
        assert_eq!(
            (r.status, r.json()["title"].as_str()),
            (200, Some("A")),
            "{stale}"
        );
    }
    let r = item(
        &app,
        "GET",
        &[("If-None-Match", &tag), ("If-Modified-Since", &lm)],
    )
    .await;
    assert_eq!(r.status, 304);

    // HEAD: the GET's headers, no body.
    let h = item(&app, "HEAD", &[]).await;
    assert_eq!((h.status, h.body.len()), (200, 0));
    assert_eq!(h.etag(), tag);
    let g = item(&app, "GET", &[]).await;
    assert_eq!(
        h.header("content-length"),
        Some(g.body.len().to_string().as_str())
    );

    // An identical PUT appends nothing: the tag stays; a change makes a new one.
    app.put("news", "a b", r#"{"title":"A"}"#).await;
    assert_eq!(
        item(&app, "GET", &[("If-None-Match", &tag)]).await.status,
        304
    );
    let put = app.put("news", "a b", r#"{"title":"A2"}"#).await;
    let new_seq = put.json()["seq"].as_u64().unwrap();
    let r = item(&app, "GET", &[("If-None-Match", &tag)]).await;
    assert_eq!((r.status, r.json()["title"].as_str()), (200, Some("A2")));
    assert_eq!(r.etag(), format!("\"{epoch}.{new_seq}\""));
    // Deleted: 404, no-store.
    app.delete("news", "a b").await;
    let r = item(&app, "GET", &[("If-None-Match", &r.etag())]).await;
    assert_eq!(
        (r.status, r.header("cache-control")),
        (404, Some("no-store"))
    );
}

#[tokio::test]
async fn item_if_modified_since() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a b", r#"{"title":"A"}"#).await;
    let lm = item(&app, "GET", &[])
        .await
        .header("last-modified")
        .unwrap()
        .to_string();
    let second = httpdate::parse_http_date(&lm).unwrap();
    // Once a date's second has ended, the item's own date or a later one is a 304
    // (the later one is in the past after two seconds).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = httpdate::fmt_http_date(second + Duration::from_secs(1));
    for date in [lm.as_str(), later.as_str()] {
        for method in ["GET", "HEAD"] {
            let r = item(&app, method, &[("If-Modified-Since", date)]).await;
            assert_eq!(r.status, 304, "{method} {date}");
            assert!(r.body.is_empty());
            assert_eq!(r.header("last-modified"), Some(lm.as_str()));
            assert_eq!(r.header("cache-control"), Some("no-cache"));
        }
    }
    // Earlier than the stamp, unparseable or in the future: the item.
    let earlier = httpdate::fmt_http_date(second - Duration::from_secs(1));
    let future = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
    for date in [earlier.as_str(), "not a date", future.as_str()] {
        let r = item(&app, "GET", &[("If-Modified-Since", date)]).await;
        assert_eq!(
            (r.status, r.json()["title"].as_str()),
            (200, Some("A")),
            "{date}"
        );
    }
    // A change in a later second makes the old date stale.
    app.put("news", "a b", r#"{"title":"A2"}"#).await;
    let r = item(&app, "GET", &[("If-Modified-Since", &lm)]).await;
    assert_eq!((r.status, r.json()["title"].as_str()), (200, Some("A2")));
}
