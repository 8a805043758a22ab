//! What shared caches may do with feed reads (PROTOCOL §3 "Caches", §10
//! "Cacheable backlog pages"): only a full page of the query form is
//! cacheable, with the same bytes on every request (its digest names its
//! end); everything else is `no-store`. And `Prefer: return=representation`,
//! which a caching proxy sends because it may not receive a 304 it did not
//! ask for: the head as a 200 page without entries.

use crate::support::*;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const VARY: &str = "Accept, Accept-Encoding, If-None-Match, If-Modified-Since";

async fn app_with(extra: &str, n: usize) -> (TestApp, String) {
    let app = TestApp::builder().toml(extra).spawn().await;
    for i in 1..=n {
        let r = app
            .put("news", &format!("i{i}"), &format!(r#"{{"title":"T{i}"}}"#))
            .await;
        assert_eq!(r.status, 201);
    }
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    (app, epoch)
}

/// A request under another `Host` (a fresh rendering: the host is part of
/// what a page shows, so it is never served from memory), with the host
/// swapped back in its body and links.
async fn as_host(app: &TestApp, host: &str, path: &str) -> Resp {
    let mut r = app.get(path, &[("Host", host)]).await;
    let own = app.addr.to_string();
    r.body = r.text().replace(host, &own).into_bytes();
    for (_, v) in r.headers.iter_mut() {
        *v = v.replace(host, &own);
    }
    r
}

fn same_answer(a: &Resp, b: &Resp, what: &str) {
    assert_eq!(a.status, b.status, "{what}");
    assert_eq!(a.text(), b.text(), "{what}: body");
    for h in [
        "etag",
        "last-modified",
        "cache-control",
        "vary",
        "link",
        "content-length",
    ] {
        assert_eq!(a.header(h), b.header(h), "{what}: {h}");
    }
}

#[tokio::test]
async fn a_full_query_form_page_is_immutable_and_always_the_same_bytes() {
    let (app, e) = app_with("", 5).await;
    for (round, (path, end)) in [
        (format!("/feeds/news?etag={e}.1&limit=2"), 3),
        (format!("/feeds/news.atom?etag={e}.1&limit=2"), 3),
        (format!("/feeds/news?etag={e}.0&limit=3"), 3),
    ]
    .into_iter()
    .enumerate()
    {
        let first = app.get(&path, &[]).await;
        assert_eq!(first.status, 200, "{path}");
        assert_eq!(first.header("cache-control"), Some(IMMUTABLE), "{path}");
        assert_eq!(first.header("vary"), Some(VARY), "{path}");
        assert_eq!(first.etag(), format!("\"{e}.{end}\""));
        let feed = first.feed();
        // The digest names the page's end, not the head (5).
        assert_eq!(feed.tick, end + 1, "{path}");
        assert!(feed.next.is_some() && first.header("link").is_some());
        // From memory, fresh, and both again once the feed has moved on.
        same_answer(&app.get(&path, &[]).await, &first, &path);
        same_answer(
            &as_host(&app, "fresh-1.example", &path).await,
            &first,
            &path,
        );
        // Writes that would change the page if it followed the log: an
        // update and a delete of items it shows, an add.
        let title = format!(r#"{{"title":"v{round}"}}"#);
        assert_eq!(app.put("news", "i2", &title).await.status, 200);
        assert_eq!(
            app.delete("news", &format!("i{}", 5 - round)).await.status,
            200
        );
        assert_eq!(
            app.put("news", &format!("x{round}"), "{}").await.status,
            201
        );
        same_answer(&app.get(&path, &[]).await, &first, &path);
        same_answer(
            &as_host(&app, "fresh-2.example", &path).await,
            &first,
            &path,
        );
        // HEAD: the same headers.
        let head = app.req("HEAD", &path, &[], b"").await;
        assert!(head.body.is_empty());
        assert_eq!(head.header("cache-control"), Some(IMMUTABLE));
        assert_eq!(
            head.header("content-length"),
            first.header("content-length")
        );
    }
}

#[tokio::test]
async fn everything_else_is_no_store() {
    let (app, e) = app_with("", 5).await;
    let old_date = "Thu, 01 Jan 2015 00:00:00 GMT";
    let inm = format!("\"{e}.1\"");
    let head = format!("\"{e}.5\"");
    // (path, request headers, status; 0: either 200 or 304)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, u16);
    let cases: Vec<Case> = vec![
        // Catch-ups: no cursor, an unusable one.
        ("/feeds/news".into(), vec![], 200),
        ("/feeds/news?limit=2".into(), vec![], 200),
        ("/feeds/news?etag=other.1&limit=2".into(), vec![], 200),
        // Selected by request headers, even a full page.
        (
            "/feeds/news?limit=2".into(),
            vec![("If-None-Match", &inm)],
            200,
        ),
        (
            format!("/feeds/news?etag={e}.1&limit=2"),
            vec![("If-Modified-Since", old_date)],
            200,
        ),
        (
            format!("/feeds/news?etag={e}.1&limit=2"),
            vec![("If-None-Match", &inm)],
            200,
        ),
        // Date cursors, in the query too: a 304 while the writes are in the
        // current second, a 200 after.
        (
            "/feeds/news?limit=1".into(),
            vec![("If-Modified-Since", old_date)],
            0,
        ),
        (
            "/feeds/news?lastMod=2015-01-01T00:00:00Z&limit=1".into(),
            vec![],
            0,
        ),
        // Reaching the head, and at the head.
        (format!("/feeds/news?etag={e}.3&limit=2"), vec![], 200),
        (format!("/feeds/news?etag={e}.3"), vec![], 200),
        (format!("/feeds/news?etag={e}.5"), vec![], 304),
        ("/feeds/news".into(), vec![("If-None-Match", &head)], 304),
        ("/feeds/news".into(), vec![("If-None-Match", "*")], 304),
    ];
    for (path, headers, status) in &cases {
        for _ in 0..2 {
            let r = app.get(path, headers).await;
            if *status == 0 {
                assert!([200, 304].contains(&r.status), "{path} {headers:?}");
            } else {
                assert_eq!(r.status, *status, "{path} {headers:?}");
            }
            assert_eq!(
                r.header("cache-control"),
                Some("no-store"),
                "{path} {headers:?}"
            );
            assert_eq!(r.header("vary"), Some(VARY), "{path} {headers:?}");
            if r.status == 200 {
                // These digests name the head.
                assert_eq!(r.feed().tick, 6, "{path} {headers:?}");
            }
        }
    }
}

#[tokio::test]
async fn a_protected_page_is_immutable_for_private_caches_only() {
    let extra = format!(
        "[credentials.reader]\ntoken_sha256 = \"{}\"\nroles = {{ \"*\" = \"admin\" }}\n",
        feedgate::auth::hash_secret("t-reader")
    );
    let app = TestApp::builder().toml(&extra).spawn().await;
    let auth = [
        ("Authorization", "Bearer t-reader"),
        ("Content-Type", "application/json"),
    ];
    for i in 1..=3 {
        let path = format!("/feeds/news/items/i{i}");
        assert_eq!(app.req("PUT", &path, &auth, b"{}").await.status, 201);
    }
    let feeds = app.get("/feeds", &auth[..1]).await.json();
    let e = feeds["feeds"][0]["epoch"].as_str().unwrap().to_string();
    let r = app
        .get(&format!("/feeds/news?etag={e}.0&limit=1"), &auth[..1])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-control"),
        Some("private, max-age=31536000, immutable")
    );
}

#[tokio::test]
async fn prefer_return_representation_turns_the_head_304_into_an_empty_page() {
    let (app, e) = app_with("", 3).await;
    let other = app.get("/feeds", &[]).await.json()["feeds"][1]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let prefer = ("Prefer", "return=representation");
    for path in [
        format!("/feeds/news?etag={e}.3"),
        format!("/feeds/news.atom?etag={e}.3&limit=2"),
        format!("/feeds/news?etag={e}.7"), // beyond the head: a catch-up, no 304
        format!("/feeds/other?etag={other}.0"),
        "/feeds/news?lastMod=2099-01-01T00:00:00Z".into(), // in the future: a catch-up
    ] {
        let plain = app.get(&path, &[]).await;
        let r = app.get(&path, &[prefer]).await;
        if plain.status != 304 {
            assert_eq!(r.status, plain.status, "{path}");
            assert_eq!(r.header("preference-applied"), None, "{path}");
            continue;
        }
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.header("preference-applied"),
            Some("return=representation")
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(
            r.header("vary"),
            Some(&*format!("{VARY}, Prefer")),
            "{path}"
        );
        for h in ["etag", "last-modified"] {
            assert_eq!(r.header(h), plain.header(h), "{path}: {h}");
        }
        assert_eq!(r.header("link"), None, "{path}");
        let feed = r.feed();
        assert!(feed.entries.is_empty(), "{path}");
        assert_eq!(format!("\"{}\"", feed.etag), r.etag(), "{path}");
        assert_eq!(feed.next, None, "{path}");
        let head = app.req("HEAD", &path, &[prefer], b"").await;
        assert_eq!((head.status, head.body.len()), (200, 0), "{path}");
    }
    // A conditional request gets its 304 whatever it prefers.
    let at_head = format!("\"{e}.3\"");
    for (path, inm) in [
        ("/feeds/news".to_string(), at_head.as_str()),
        (format!("/feeds/news?etag={e}.3"), at_head.as_str()),
        ("/feeds/news".to_string(), "*"),
    ] {
        let r = app.get(&path, &[prefer, ("If-None-Match", inm)]).await;
        assert_eq!(r.status, 304, "{path} {inm}");
    }
    // Not at the head: the page, as without the preference.
    let path = format!("/feeds/news?etag={e}.1");
    let r = app.get(&path, &[prefer]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("preference-applied"), None);
    assert_eq!(r.feed().ids(), [("i2", "add"), ("i3", "add")]);
}
