//! The errors a client can see, each with its HTTP status and stable `code`,
//! rendered once, at the edge, as RFC 9457 `application/problem+json`.

use crate::http::Body;
use crate::store::StoreError;
use bytes::Bytes;
use hyper::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use std::time::Duration;

/// The challenges of a 401: a bearer token (RFC 6750) or HTTP Basic (RFC 7617),
/// in one line: browsers read a line's first challenge only, so an
/// `EventSource` with a wrong `access_token` fails instead of waiting on a
/// login prompt (the status page, meant for people, offers Basic on a line
/// of its own: `http::status::login`).
const CHALLENGE: &str = "Bearer realm=\"feedgate\", Basic realm=\"feedgate\", charset=\"UTF-8\"";
use hyper::{Response, StatusCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("there is no feed named {0:?}")]
    FeedNotFound(String),
    #[error("there is no item {0:?} in this feed")]
    ItemNotFound(String),
    #[error("{0}")]
    InvalidItem(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// More than the push API's memory budget could ever admit.
    #[error(
        "applying this write would take about {cost_kib} KiB, more than \
         ingest_memory_bytes ({budget_kib} KiB) allows: send smaller batches"
    )]
    OverBudget { cost_kib: usize, budget_kib: usize },
    #[error("expected a {expected} body, got Content-Type {got:?}")]
    UnsupportedMediaType { expected: &'static str, got: String },
    #[error("{method} is not allowed here; allowed: {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("there is nothing at this path")]
    NotFound,
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("feed {0:?} is derived from an upstream origin and cannot be written")]
    ReadOnlyFeed(String),
    #[error("the store is unavailable: {0}")]
    StoreUnavailable(String),
    /// A request HTTP/1.1 rejects as such (RFC 9112), e.g. without `Host`.
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body did not arrive within {0:?}")]
    RequestTimeout(Duration),
    /// A WebSub callback outside `[websub] allow` (never contacted).
    #[error("callback {0:?} is not at an origin [websub] allow names")]
    CallbackNotAllowed(String),
    /// The WebSub hub is off, or full.
    #[error("{0}")]
    HubUnavailable(String),
    /// Every connection slot is taken (`max_connections`).
    #[error("the gateway is at its connection limit; retry shortly")]
    Overloaded,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            FeedNotFound(_) | ItemNotFound(_) | NotFound => StatusCode::NOT_FOUND,
            Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Forbidden(_) => StatusCode::FORBIDDEN,
            InvalidItem(_) | InvalidParameter(_) | BadRequest(_) => StatusCode::BAD_REQUEST,
            RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            PayloadTooLarge(_) | OverBudget { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ReadOnlyFeed(_) => StatusCode::CONFLICT,
            CallbackNotAllowed(_) => StatusCode::FORBIDDEN,
            HubUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            FeedNotFound(_) => "feed_not_found",
            ItemNotFound(_) => "item_not_found",
            InvalidItem(_) => "invalid_item",
            InvalidParameter(_) => "invalid_parameter",
            PayloadTooLarge(_) | OverBudget { .. } => "payload_too_large",
            UnsupportedMediaType { .. } => "unsupported_media_type",
            MethodNotAllowed { .. } => "method_not_allowed",
            NotFound => "not_found",
            Unauthorized(_) => "unauthorized",
            Forbidden(_) => "forbidden",
            ReadOnlyFeed(_) => "read_only_feed",
            CallbackNotAllowed(_) => "callback_not_allowed",
            HubUnavailable(_) => "hub_unavailable",
            StoreUnavailable(_) => "store_unavailable",
            BadRequest(_) => "bad_request",
            RequestTimeout(_) => "request_timeout",
            Overloaded => "overloaded",
        }
    }

    pub fn into_response(self) -> crate::http::Res {
        let status = self.status();
        let body = problem_json(status, self.code(), &self.to_string());
        let mut res = Response::new(Body::full(Bytes::from(body)));
        *res.status_mut() = status;
        let h = res.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        // An error is about this request, now: no cache keeps it (PROTOCOL §3 Caches).
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            ApiError::MethodNotAllowed { allow, .. } => {
                h.insert(ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::StoreUnavailable(_) => {
                h.insert(RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ApiError::Overloaded => {
                h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
                h.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            // The connection's state is unknown (a second Host, a body
            // half sent): it is not reused.
            ApiError::BadRequest(_) | ApiError::RequestTimeout(_) => {
                h.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            ApiError::Unauthorized(_) => {
                h.insert(WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
            }
            _ => {}
        }
        // Overload is logged by the accept loop, at most once a second.
        if status.is_server_error() && !matches!(self, ApiError::Overloaded) {
            tracing::error!(code = self.code(), error = %self, "request failed");
        }
        res
    }
}

/// The RFC 9457 document of a problem with a stable `code`.
pub fn problem_json(status: StatusCode, code: &str, detail: &str) -> String {
    serde_json::json!({
        "type": format!("urn:feedgate:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    })
    .to_string()
}

/// An error with its causes on one line, each cause added only where the
/// message does not hold it already (most messages here quote their
/// source).
pub fn one_line(e: &dyn std::error::Error) -> String {
    join_causes(messages(e))
}

/// The messages of `e` and of each of its causes, outermost first.
fn messages(e: &dyn std::error::Error) -> Vec<String> {
    std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect()
}

/// What the HTTP stack's layers (reqwest, hyper-util, the connector) say
/// around a failure without adding to it: left out of a one-line message.
const HTTP_WRAPPERS: [&str; 6] = [
    "error sending request for url",
    "error sending request",
    "client error (Connect)",
    "client error (SendRequest)",
    "tcp connect error",
    "error trying to connect",
];

/// Whether `message` is one of the HTTP stack's wrappers ([`HTTP_WRAPPERS`]).
fn is_http_wrapper(message: &str) -> bool {
    HTTP_WRAPPERS.contains(&message)
}

/// [`one_line`] of an HTTP client's error without the layers that only
/// wrap its cause (unless they are all there is).
pub fn one_line_http(e: &dyn std::error::Error) -> String {
    without_wrappers(messages(e))
}

/// `parts` joined as [`join_causes`] does, the HTTP wrappers left out.
pub fn without_wrappers(parts: Vec<String>) -> String {
    let kept: Vec<String> = parts
        .iter()
        .filter(|p| !is_http_wrapper(p))
        .cloned()
        .collect();
    join_causes(if kept.is_empty() { parts } else { kept })
}

/// Messages joined by `: `, each added only where the line does not hold
/// it already ([`one_line`] over texts already chosen).
pub fn join_causes(parts: impl IntoIterator<Item = String>) -> String {
    let mut out = String::new();
    for s in parts {
        if s.is_empty() || out.contains(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
    }
    out
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ItemNotFound(id) => ApiError::ItemNotFound(id),
            other => ApiError::StoreUnavailable(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn problem_documents() {
        let e = ApiError::MethodNotAllowed {
            method: "PATCH".into(),
            allow: "GET, HEAD",
        };
        let res = e.into_response();
        assert_eq!(res.status(), 405);
        assert_eq!(res.headers()[ALLOW], "GET, HEAD");
        assert_eq!(res.headers()[CONTENT_TYPE], "application/problem+json");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "method_not_allowed");
        assert_eq!(v["status"], 405);
        assert_eq!(v["title"], "Method Not Allowed");
        assert_eq!(v["type"], "urn:feedgate:problem:method_not_allowed");
        assert!(v["detail"].as_str().unwrap().contains("PATCH"));
        let res = ApiError::StoreUnavailable("disk".into()).into_response();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()[RETRY_AFTER], "5");
    }
}
