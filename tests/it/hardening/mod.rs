//! Hardening: what a hostile origin, a flood of connections and an
//! oversized second could do. One module per front, each case a trick that
//! worked before and the answer it gets now.
//!
//! - `origin_tricks.rs`: an upstream origin that names another host in its
//!   `next` link or redirects there (the configured credentials stay home).
//! - `connections.rs`: a flood past `max_connections` (idle ones make room,
//!   the over-cap answer is an explicit 503, probes keep answering) and
//!   bodies that never arrive (`body_read_timeout`).
//! - `secrets.rs`: `access_token` spelled with escapes, `/readyz` without
//!   credentials, a 401 that would echo the secret.
//! - `protocol_edges.rs`: `Host` rules of RFC 9112 §3.2, and hyper's own
//!   400/431 answers as problem documents.
//! - `memory.rs`: peak memory (VmHWM) of the real binary under ingest.

mod connections;
mod memory;
mod origin_tricks;
mod protocol_edges;
mod secrets;

use crate::support::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Send `raw` on a new connection and read until the server closes (at most
/// `limit`); `None` if it neither answered nor closed in time.
async fn exchange(addr: SocketAddr, raw: &[u8], limit: Duration) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(raw).await;
    let mut buf = Vec::new();
    match timeout(limit, s.read_to_end(&mut buf)).await {
        Ok(_) => Some(buf),
        Err(_) => None,
    }
}

/// [`exchange`] that expects one complete response.
async fn answer(addr: SocketAddr, raw: &[u8], limit: Duration) -> Resp {
    let buf = exchange(addr, raw, limit).await.unwrap_or_else(|| {
        panic!(
            "no answer within {limit:?} to {}",
            String::from_utf8_lossy(raw)
        )
    });
    assert!(
        buf.windows(4).any(|w| w == b"\r\n\r\n"),
        "closed without a response: {:?}",
        String::from_utf8_lossy(&buf)
    );
    Resp::parse(&buf)
}

/// Whether the server has closed `s` (EOF or reset) within `limit`.
async fn closed(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        timeout(limit, s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// The value of one series in a `/metrics` scrape (0 if absent).
fn series(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}
