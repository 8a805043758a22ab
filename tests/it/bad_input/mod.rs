//! Hostile and odd clients ("bad input"): each case asserts the
//! status the client sees and that the stored data did not change. Cases
//! already covered in `write.rs` (bad JSON, `%FF` ids, 413 with and without a
//! Content-Length, 405/415) are not repeated here.
//!
//! - `connection.rs`: the HTTP layer: slow and oversized heads, huge declared
//!   bodies, HTTP/1.0, the connection cap.
//! - `content.rs`: what requests carry: invalid UTF-8, encoded `/` and `..`,
//!   a 10,000-item batch, deep JSON, OPTIONS, unknown query parameters.

mod connection;
mod content;

use crate::support::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// What the gateway stores, as `GET /feeds` shows it (heads, counts, epochs).
async fn stored(app: &TestApp) -> serde_json::Value {
    app.get("/feeds", &[]).await.json()
}

/// What a raw exchange ended in.
#[derive(Debug)]
enum Ending {
    /// A complete response (the connection was then closed by the server).
    Response(Resp),
    /// The server closed the connection without a response.
    Closed,
    /// Nothing within the time limit.
    Silent,
}

/// Send `raw`, then read until the server closes (at most `limit`).
async fn exchange(addr: SocketAddr, raw: &[u8], limit: Duration) -> Ending {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may close before it has read everything: ignore write errors.
    let _ = s.write_all(raw).await;
    read_until_close(&mut s, limit).await
}

async fn read_until_close(s: &mut TcpStream, limit: Duration) -> Ending {
    let mut buf = Vec::new();
    match timeout(limit, s.read_to_end(&mut buf)).await {
        Err(_) => Ending::Silent,
        // A reset after a response still leaves the response in `buf`.
        Ok(_) if buf.windows(4).any(|w| w == b"\r\n\r\n") => Ending::Response(Resp::parse(&buf)),
        Ok(_) => Ending::Closed,
    }
}

/// The whole log of `feed` as one ETag-selected page from position 0.
async fn from_start(app: &TestApp, feed: &str) -> Feed {
    let v = stored(app).await;
    let epoch = v["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == feed)
        .unwrap()["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let inm = format!("\"{epoch}.0\"");
    let r = app
        .get(
            &format!("/feeds/{feed}?limit=1000"),
            &[("If-None-Match", &inm)],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.feed()
}

fn response(e: Ending) -> Resp {
    match e {
        Ending::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}
