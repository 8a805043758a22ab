//! The push API over HTTP (PROTOCOL §5) and its errors (§7): every bad
//! request gets its status and problem code and changes nothing.

use crate::support::*;

#[tokio::test]
async fn put_delete_get_and_batches() {
    let app = TestApp::builder().spawn().await;
    let r = app.put("news", "a", r#"{"title":"A","summary":"s"}"#).await;
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(
        (v["action"].as_str(), v["seq"].as_u64()),
        (Some("add"), Some(1))
    );
    assert_eq!(r.etag(), format!("\"{}\"", v["etag"].as_str().unwrap()));
    assert!(v["etag"].as_str().unwrap().ends_with(".1"));
    let r = app.put("news", "a", r#"{"title":"A2"}"#).await;
    assert_eq!(
        (r.status, r.json()["action"].as_str()),
        (200, Some("update"))
    );
    // Identical payload (field order aside): nothing appended.
    let r = app
        .put("news", "a", r#"{"title":"A2","categories":[]}"#)
        .await;
    assert_eq!(
        (
            r.status,
            r.json()["action"].as_str(),
            r.json()["seq"].as_u64()
        ),
        (200, Some("unchanged"), Some(2))
    );
    assert_eq!(app.head("news").await, 2);
    // GET item: the current JSON, usable as a PUT body.
    let g = app.get("/feeds/news/items/a", &[]).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.json(), serde_json::json!({"id": "a", "title": "A2"}));
    assert!(g.header("last-modified").is_some());
    // Ids with '/', spaces and non-ASCII travel percent-encoded.
    let odd = "dir/sub ü?#%";
    assert_eq!(app.put("news", odd, r#"{"title":"odd"}"#).await.status, 201);
    assert_eq!(
        app.get(&format!("/feeds/news/items/{}", enc(odd)), &[])
            .await
            .json()["id"],
        odd
    );
    // Batch: atomic, in order, one result per element.
    let r = app.batch("news", r#"[{"id":"b","title":"B"},{"id":"a","deleted":true},{"id":"b","title":"B2"},{"id":"c","title":"C"}]"#).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let got: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap(),
                i["action"].as_str().unwrap(),
                i["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("b", "add", 4),
            ("a", "delete", 5),
            ("b", "update", 6),
            ("c", "add", 7)
        ]
    );
    assert_eq!(v["head"], 7);
    // A batch with one bad element changes nothing.
    let r = app
        .batch(
            "news",
            r#"[{"id":"d","title":"D"},{"id":"zzz","deleted":true}]"#,
        )
        .await;
    assert_eq!((r.status, r.problem().as_str()), (404, "item_not_found"));
    let r = app
        .batch("news", r#"[{"id":"d","title":"D"},{"id":"e","title":7}]"#)
        .await;
    assert_eq!((r.status, r.problem().as_str()), (400, "invalid_item"));
    assert_eq!(app.head("news").await, 7);
    assert_eq!(app.get("/feeds/news/items/d", &[]).await.status, 404);
    // DELETE
    let r = app.delete("news", "c").await;
    assert_eq!(
        (
            r.status,
            r.json()["action"].as_str(),
            r.json()["seq"].as_u64()
        ),
        (200, Some("delete"), Some(8))
    );
    let r = app.delete("news", "c").await;
    assert_eq!((r.status, r.problem().as_str()), (404, "item_not_found"));
    // GET /feeds
    let v = app.get("/feeds", &[]).await.json();
    let news = &v["feeds"][0];
    assert_eq!(
        (
            news["name"].as_str(),
            news["head"].as_u64(),
            news["items"].as_u64()
        ),
        (Some("news"), Some(8), Some(2))
    );
    assert_eq!(
        news["etag"].as_str().unwrap(),
        format!("{}.8", news["epoch"].as_str().unwrap())
    );
    assert_eq!(v["feeds"][1]["head"], 0);
}

/// method, path, headers, body, expected status, expected code
type Case<'a> = (
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    Vec<u8>,
    u16,
    &'a str,
);

#[tokio::test]
async fn bad_input_gets_a_problem_and_changes_nothing() {
    let app = TestApp::builder()
        .toml("max_body_bytes = 1000")
        .spawn()
        .await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    let json = [("Content-Type", "application/json")];
    let long_id = "x".repeat(257);
    let cases: Vec<Case> = vec![
        (
            "PUT",
            "/feeds/news/items/a".into(),
            json.to_vec(),
            b"{\"title\":".to_vec(),
            400,
            "invalid_item",
        ),
        (
            "PUT",
            "/feeds/news/items/a".into(),
            json.to_vec(),
            br#"{"title":["x"]}"#.to_vec(),
            400,
            "invalid_item",
        ),
        (
            "PUT",
            "/feeds/news/items/a".into(),
            json.to_vec(),
            br#"{"enclosures":{}}"#.to_vec(),
            400,
            "invalid_item",
        ),
        (
            "PUT",
            "/feeds/news/items/a".into(),
            json.to_vec(),
            b"{\"title\":\"\xff\"}".to_vec(),
            400,
            "invalid_item",
        ),
        (
            "PUT",
            format!("/feeds/news/items/{long_id}"),
            json.to_vec(),
            b"{}".to_vec(),
            400,
            "invalid_item",
        ),
        (
            "PUT",
            "/feeds/news/items/a%01".into(),
            json.to_vec(),
            b"{}".to_vec(),
            400,
            "invalid_item",
        ),
        (
            "PUT",
            "/feeds/news/items/%FF".into(),
            json.to_vec(),
            b"{}".to_vec(),
            400,
            "invalid_parameter",
        ),
        (
            "PUT",
            "/feeds/news/items/a".into(),
            json.to_vec(),
            format!("{{\"title\":\"{}\"}}", "x".repeat(2000)).into_bytes(),
            413,
            "payload_too_large",
        ),
        (
            "PUT",
            "/feeds/news/items/a".into(),
            vec![("Content-Type", "text/plain")],
            b"{}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "PUT",
            "/feeds/news/items/a".into(),
            vec![],
            b"{}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/feeds/news/items".into(),
            json.to_vec(),
            br#"{"id":"a"}"#.to_vec(),
            400,
            "invalid_item",
        ),
        (
            "PUT",
            "/feeds/nope/items/a".into(),
            json.to_vec(),
            b"{}".to_vec(),
            404,
            "feed_not_found",
        ),
        (
            "DELETE",
            "/feeds/nope/items/a".into(),
            vec![],
            vec![],
            404,
            "feed_not_found",
        ),
        (
            "PATCH",
            "/feeds/news/items/a".into(),
            json.to_vec(),
            b"{}".to_vec(),
            405,
            "method_not_allowed",
        ),
        (
            "PUT",
            "/feeds/news".into(),
            json.to_vec(),
            b"{}".to_vec(),
            405,
            "method_not_allowed",
        ),
        (
            "GET",
            "/feeds/news/items".into(),
            vec![],
            vec![],
            405,
            "method_not_allowed",
        ),
        ("GET", "/nowhere".into(), vec![], vec![], 404, "not_found"),
    ];
    for (method, path, headers, body, status, code) in cases {
        let r = app.req(method, &path, &headers, &body).await;
        assert_eq!(
            (r.status, r.problem().as_str()),
            (status, code),
            "{method} {path}"
        );
    }
    // A body over the limit without a Content-Length (chunked) is cut off too.
    let chunk = "x".repeat(1500);
    let raw = format!(
        "PUT /feeds/news/items/a HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{{\"title\":\"{chunk}\"}}\r\n0\r\n\r\n",
        chunk.len() + 12
    );
    let r = raw::send(app.addr, raw.as_bytes()).await;
    assert_eq!((r.status, r.problem().as_str()), (413, "payload_too_large"));
    // 405 names what is allowed; OPTIONS answers the same.
    let r = app.req("PATCH", "/feeds/news/items/a", &[], b"").await;
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, DELETE, OPTIONS"));
    let r = app.req("OPTIONS", "/feeds/news", &[], b"").await;
    assert_eq!(
        (r.status, r.header("allow")),
        (204, Some("GET, HEAD, OPTIONS"))
    );
    // Nothing changed.
    assert_eq!(app.head("news").await, 1);
    assert_eq!(
        app.get("/feeds/news/items/a", &[]).await.json(),
        serde_json::json!({"id": "a", "title": "A"})
    );
}

/// At least 8 concurrent producers and a consumer polling with its ETag the
/// whole time, over HTTP: every transaction exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_producers_and_an_etag_consumer() {
    let app = TestApp::builder().spawn().await;
    const PRODUCERS: usize = 10;
    const EACH: usize = 25;
    let mut tasks = vec![];
    for p in 0..PRODUCERS {
        let client = Client::new(app.addr);
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let r = if i % 5 == 0 {
                    client.batch("news", &format!(r#"[{{"id":"p{p}-{i}","title":"x"}},{{"id":"p{p}-{i}b","title":"y"}}]"#)).await
                } else {
                    client.put("news", &format!("p{p}-{i}"), r#"{"title":"x"}"#).await
                };
                assert!(r.status == 200 || r.status == 201, "{r:?}");
            }
        }));
    }
    let total = (PRODUCERS * (EACH + EACH / 5)) as u64;
    let mut etag: Option<String> = None;
    let mut ticks = vec![];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while (ticks.len() as u64) < total && std::time::Instant::now() < deadline {
        let hdrs: Vec<(&str, &str)> = etag.iter().map(|e| ("If-None-Match", e.as_str())).collect();
        let r = app.get("/feeds/news?limit=13", &hdrs).await;
        if r.status == 200 {
            ticks.extend(r.feed().entries.iter().map(|e| e.tick));
        } else {
            assert_eq!(r.status, 304);
            assert_eq!(Some(r.etag()), etag, "a 304 never moves the position");
        }
        etag = Some(r.etag());
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(ticks, (1..=total).collect::<Vec<_>>());
}
