//! Bad content: invalid UTF-8, encoded `/` and `..`, a 10,000-item batch,
//! deeply nested JSON, OPTIONS, unknown query parameters.

use super::*;

#[tokio::test]
async fn invalid_utf8_in_paths_ids_headers_and_json() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    let before = stored(&app).await;
    let json = [("Content-Type", "application/json")];
    // Percent-encoded byte sequences that are not UTF-8: truncated, overlong
    // (an encoded '/'), a surrogate.
    for id in ["%C3%28", "%C0%AF", "%ED%A0%80", "a%E2%82"] {
        let r = app
            .req("PUT", &format!("/feeds/news/items/{id}"), &json, b"{}")
            .await;
        assert_eq!(
            (r.status, r.problem().as_str()),
            (400, "invalid_parameter"),
            "{id}"
        );
        let r = app.get(&format!("/feeds/news/items/{id}"), &[]).await;
        assert_eq!(r.status, 400, "{id}");
    }
    // Feed names are never decoded: a name with escapes is not a feed.
    let r = app.req("PUT", "/feeds/%FF/items/a", &json, b"{}").await;
    assert_eq!((r.status, r.problem().as_str()), (404, "feed_not_found"));
    // Raw bytes above 0x7F in the request target are not a URI: hyper answers 400.
    let raw = b"GET /feeds/news/items/\xff\xfe HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let r = raw::answer(app.addr, raw, Duration::from_secs(5)).await;
    assert_eq!(r.status, 400, "{r:?}");
    // Invalid UTF-8 in an id inside a batch, and a lone surrogate escape.
    let r = app
        .req(
            "POST",
            "/feeds/news/items",
            &json,
            b"[{\"id\":\"\xc3\x28\"}]",
        )
        .await;
    assert_eq!((r.status, r.problem().as_str()), (400, "invalid_item"));
    let r = app.batch("news", r#"[{"id":"b","title":"\ud800"}]"#).await;
    assert_eq!((r.status, r.problem().as_str()), (400, "invalid_item"));
    // Invalid UTF-8 in a validator is an unusable validator: a catch-up, not an error.
    let raw = b"GET /feeds/news HTTP/1.1\r\nHost: t\r\nConnection: close\r\nIf-None-Match: \"\xff\xfe.1\"\r\n\r\n";
    let r = raw::answer(app.addr, raw, Duration::from_secs(5)).await;
    assert_eq!((r.status, r.feed().sync_mode.as_str()), (200, "catchUp"));
    // ... and in a Content-Type, an unsupported one.
    let raw = b"PUT /feeds/news/items/a HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/\xffjson\r\nContent-Length: 2\r\n\r\n{}";
    let r = raw::answer(app.addr, raw, Duration::from_secs(5)).await;
    assert_eq!(
        (r.status, r.problem().as_str()),
        (415, "unsupported_media_type")
    );
    assert_eq!(stored(&app).await, before);
    assert_eq!(
        app.get("/feeds/news/items/a", &[]).await.json(),
        serde_json::json!({"id": "a", "title": "A"})
    );
}

