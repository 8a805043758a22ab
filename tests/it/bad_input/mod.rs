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
