//! RFC 9112 §3.2 (`Host`: exactly one, valid, required of
//! HTTP/1.1) and hyper's own error answers, which come as problem
//! documents with a stable `code` like every other error.

use super::*;

const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn host_is_required_once_and_valid() {
    let app = TestApp::builder().spawn().await;
    for (raw, why) in [
        ("GET /healthz HTTP/1.1\r\n\r\n", "no Host"),
        ("GET /feeds/news HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Host lines"),
        ("GET /feeds/news HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "the same Host twice"),
        ("GET /feeds/news HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", "two Host lines in HTTP/1.0"),
        ("GET /feeds/news HTTP/1.1\r\nHost: user@evil\r\n\r\n", "user info"),
        ("GET /feeds/news HTTP/1.1\r\nHost: a b\r\n\r\n", "a space"),
        (
            "PUT /feeds/news/items/x HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            "a write without Host",
        ),
    ] {
        let r = raw::answer(app.addr, raw.as_bytes(), LIMIT).await;
        assert_eq!((r.status, r.problem().as_str()), (400, "bad_request"), "{why}");
        assert_eq!(r.header("connection"), Some("close"), "{why}");
    }
    assert_eq!(app.head("news").await, 0, "nothing was written");
    // One valid Host, an empty one, and HTTP/1.0 without one are served.
    for raw in [
        "GET /healthz HTTP/1.1\r\nHost: a:8080\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.0\r\n\r\n",
    ] {
        assert_eq!(
            raw::answer(app.addr, raw.as_bytes(), LIMIT).await.status,
            200,
            "{raw}"
        );
    }
}

#[tokio::test]
async fn hypers_own_errors_are_problem_documents() {
    let app = TestApp::builder().spawn().await;
    let big = format!(
        "GET /feeds/news HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "x".repeat(80 * 1024)
    );
    let mut many = String::from("GET /feeds/news HTTP/1.1\r\nHost: t\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    for (raw, status, code) in [
        (big, 431, "headers_too_large"),
        (many, 431, "headers_too_large"),
        (
            "GET /healthz HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n".to_string(),
            400,
            "bad_request",
        ),
        (
            "GET /a b c HTTP/1.1\r\nHost: t\r\n\r\n".to_string(),
            400,
            "bad_request",
        ),
        (
            "GET /healthz HTTP/9.9\r\nHost: t\r\n\r\n".to_string(),
            400,
            "bad_request",
        ),
    ] {
        let r = raw::answer(app.addr, raw.as_bytes(), LIMIT).await;
        assert_eq!((r.status, r.problem().as_str()), (status, code), "{r:?}");
        let v = r.json();
        assert_eq!(v["type"], format!("urn:feedgate:problem:{code}"));
        assert!(!v["detail"].as_str().unwrap().is_empty());
        assert_eq!(r.header("connection"), Some("close"));
    }
    // Keep-alive goes on as before for well-formed requests on the same socket.
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    for _ in 0..3 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(raw::read_one(&mut s, LIMIT).await.unwrap().status, 200);
    }
}