#[tokio::test]
async fn encoded_slashes_and_dot_segments_are_opaque() {
    let app = TestApp::builder().spawn().await;
    let before_other = app.head("other").await;
    // In an id, `%2F` and `..` are just characters of the id.
    for (path_id, id) in [
        ("a%2Fb", "a/b"),
        ("%2E%2E", ".."),
        ("..%2F..%2Fother", "../../other"),
    ] {
        let r = app
            .req(
                "PUT",
                &format!("/feeds/news/items/{path_id}"),
                &[("Content-Type", "application/json")],
                br#"{"title":"t"}"#,
            )
            .await;
        assert_eq!(r.status, 201, "{path_id}: {r:?}");
        assert_eq!(
            app.get(&format!("/feeds/news/items/{}", enc(id)), &[])
                .await
                .json()["id"],
            id
        );
    }
    // A raw `..` segment names the same item as `%2E%2E` (no normalisation).
    let r = app.get("/feeds/news/items/..", &[]).await;
    assert_eq!((r.status, r.json()["id"].as_str()), (200, Some("..")));
    let after_puts = stored(&app).await;
    let json = [("Content-Type", "application/json")];
    // Paths that try to leave their feed or reach a file are not resources.
    let cases = [
        (
            "PUT",
            "/feeds/news/items/../../other/items/x",
            404,
            "not_found",
        ),
        ("GET", "/feeds/news/items/a/b", 404, "not_found"),
        ("GET", "/feeds/news/%2E%2E/other", 404, "not_found"),
        ("GET", "/feeds/./news", 404, "not_found"),
        ("PUT", "/feeds/..%2Fother/items/x", 404, "feed_not_found"),
        ("PUT", "/feeds/%2E%2E/items/x", 404, "feed_not_found"),
        ("PUT", "/feeds/../items/x", 404, "feed_not_found"),
        ("GET", "/feeds/news%2Fitems", 404, "feed_not_found"),
        ("GET", "/feeds/..", 404, "feed_not_found"),
        ("GET", "/feeds/%2E%2E%2Fetc%2Fpasswd", 404, "feed_not_found"),
    ];
    for (method, path, status, code) in cases {
        let r = app.req(method, path, &json, br#"{"title":"x"}"#).await;
        assert_eq!(
            (r.status, r.problem().as_str()),
            (status, code),
            "{method} {path}"
        );
    }
    assert_eq!(stored(&app).await, after_puts);
    assert_eq!(app.head("other").await, before_other);
    assert_eq!(
        from_start(&app, "news").await.ids(),
        [("a/b", "add"), ("..", "add"), ("../../other", "add")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_thousand_item_batch_is_atomic_and_over_the_limit_is_413() {
    const N: usize = 10_000;
    // ~1.2 MB of JSON: over the default 1 MiB, within the raised limit.
    let app = TestApp::builder()
        .toml("max_body_bytes = 2000000")
        .spawn()
        .await;
    let batch = |pad: usize| {
        let items: Vec<_> = (0..N)
            .map(|i| serde_json::json!({"id": format!("item-{i:05}"), "title": format!("{i:0pad$}")}))
            .collect();
        serde_json::Value::Array(items).to_string()
    };
    let too_big = batch(200);
    assert!(too_big.len() > 2_000_000);
    let r = app.batch("news", &too_big).await;
    assert_eq!((r.status, r.problem().as_str()), (413, "payload_too_large"));
    assert_eq!(app.head("news").await, 0);

    let body = batch(100);
    assert!(
        body.len() > 1 << 20 && body.len() < 2_000_000,
        "{}",
        body.len()
    );
    // A reader polling the head while the batch is applied sees all or nothing.
    let watcher = {
        let client = Client::new(app.addr);
        tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let head = client.head("news").await;
                seen.insert(head);
                if head as usize == N {
                    break;
                }
            }
            seen
        })
    };
    let r = app.batch("news", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), N);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["seq"].as_u64(), Some(i as u64 + 1));
        assert_eq!(item["action"], "add");
        assert_eq!(item["id"], format!("item-{i:05}"));
    }
    assert_eq!(v["head"].as_u64(), Some(N as u64));
    let seen = watcher.await.unwrap();
    assert!(
        seen.iter().all(|&h| h == 0 || h == N as u64),
        "a partial batch was visible: {seen:?}"
    );
    assert_eq!(
        stored(&app).await["feeds"][0]["items"].as_u64(),
        Some(N as u64)
    );
    let last = app.get("/feeds/news/items/item-09999", &[]).await;
    assert_eq!(last.json()["title"], format!("{:0100}", N - 1));
    assert_eq!(from_start(&app, "news").await.entries.len(), 1000);
}

