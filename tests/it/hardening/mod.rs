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
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The value of one series in a `/metrics` scrape (0 if absent).
fn series(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}
