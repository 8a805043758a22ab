//! The access log: one `info` line per answered request under the target
//! [`crate::telemetry::ACCESS`]: method, path (with `access_token` values
//! redacted, `redact`), status, response bytes when the body's length is
//! known (not for event streams), duration and peer.
//!
//! Off with `access_log = false` / `--no-access-log`, or by the filter
//! (`RUST_LOG=info,feedgate::access=off`). Either way [`start`] is one
//! branch on the hot path: nothing is formatted or allocated unless the line
//! will be written. A request whose client went away before its answer
//! (a long-poll abandoned) has no line.

use super::{redacted_target, Res};
use crate::app::App;
use hyper::body::Body as _;
use hyper::{Method, Request};
use std::net::SocketAddr;
use std::time::Instant;

/// What the line needs from the request, taken only when it is written.
pub struct Started {
    method: Method,
    target: String,
    peer: Option<SocketAddr>,
    at: Instant,
}

/// The request's half of its line, if the line is to be written.
pub fn start<B>(app: &App, req: &Request<B>, peer: Option<SocketAddr>) -> Option<Started> {
    let on = app.config().access_log
        && tracing::enabled!(target: crate::telemetry::ACCESS, tracing::Level::INFO);
    on.then(|| Started {
        method: req.method().clone(),
        target: redacted_target(req.uri()).into_owned(),
        peer,
        at: Instant::now(),
    })
}

/// Write the line of the request `started` describes, answered `res`.
pub fn finish(started: Option<Started>, res: &Res) {
    let Some(Started {
        method,
        target,
        peer,
        at,
    }) = started
    else {
        return;
    };
    let status = res.status().as_u16();
    let duration_us = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
    let peer = peer.map(tracing::field::display);
    match res.body().size_hint().exact() {
        Some(bytes) => tracing::info!(
            target: crate::telemetry::ACCESS,
            %method, path = %target, status, bytes, duration_us, peer,
            "request"
        ),
        None => tracing::info!(
            target: crate::telemetry::ACCESS,
            %method, path = %target, status, duration_us, peer,
            "request"
        ),
    }
}
