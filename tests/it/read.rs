//! Reading feeds over HTTP: every cursor rule of PROTOCOL §3, 304s, paging,
//! A-IM (the default feed; `im_feed.rs` has both configurations), HEAD,
//! formats.

use crate::support::*;

async fn app_with(n: usize) -> TestApp {
    let app = TestApp::builder().spawn().await;
    for i in 1..=n {
        assert_eq!(
            app.put("news", &format!("i{i}"), &format!(r#"{{"title":"T{i}"}}"#))
                .await
                .status,
            201
        );
    }
    app
}

fn ticks(f: &Feed) -> Vec<u64> {
    f.entries.iter().map(|e| e.tick).collect()
}

#[tokio::test]
async fn first_fetch_then_304_then_delta() {
    let app = app_with(3).await;
    let first = app.get("/feeds/news?limit=1000", &[]).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type"),
        Some("application/rss+xml; charset=utf-8")
    );
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    // A catch-up never reaches into the current second; an ETag poll does.
    let etag = first.etag();
    let rest = app.get("/feeds/news", &[("If-None-Match", &etag)]).await;
    let mut got = ticks(&first.feed());
    if rest.status == 200 {
        got.extend(ticks(&rest.feed()));
    }
    assert_eq!(got, [1, 2, 3]);
    let head = format!("\"{epoch}.3\"");
    let nm = app.get("/feeds/news", &[("If-None-Match", &head)]).await;
    assert_eq!(nm.status, 304);
    assert!(nm.body.is_empty());
    assert_eq!(nm.etag(), head);
    // 304 carries the headers a 200 would.
    let full = app
        .get(
            "/feeds/news",
            &[("If-None-Match", &format!("\"{epoch}.2\""))],
        )
        .await;
    for h in ["cache-control", "vary", "date"] {
        assert!(nm.header(h).is_some(), "304 lacks {h}");
        assert_eq!(nm.header(h).is_some(), full.header(h).is_some());
    }
    assert_eq!(nm.header("vary"), full.header("vary"));
    assert_eq!(nm.header("cache-control"), full.header("cache-control"));
    assert_eq!(nm.header("last-modified"), full.header("last-modified"));
    let f = full.feed();
    assert_eq!(
        (ticks(&f), f.sync_mode.as_str(), f.etag.as_str()),
        (vec![3], "immediate", &*format!("{epoch}.3"))
    );
    // Changes after the position.
    app.put("news", "i1", r#"{"title":"T1 v2"}"#).await;
    app.put("news", "i9", r#"{"title":"T9"}"#).await;
    app.delete("news", "i2").await;
    let d = app
        .get("/feeds/news", &[("If-None-Match", &head)])
        .await
        .feed();
    assert_eq!(d.ids(), [("i1", "update"), ("i9", "add"), ("i2", "delete")]);
    assert_eq!(d.etag, format!("{epoch}.6"));
    assert_eq!(d.tick, 7);
}

#[tokio::test]
async fn if_none_match_forms() {
    let app = app_with(4).await;
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let cases = [
        (
            format!("W/\"{epoch}.2\""),
            200,
            vec![3, 4],
            format!("\"{epoch}.4\""),
        ),
        (
            format!("\"{epoch}.1\", \"other.3\", W/\"{epoch}.3\""),
            200,
            vec![4],
            format!("\"{epoch}.4\""),
        ),
        (format!("{epoch}.4"), 304, vec![], format!("\"{epoch}.4\"")),
        ("*".to_string(), 304, vec![], format!("\"{epoch}.4\"")),
        // foreign epoch, beyond the head, garbage: catch-up from the start
        (
            "\"deadbeef.2\"".to_string(),
            200,
            vec![1, 2, 3, 4],
            String::new(),
        ),
        (
            format!("\"{epoch}.99\""),
            200,
            vec![1, 2, 3, 4],
            String::new(),
        ),
        ("\"%%%\"".to_string(), 200, vec![1, 2, 3, 4], String::new()),
    ];
    // The catch-up cases may stop before the current second: wait it out.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for (inm, status, want, etag) in cases {
        let r = app.get("/feeds/news", &[("If-None-Match", &inm)]).await;
        assert_eq!(r.status, status, "{inm}");
        if status == 200 {
            let f = r.feed();
            assert_eq!(ticks(&f), want, "{inm}");
            assert_eq!(
                f.sync_mode,
                if want.first() == Some(&1) {
                    "catchUp"
                } else {
                    "immediate"
                }
            );
        }
        if !etag.is_empty() {
            assert_eq!(r.etag(), etag, "{inm}");
        }
    }
    // If-None-Match wins over If-Modified-Since and the query string.
    let r = app
        .get(
            &format!("/feeds/news?etag={epoch}.1"),
            &[
                ("If-None-Match", &format!("\"{epoch}.3\"")),
                ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ],
        )
        .await;
    assert_eq!(ticks(&r.feed()), [4]);
}

#[tokio::test]
async fn query_string_polling() {
    let app = app_with(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let f = app.get("/feeds/news", &[]).await.feed();
    assert_eq!(ticks(&f), [1, 2]);
    // The body carries the position; the query string hands it back.
    let q = format!(
        "/feeds/news?etag={}&lastMod={}",
        f.etag,
        enc(f.date.as_deref().unwrap())
    );
    assert_eq!(app.get(&q, &[]).await.status, 304);
    app.put("news", "i3", r#"{"title":"T3"}"#).await;
    let d = app.get(&q, &[]).await;
    assert_eq!(d.status, 200);
    assert_eq!(ticks(&d.feed()), [3]);
    // A bad etag parameter is a catch-up even next to a good lastMod.
    let r = app
        .get(
            &format!(
                "/feeds/news?etag=nope&lastMod={}",
                enc(f.date.as_deref().unwrap())
            ),
            &[],
        )
        .await;
    assert_eq!(r.feed().sync_mode, "catchUp");
    // lastMod alone, RFC 3339 and HTTP-date forms.
    let r = app
        .get("/feeds/news?lastMod=2000-01-01T00:00:00Z", &[])
        .await
        .feed();
    assert_eq!(ticks(&r), [1, 2]);
    let r = app
        .get(
            &format!(
                "/feeds/news?lastMod={}",
                enc("Sat, 01 Jan 2000 00:00:00 GMT")
            ),
            &[],
        )
        .await
        .feed();
    assert_eq!(ticks(&r), [1, 2]);
    // Atom: the same position in <updated>.
    let a = app
        .get(&format!("/feeds/news.atom?etag={}", f.etag), &[])
        .await
        .feed();
    assert!(a.atom);
    let q = format!(
        "/feeds/news.atom?lastMod={}",
        enc(a.date.as_deref().unwrap())
    );
    let r = app.get(&q, &[]).await;
    assert!(
        r.status == 304 || ticks(&r.feed()).iter().all(|t| *t > 2),
        "{r:?}"
    );
}

#[tokio::test]
async fn http_dates_in_three_forms_and_precedence() {
    let app = app_with(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let first = app.get("/feeds/news", &[]).await;
    let lm = first.header("last-modified").unwrap().to_string();
    let t = httpdate::parse_http_date(&lm).unwrap();
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap();
    let rfc850 = dt.format("%A, %d-%b-%y %H:%M:%S GMT").to_string();
    let asctime = dt.format("%a %b %e %H:%M:%S %Y").to_string();
    for date in [lm.clone(), rfc850, asctime] {
        let r = app
            .get("/feeds/news", &[("If-Modified-Since", &date)])
            .await;
        assert_eq!(r.status, 304, "{date}");
        assert_eq!(r.etag(), first.etag());
    }
    // If-Modified-Since beats lastMod; an invalid or future date is a catch-up.
    let r = app
        .get(
            "/feeds/news?lastMod=2000-01-01T00:00:00Z",
            &[("If-Modified-Since", &lm)],
        )
        .await;
    assert_eq!(r.status, 304);
    for bad in ["yesterday", "Fri, 01 Jan 2100 00:00:00 GMT"] {
        let r = app.get("/feeds/news", &[("If-Modified-Since", bad)]).await;
        assert_eq!(
            (r.status, r.feed().sync_mode.as_str()),
            (200, "catchUp"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn paging_with_next_links() {
    let app = app_with(5).await;
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let mut url = format!("/feeds/news?etag={epoch}.0&limit=2");
    let mut pages = vec![];
    loop {
        let r = app.get(&url, &[]).await;
        let f = r.feed();
        pages.push(ticks(&f));
        match (&f.next, r.header("link")) {
            (Some(next), Some(link)) => {
                assert_eq!(link, format!("<{next}>; rel=\"next\""));
                assert!(
                    next.ends_with(&format!("?etag={}&limit=2", f.etag)),
                    "{next}"
                );
                url = next
                    .split_once(&app.addr.to_string())
                    .unwrap()
                    .1
                    .to_string();
            }
            (None, None) => break,
            other => panic!("next link in body and header disagree: {other:?}"),
        }
    }
    assert_eq!(pages, [vec![1, 2], vec![3, 4], vec![5]]);
    // limit is checked; larger than max is clamped.
    let r = app.get("/feeds/news?limit=0", &[]).await;
    assert_eq!((r.status, r.problem().as_str()), (400, "invalid_parameter"));
    let r = app.get("/feeds/news?limit=abc", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(app.get("/feeds/news?limit=999999", &[]).await.status, 200);
}

#[tokio::test]
async fn a_im_feed_head_and_formats() {
    let app = app_with(2).await;
    // A-IM: feed gets a plain 200 unless the feed sets im_feed (`im_feed.rs`).
    let r = app.get("/feeds/news", &[("A-IM", "feed")]).await;
    assert_eq!((r.status, r.header("im")), (200, None));
    let nm = app
        .get("/feeds/news", &[("A-IM", "feed"), ("If-None-Match", "*")])
        .await;
    assert_eq!(nm.status, 304);
    // HEAD: the headers of GET, no body.
    let g = app.get("/feeds/news.atom", &[]).await;
    let h = app.req("HEAD", "/feeds/news.atom", &[], b"").await;
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    assert_eq!(
        h.header("content-length").unwrap(),
        g.body.len().to_string()
    );
    assert_eq!(h.etag(), g.etag());
    // Formats: suffix, query, Accept; Vary names Accept.
    for (path, accept, atom) in [
        ("/feeds/news", "", false),
        ("/feeds/news.atom", "", true),
        ("/feeds/news.rss", "application/atom+xml", false),
        ("/feeds/news?format=atom", "", true),
        ("/feeds/news?format=rss", "application/atom+xml", false),
        ("/feeds/news", "application/atom+xml", true),
        (
            "/feeds/news",
            "application/atom+xml;q=0.5, application/rss+xml",
            false,
        ),
    ] {
        // Without an Accept of its own the client would send `Accept: */*`:
        // the rows without one go raw, with none.
        let r = if accept.is_empty() {
            raw::request(app.addr, "GET", path, &[], b"").await
        } else {
            app.get(path, &[("Accept", accept)]).await
        };
        assert_eq!(r.feed().atom, atom, "{path} {accept}");
        let ct = if atom {
            "application/atom+xml; charset=utf-8"
        } else {
            "application/rss+xml; charset=utf-8"
        };
        assert_eq!(r.header("content-type"), Some(ct));
        assert!(r.header("vary").unwrap().contains("Accept"));
    }
    let r = app.get("/feeds/news?format=json", &[]).await;
    assert_eq!((r.status, r.problem().as_str()), (400, "invalid_parameter"));
    let r = app.get("/feeds/nope", &[]).await;
    assert_eq!((r.status, r.problem().as_str()), (404, "feed_not_found"));
}

/// Many transactions within one second; a consumer that keeps only
/// Last-Modified receives each exactly once.
#[tokio::test]
async fn last_modified_only_consumer_gets_each_transaction_once() {
    let app = TestApp::builder().spawn().await;
    let producer = {
        let addr = app.addr;
        tokio::spawn(async move {
            let p = Client::new(addr);
            for round in 0..6 {
                let batch: Vec<String> = (0..10)
                    .map(|i| format!(r#"{{"id":"b{round}-{i}","title":"x"}}"#))
                    .collect();
                assert_eq!(
                    p.batch("news", &format!("[{}]", batch.join(",")))
                        .await
                        .status,
                    200
                );
                for i in 0..5 {
                    assert_eq!(
                        p.put("news", &format!("s{round}-{i}"), r#"{"title":"y"}"#)
                            .await
                            .status,
                        201
                    );
                }
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
        })
    };
    let mut seen = vec![];
    let mut last_modified: Option<String> = None;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    while seen.len() < 90 && std::time::Instant::now() < deadline {
        let hdrs: Vec<(&str, &str)> = last_modified
            .iter()
            .map(|d| ("If-Modified-Since", d.as_str()))
            .collect();
        let r = app.get("/feeds/news?limit=4", &hdrs).await;
        if r.status == 200 {
            seen.extend(ticks(&r.feed()));
            if let Some(lm) = r.header("last-modified") {
                last_modified = Some(lm.to_string());
            }
        } else {
            assert_eq!(r.status, 304);
        }
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    producer.await.unwrap();
    assert_eq!(seen, (1..=90).collect::<Vec<u64>>());
}
