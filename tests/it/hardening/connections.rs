//! A gateway at `max_connections` stays observable and sheds
//! load explicitly (idle keep-alive connections make room, oldest first;
//! with every slot busy, `503 overloaded` with `Retry-After`, while
//! `/healthz` and `/readyz` still answer; counted and logged), and a body
//! that never arrives does not hold a connection for ever.

use super::*;
use std::time::Instant;

const PROMPT: Duration = Duration::from_secs(3);

/// A keep-alive connection that has been served once (so it holds a slot).
async fn served(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let r = raw::read_one(&mut s, PROMPT)
        .await
        .expect("served promptly");
    assert_eq!(r.status, 200);
    s
}

/// A connection with a request in progress: a PUT whose body is incomplete.
async fn busy(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"PUT /feeds/news/items/slow HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ti")
        .await
        .unwrap();
    s
}

#[tokio::test]
async fn idle_connections_make_room_oldest_first() {
    let app = TestApp::builder().toml("max_connections = 2").spawn().await;
    let mut a = served(app.addr).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut b = served(app.addr).await;
    // A third client is served at once: the connection idle longest (a) is closed for it.
    let started = Instant::now();
    let mut c = served(app.addr).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        raw::closed(&mut a, PROMPT).await,
        "the oldest idle connection was kept"
    );
    // b and c are still served on their connections.
    for s in [&mut b, &mut c] {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(
            raw::read_one(s, PROMPT).await.expect("still open").status,
            200
        );
    }
    drop((b, c));
    let scrape = app.get("/metrics", &[]).await;
    assert!(series(scrape.text(), "feedgate_connections_evicted_total") >= 1.0);
}

#[test]
fn a_flood_past_the_cap_keeps_probes_answered_and_sheds_explicitly() {
    let (_dir, cfg) = binary::config_file("max_connections = 8\n[feeds.news]\n");
    let p = binary::serve(&cfg, &[]);
    let addr = p.addr;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // 1. Cap + 24 clients holding keep-alive: every one is served promptly
        //    (idle connections make room), and so is a probe after them.
        let mut held = Vec::new();
        for _ in 0..8 + 24 {
            held.push(served(addr).await);
        }
        let mut still_open = 0;
        for s in &mut held {
            if !raw::closed(s, Duration::from_millis(20)).await {
                still_open += 1;
            }
        }
        assert!(
            still_open <= 8,
            "{still_open} connections open with max_connections = 8"
        );
        let probe = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        assert_eq!(raw::answer(addr, probe, PROMPT).await.status, 200);

        // 2. Every slot busy: probes answered, everything else an explicit 503.
        let mut puts = Vec::new();
        for _ in 0..8 {
            puts.push(busy(addr).await);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        for i in 0..12 {
            let started = Instant::now();
            let raw = b"GET /feeds/news HTTP/1.1\r\nHost: t\r\n\r\n";
            let r = raw::answer(addr, raw, PROMPT).await;
            assert_eq!(
                (r.status, r.problem().as_str()),
                (503, "overloaded"),
                "request {i}"
            );
            assert_eq!(r.header("retry-after"), Some("1"));
            assert!(started.elapsed() < PROMPT);
            for path in ["/healthz", "/readyz"] {
                let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
                let r = raw::answer(addr, raw.as_bytes(), PROMPT).await;
                assert_eq!(r.status, 200, "{path} while full");
            }
        }
        // 3. The busy clients go; the gateway serves normally again and the
        //    rejections are counted.
        drop(puts);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let raw = b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        let scrape = raw::answer(addr, raw, PROMPT).await;
        assert_eq!(scrape.status, 200);
        let text = scrape.text();
        assert_eq!(
            series(
                text,
                "feedgate_connections_rejected_total{reason=\"overloaded\"}"
            ),
            12.0,
            "{text}"
        );
        assert!(
            series(text, "feedgate_connections_evicted_total") >= 24.0,
            "{text}"
        );
        assert!(
            series(
                text,
                "feedgate_http_requests_total{route=\"feed\",status=\"503\"}"
            ) >= 12.0,
            "{text}"
        );
    });
    let logs = p.logs();
    assert!(logs.contains("connection limit reached"), "{logs}");
    p.kill();
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out() {
    let app = TestApp::builder()
        .toml("body_read_timeout = \"1s\"")
        .spawn()
        .await;
    let put = "PUT /feeds/news/items/a HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n";
    for (what, raw) in [
        (
            "100 bytes announced, 5 sent",
            format!("{put}Content-Length: 100\r\n\r\n{{\"tit"),
        ),
        (
            "a huge chunk, barely begun",
            format!("{put}Transfer-Encoding: chunked\r\n\r\nFFFFFFF\r\nabc"),
        ),
        (
            "Expect: 100-continue, no body",
            format!("{put}Expect: 100-continue\r\nContent-Length: 10\r\n\r\n"),
        ),
    ] {
        let started = Instant::now();
        let buf = raw::exchange(app.addr, raw.as_bytes(), Duration::from_secs(6))
            .await
            .unwrap_or_else(|| panic!("{what}: the connection is still held"));
        let took = started.elapsed();
        // A 100 Continue may come first.
        let text = String::from_utf8_lossy(&buf);
        let last = text
            .rfind("HTTP/1.1 ")
            .unwrap_or_else(|| panic!("{what}: {text}"));
        let r = Resp::parse(&buf[last..]);
        assert_eq!(
            (r.status, r.problem().as_str()),
            (408, "request_timeout"),
            "{what}"
        );
        assert_eq!(r.header("connection"), Some("close"), "{what}");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(4),
            "{what}: {took:?}"
        );
    }
    assert_eq!(app.head("news").await, 0);
    let scrape = app.get("/metrics", &[]).await;
    assert_eq!(
        series(scrape.text(), "feedgate_body_read_timeouts_total"),
        3.0
    );
}
