//! Clients built on libcurl with a time condition (newsboat, via
//! `CURLOPT_TIMECONDITION`) discard the body of a `200` whose `Last-Modified`
//! is not later than their `If-Modified-Since`, yet keep its `ETag`: such a
//! page would be lost (tests/interop/test_readers.py met it: two polls within
//! one second). An ETag-selected page whose date is not later than the
//! request's `If-Modified-Since` is therefore sent without `Last-Modified`;
//! every other answer keeps it.

use crate::support::*;
use std::time::Duration;

#[tokio::test]
async fn a_page_not_newer_than_if_modified_since_carries_no_date() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    app.put("news", "b", r#"{"title":"B"}"#).await;
    // Once b's second has closed, the page at b names that second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let tag = format!("\"{epoch}.1\"");
    // The second `b` (the page's last transaction) was stamped in.
    let item = app.get("/feeds/news/items/b", &[]).await;
    let second = httpdate::parse_http_date(item.header("last-modified").unwrap()).unwrap();
    let date = |t| httpdate::fmt_http_date(t);
    let (same, later, earlier) = (
        date(second),
        date(second + Duration::from_secs(1)),
        date(second - Duration::from_secs(1)),
    );
    for path in ["/feeds/news", "/feeds/news.atom"] {
        // Twice each: the second answer comes from the page cache.
        for _ in 0..2 {
            for (ims, dated) in [(&same, false), (&later, false), (&earlier, true)] {
                let r = app
                    .get(path, &[("If-None-Match", &tag), ("If-Modified-Since", ims)])
                    .await;
                assert_eq!(r.status, 200, "{path} {ims}");
                assert_eq!(r.etag(), format!("\"{epoch}.2\""));
                assert_eq!(r.feed().entries.len(), 1);
                assert_eq!(r.header("last-modified").is_some(), dated, "{path} {ims}");
            }
            // Without If-Modified-Since the date is there.
            let r = app.get(path, &[("If-None-Match", &tag)]).await;
            assert_eq!(r.header("last-modified"), Some(same.as_str()));
            // The etag query parameter selects the same way.
            let q = format!("{path}?etag={epoch}.1");
            let r = app.get(&q, &[("If-Modified-Since", &same)]).await;
            assert_eq!((r.status, r.header("last-modified")), (200, None));
        }
    }
}