#[tokio::test]
async fn deeply_nested_json_is_rejected_without_harm() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    let before = stored(&app).await;
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let put = format!("{{\"title\":{nested}}}");
    let r = app.put("news", "a", &put).await;
    assert_eq!((r.status, r.problem().as_str()), (400, "invalid_item"));
    let r = app.batch("news", &nested).await;
    assert_eq!((r.status, r.problem().as_str()), (400, "invalid_item"));
    let objects = format!("[{}{}]", "{\"a\":".repeat(depth), "}".repeat(depth));
    let r = app.batch("news", &objects).await;
    assert_eq!((r.status, r.problem().as_str()), (400, "invalid_item"));
    assert_eq!(app.get("/healthz", &[]).await.status, 200);
    assert_eq!(stored(&app).await, before);
}

#[tokio::test]
async fn options_answers_allow_and_changes_nothing() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    let before = stored(&app).await;
    let json = [("Content-Type", "application/json")];
    for (path, allow) in [
        ("/feeds", "GET, HEAD, OPTIONS"),
        ("/feeds/news.atom", "GET, HEAD, OPTIONS"),
        ("/healthz", "GET, HEAD, OPTIONS"),
        ("/feeds/news/items", "POST, OPTIONS"),
        ("/feeds/news/items/a", "GET, HEAD, PUT, DELETE, OPTIONS"),
    ] {
        // A body (here a would-be write) is ignored.
        let r = app
            .req("OPTIONS", path, &json, br#"{"title":"changed"}"#)
            .await;
        assert_eq!((r.status, r.header("allow")), (204, Some(allow)), "{path}");
        assert!(r.body.is_empty());
    }
    let r = app.req("OPTIONS", "/nowhere", &[], b"").await;
    assert_eq!((r.status, r.problem().as_str()), (404, "not_found"));
    // The asterisk form names no resource of ours.
    let raw = b"OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let r = raw::answer(app.addr, raw, Duration::from_secs(5)).await;
    assert_eq!((r.status, r.problem().as_str()), (404, "not_found"));
    assert_eq!(stored(&app).await, before);
    assert_eq!(
        app.get("/feeds/news/items/a", &[]).await.json()["title"],
        "A"
    );
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored() {
    let app = TestApp::builder().spawn().await;
    let epoch = stored(&app).await["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    // On writes the query is not part of the id, and unknown parameters do nothing.
    let r = app
        .req(
            "PUT",
            "/feeds/news/items/a?dryRun=true&id=b",
            &[("Content-Type", "application/json")],
            br#"{"title":"A"}"#,
        )
        .await;
    assert_eq!((r.status, r.json()["seq"].as_u64()), (201, Some(1)));
    assert_eq!(app.get("/feeds/news/items/b", &[]).await.status, 404);
    let r = app
        .req(
            "POST",
            "/feeds/news/items?atomic=false",
            &[("Content-Type", "application/json")],
            br#"[{"id":"b","title":"B"}]"#,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.req("DELETE", "/feeds/news/items/b?force=1", &[], b"")
            .await
            .status,
        200
    );
    // On reads they change neither the page nor the validators.
    let plain = app
        .get(&format!("/feeds/news?etag={epoch}.0&limit=5"), &[])
        .await;
    let noisy = app
        .get(
            &format!("/feeds/news?utm_source=x&etag={epoch}.0&ETAG=zz.9&limit=5&foo&=bar&x=%FF"),
            &[],
        )
        .await;
    assert_eq!((plain.status, noisy.status), (200, 200));
    assert_eq!(plain.etag(), noisy.etag());
    let (p, n) = (plain.feed(), noisy.feed());
    assert_eq!(p.ids(), [("a", "add")]);
    assert_eq!(
        (p.ids(), p.etag.clone(), p.next.clone()),
        (n.ids(), n.etag.clone(), n.next.clone())
    );
    let r = app
        .get(
            "/feeds/news?since=0&page=2",
            &[("If-None-Match", &plain.etag())],
        )
        .await;
    assert_eq!((r.status, r.etag()), (304, plain.etag()));
    assert_eq!(app.head("news").await, 3);
}
