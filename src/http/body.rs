//! Reading a push request's JSON body: its media type, `max_body_bytes`
//! (a declared length over it is refused before a byte is read),
//! `body_read_timeout`, and the body's share of the ingest budget
//! (`ingest::budget`).

use super::App;
use crate::error::ApiError;
use crate::ingest::budget::{self, Share};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::Request;

/// Read a JSON request body of at most `max_body_bytes`, which must arrive
/// within `body_read_timeout` (a client that announces more than it sends,
/// or `Expect: 100-continue` and nothing, would hold its connection for
/// ever otherwise): `408 request_timeout`, and the connection is closed.
///
/// A declared length whose write could never fit the ingest budget is
/// refused at once (`413`). Otherwise the body's share of the budget
/// (receiving) is taken before it is read, and comes back with it; the body
/// is read into one buffer of the declared size (no copy at the end).
pub async fn json_body(app: &App, req: Request<Incoming>) -> Result<(Bytes, Share), ApiError> {
    let (max, limit) = (app.config().max_body_bytes, app.config().body_read_timeout);
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType {
            expected: "JSON (Content-Type: application/json)",
            got: ct,
        });
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let declared = match declared.map(usize::try_from) {
        Some(Ok(n)) if n <= max => Some(n),
        Some(_) => return Err(ApiError::PayloadTooLarge(max)),
        None => None,
    };
    if let Some(n) = declared {
        app.ingest()
            .admits(budget::cost(n, 0))
            .map_err(over_budget)?;
    }
    let waited = || app.metrics().limits.ingest_waited();
    let share = app.ingest().receive(declared.unwrap_or(max), waited).await;
    let read = read(req.into_body(), declared.unwrap_or(0), max);
    let Ok(body) = tokio::time::timeout(limit, read).await else {
        app.metrics().limits.body_timeout();
        return Err(ApiError::RequestTimeout(limit));
    };
    Ok((body?, share))
}

/// Read a form body (`application/x-www-form-urlencoded`, a WebSub
/// request) of at most `max` bytes, within `body_read_timeout`.
pub async fn form_body(app: &App, req: Request<Incoming>, max: usize) -> Result<Bytes, ApiError> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(ApiError::UnsupportedMediaType {
            expected: "form (Content-Type: application/x-www-form-urlencoded)",
            got: ct,
        });
    }
    let limit = app.config().body_read_timeout;
    let Ok(body) = tokio::time::timeout(limit, read(req.into_body(), 0, max)).await else {
        app.metrics().limits.body_timeout();
        return Err(ApiError::RequestTimeout(limit));
    };
    body
}

/// The body's frames into one buffer of `capacity`, at most `max` bytes.
async fn read(mut body: Incoming, capacity: usize, max: usize) -> Result<Bytes, ApiError> {
    let mut buf = Vec::with_capacity(capacity);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::InvalidParameter(format!("cannot read the request body: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err(ApiError::PayloadTooLarge(max));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

/// The 413 of a write the ingest budget could never admit.
pub fn over_budget(over: budget::OverBudget) -> ApiError {
    ApiError::OverBudget {
        cost_kib: over.cost.div_ceil(1024),
        budget_kib: over.budget / 1024,
    }
}
