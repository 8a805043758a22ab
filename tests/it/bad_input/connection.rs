//! Bad input at the HTTP layer: slow and oversized request heads, huge declared
//! bodies, HTTP/1.0 clients, more connections than `max_connections`
//! (the flood and the over-cap answers are in `hardening`).

use super::*;

#[tokio::test]
async fn headers_trickled_slowly_are_cut_off_by_the_header_timeout() {
    let app = TestApp::builder()
        .toml("header_read_timeout = \"500ms\"")
        .spawn()
        .await;
    let before = stored(&app).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"PUT /feeds/news/items/slow HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .await
        .unwrap();
    // One byte every 100 ms: the headers would take 6 s to arrive.
    let started = Instant::now();
    let mut cut_off = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if s.write_all(b"a").await.is_err() {
            cut_off = true;
            break;
        }
        let mut probe = [0u8; 1024];
        if let Ok(Ok(n)) = timeout(Duration::from_millis(1), s.read(&mut probe)).await {
            // hyper closes without a response (n == 0) when the timer fires.
            assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&probe[..n]));
            cut_off = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(cut_off, "the trickling client was never cut off");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(2500),
        "cut off after {took:?}, the timeout is 500 ms"
    );
    assert_eq!(app.get("/healthz", &[]).await.status, 200);
    assert_eq!(stored(&app).await, before);
    assert_eq!(app.get("/feeds/news/items/slow", &[]).await.status, 404);
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    let before = stored(&app).await;
    let limit = Duration::from_secs(5);
    // One 80 KiB header: more than the 64 KiB read buffer.
    let big = format!(
        "PUT /feeds/news/items/a HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Big: {}\r\nContent-Length: 2\r\n\r\n{{}}",
        "x".repeat(80 * 1024)
    );
    let r = raw::answer(app.addr, big.as_bytes(), limit).await;
    assert_eq!(r.status, 431, "{r:?}");
    // More header lines than the parser takes (100), each small.
    let mut many = String::from("GET /feeds/news HTTP/1.1\r\nHost: t\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let r = raw::answer(app.addr, many.as_bytes(), limit).await;
    assert_eq!(r.status, 431, "{r:?}");
    // A header block just under the limit is served.
    let fits = format!(
        "GET /feeds/news HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "x".repeat(60 * 1024)
    );
    assert_eq!(
        raw::answer(app.addr, fits.as_bytes(), limit).await.status,
        200
    );
    assert_eq!(stored(&app).await, before);
    assert_eq!(
        app.get("/feeds/news/items/a", &[]).await.json(),
        serde_json::json!({"id": "a", "title": "A"})
    );
}

#[tokio::test]
async fn a_huge_declared_body_is_refused_before_it_is_sent() {
    let app = TestApp::builder()
        .toml("max_body_bytes = 1000")
        .spawn()
        .await;
    let before = stored(&app).await;
    for path in ["/feeds/news/items/a", "/feeds/news/items"] {
        let method = if path.ends_with("/a") { "PUT" } else { "POST" };
        // Only the head is sent: the answer must not wait for 10^12 bytes.
        let raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n"
        );
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let r = raw::read_one(&mut s, Duration::from_secs(5))
            .await
            .expect("a prompt answer");
        assert_eq!((r.status, r.problem().as_str()), (413, "payload_too_large"));
    }
    assert_eq!(stored(&app).await, before);
}

/// A client that sends its whole body before it reads gets the `413`, not a
/// reset: the refused body is drained before the socket is closed
/// (`server::linger`). Without that, the unread bytes made the kernel reset
/// the connection and the answer was lost (a reqwest batch in CI).
#[tokio::test]
async fn a_refused_body_sent_in_full_still_gets_its_answer() {
    let app = TestApp::builder()
        .toml("max_body_bytes = 1000")
        .spawn()
        .await;
    let body = vec![b' '; 4 << 20];
    for path in ["/feeds/news/items/a", "/feeds/news/items"] {
        let method = if path.ends_with("/a") { "PUT" } else { "POST" };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        // The server answers and closes while this is still being sent.
        let sent = s.write_all(&body).await;
        assert!(sent.is_ok(), "the body was cut off: {sent:?}");
        // Read only once the server has long finished with the request.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = raw::read_one(&mut s, Duration::from_secs(5))
            .await
            .expect("the answer, not a reset");
        assert_eq!((r.status, r.problem().as_str()), (413, "payload_too_large"));
    }
}

#[tokio::test]
async fn http_1_0_clients_without_host_are_served_and_closed() {
    let app = TestApp::builder().spawn().await;
    let limit = Duration::from_secs(5);
    let body = br#"{"title":"Old client"}"#;
    let put = format!(
        "PUT /feeds/news/items/old HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        std::str::from_utf8(body).unwrap()
    );
    // No `Connection: close`: HTTP/1.0 closes after the response by default,
    // so `raw::answer` (which reads to EOF) would time out if it did not.
    let r = raw::answer(app.addr, put.as_bytes(), limit).await;
    assert_eq!((r.status, r.json()["action"].as_str()), (201, Some("add")));
    let r = raw::answer(
        app.addr,
        b"GET /feeds/news/items/old HTTP/1.0\r\n\r\n",
        limit,
    )
    .await;
    assert_eq!(
        r.json(),
        serde_json::json!({"id": "old", "title": "Old client"})
    );
    // A feed read: links fall back to the configured listen address.
    let epoch = stored(&app).await["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let raw = format!("GET /feeds/news.atom?etag={epoch}.0 HTTP/1.0\r\n\r\n");
    let r = raw::answer(app.addr, raw.as_bytes(), limit).await;
    assert_eq!(r.status, 200);
    let feed = r.feed();
    assert_eq!((feed.atom, feed.ids()), (true, vec![("old", "add")]));
    assert!(
        r.text()
            .contains("href=\"http://127.0.0.1:8080/feeds/news.atom"),
        "{}",
        r.text()
    );
    assert_eq!(app.head("news").await, 1);
}

/// A keep-alive connection that has been served once (so it holds a slot).
async fn served_connection(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let r = raw::read_one(&mut s, Duration::from_secs(5))
        .await
        .expect("served");
    assert_eq!(r.status, 200);
    s
}

#[tokio::test]
async fn connections_beyond_the_cap_take_the_slot_of_an_idle_one() {
    let app = TestApp::builder().toml("max_connections = 2").spawn().await;
    let before = stored(&app).await;
    let mut a = served_connection(app.addr).await;
    let b = served_connection(app.addr).await;
    // A third connection is served at once: the idle connection unused
    // longest (a) is closed for it (`hardening` has the whole story).
    let mut c = TcpStream::connect(app.addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let r = raw::read_one(&mut c, Duration::from_secs(2))
        .await
        .expect("served at once");
    assert_eq!(r.status, 200);
    let mut buf = [0u8; 16];
    let n = timeout(Duration::from_secs(2), a.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "a was not closed: {n:?}"
    );
    drop((b, c));
    assert_eq!(stored(&app).await, before);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_header_timeout() {
    let app = TestApp::builder()
        .toml("header_read_timeout = \"1s\"")
        .spawn()
        .await;
    let started = Instant::now();
    let mut idle = served_connection(app.addr).await;
    let mut buf = [0u8; 16];
    let n = timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "the idle connection was not closed: {n:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_millis(500) && waited < Duration::from_secs(3),
        "closed after {waited:?} with a 1 s header timeout"
    );
}
