//! A connection that finds all `max_connections` slots taken.
//!
//! First the connection idle for longest is asked to close
//! ([`Conns::evict_oldest_idle`]) and the newcomer takes its slot. When no
//! connection is idle (every slot has a request in progress), the newcomer
//! is served *over the cap*, from a small reserve of connections: one
//! request, a short head timeout, then closed. `/healthz` and `/readyz` are
//! answered as usual, so a full gateway stays observable; every other
//! request gets `503 overloaded` (problem+json, `Retry-After: 1`). When the
//! reserve is taken too, the connection is closed unanswered. Both are
//! counted (`feedgate_connections_rejected_total{reason}`) and logged, at
//! most once a second with the count since the last line.

use super::conns::Conns;
use super::Connection;
use crate::app::App;
use crate::error::ApiError;
use crate::http::{self, Reply};
use crate::metrics::Rejection;
use hyper::service::service_fn;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a newcomer waits for the slot of the connection it evicted
/// (an idle connection closes at once: this is a safety margin).
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// Head timeout of a connection served over the cap.
const OVER_CAP_HEAD_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections that may be served over the cap at once: an eighth of
/// `max_connections`, at least 16 and at most 256.
pub fn reserve(max_connections: usize) -> usize {
    (max_connections / 8).clamp(16, 256)
}

/// Serve `conn`, which found every slot taken; `extra` is its place in
/// the reserve.
pub(super) async fn over_cap(
    conn: Connection,
    conns: Arc<Conns>,
    slots: Arc<Semaphore>,
    extra: OwnedSemaphorePermit,
) {
    if conns.evict_oldest_idle() {
        conn.app.metrics().limits.evicted();
        let slot = tokio::time::timeout(EVICTION_WAIT, slots.clone().acquire_owned()).await;
        if let Ok(Ok(slot)) = slot {
            drop(extra);
            return conn.serve(conns.register(true), slots, slot).await;
        }
    }
    let app = conn.app.clone();
    let mut conn = conn;
    conn.builder
        .keep_alive(false)
        .header_read_timeout(OVER_CAP_HEAD_TIMEOUT.min(app.config().header_read_timeout));
    let registered = conns.register(false);
    let peer = conn.stream.peer_addr().ok();
    let service = service_fn(move |req| answer_over_cap(&app, req, peer));
    conn.run(&registered, service).await;
    drop(extra);
}

/// The probes as usual; anything else `503 overloaded`.
fn answer_over_cap(
    app: &Arc<App>,
    req: hyper::Request<hyper::body::Incoming>,
    peer: Option<SocketAddr>,
) -> Reply {
    if matches!(req.uri().path(), "/healthz" | "/readyz") {
        return http::serve(app, req, peer);
    }
    shed(app, Rejection::Overloaded);
    let route = http::route_label(req.uri().path());
    let res = ApiError::Overloaded.into_response();
    app.metrics().request(route, res.status().as_u16());
    Reply::Now(Some(res))
}

/// Not even the reserve is free: the connection is closed unanswered.
pub(super) fn drop_unanswered(app: &App, peer: SocketAddr) {
    tracing::debug!(%peer, "connection closed unanswered: every slot and the reserve are taken");
    shed(app, Rejection::Dropped);
}

/// Count a rejection and log, at most once a second, how many there were.
fn shed(app: &App, why: Rejection) {
    app.metrics().limits.rejected(why);
    static SINCE_LOG: AtomicU64 = AtomicU64::new(0);
    static LOGGED_AT: AtomicU64 = AtomicU64::new(0);
    let count = SINCE_LOG.fetch_add(1, Ordering::Relaxed) + 1;
    // Seconds since the Unix epoch: logged again once this moves on.
    let now = app.clock().now_ms() / 1000;
    let last = LOGGED_AT.load(Ordering::Relaxed);
    if now > last
        && LOGGED_AT
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let count = SINCE_LOG.swap(0, Ordering::Relaxed).max(count);
        tracing::warn!(
            max_connections = app.config().max_connections,
            rejected = count,
            last = why.as_str(),
            "connection limit reached: requests shed (503 overloaded, or closed when the reserve is full too)"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reserve_is_an_eighth_within_bounds() {
        assert_eq!(super::reserve(4), 16);
        assert_eq!(super::reserve(1024), 128);
        assert_eq!(super::reserve(100_000), 256);
    }
}
