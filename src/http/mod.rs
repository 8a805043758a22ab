//! The HTTP edge: routing, method checks, path and body decoding, and the
//! mapping of [`ApiError`] to problem+json. Handlers live in `read` (feeds),
//! `write` (push API) and `ops` (health, readiness, feed list); the
//! decisions they make are in `cursor`, `protocol`, `ingest` and `store`.

mod cache;
mod ops;
mod read;
mod write;

pub use cache::ReadCache;
pub use read::Query as FeedQuery;

use crate::app::App;
use crate::error::ApiError;
use crate::render::Format;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use std::borrow::Cow;

pub type Res = Response<Full<Bytes>>;

/// Answer one request. Never fails: errors become problem documents.
pub async fn handle(app: &App, req: Request<Incoming>) -> Res {
    // What the debug log line needs, taken only when it is written.
    let debug = tracing::enabled!(tracing::Level::DEBUG).then(|| {
        let target = redacted_target(req.uri()).into_owned();
        (req.method().clone(), target, std::time::Instant::now())
    });
    // The route borrows the path from a clone of the URI (reference-counted,
    // no copy), so the request itself can move into its handler.
    let uri = req.uri().clone();
    let route = parse_route(uri.path());
    let label = route.as_ref().map_or("unknown", |r| r.label());
    let res = match route {
        Ok(route) => route_to(app, req, route).await,
        Err(e) => Err(e),
    };
    let res = res.unwrap_or_else(ApiError::into_response);
    app.metrics.request(label, res.status().as_u16());
    if let Some((method, target, started)) = debug {
        tracing::debug!(%method, %target, status = res.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
    }
    res
}

/// The resources, by path shape.
enum Route<'a> {
    Healthz,
    Readyz,
    Metrics,
    Feeds,
    Feed(&'a str, Option<Format>),
    Items(&'a str),
    Item(&'a str, Cow<'a, str>),
    Consumers(&'a str),
}

impl Route<'_> {
    fn allow(&self) -> &'static str {
        match self {
            Route::Healthz
            | Route::Readyz
            | Route::Metrics
            | Route::Feeds
            | Route::Feed(..)
            | Route::Consumers(_) => "GET, HEAD, OPTIONS",
            Route::Items(_) => "POST, OPTIONS",
            Route::Item(..) => "GET, HEAD, PUT, DELETE, OPTIONS",
        }
    }

    /// The `route` label of `feedgate_http_requests_total`.
    fn label(&self) -> &'static str {
        match self {
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::Metrics => "metrics",
            Route::Feeds => "feeds",
            Route::Feed(..) => "feed",
            Route::Items(_) => "items",
            Route::Item(..) => "item",
            Route::Consumers(_) => "consumers",
        }
    }
}

fn parse_route(path: &str) -> Result<Route<'_>, ApiError> {
    let mut segs = path.strip_prefix('/').unwrap_or(path).split('/');
    let route = match (
        segs.next(),
        segs.next(),
        segs.next(),
        segs.next(),
        segs.next(),
    ) {
        (Some("healthz"), None, ..) => Route::Healthz,
        (Some("readyz"), None, ..) => Route::Readyz,
        (Some("metrics"), None, ..) => Route::Metrics,
        (Some("feeds"), None, ..) => Route::Feeds,
        (Some("feeds"), Some(feed), None, ..) if !feed.is_empty() => {
            let (name, format) = match feed.rsplit_once('.') {
                Some((name, "atom")) => (name, Some(Format::Atom)),
                Some((name, "rss")) => (name, Some(Format::Rss)),
                _ => (feed, None),
            };
            Route::Feed(name, format)
        }
        (Some("feeds"), Some(feed), Some("items"), None, ..) => Route::Items(feed),
        (Some("feeds"), Some(feed), Some("consumers"), None, ..) => Route::Consumers(feed),
        (Some("feeds"), Some(feed), Some("items"), Some(id), None) => {
            Route::Item(feed, decode(id)?)
        }
        _ => return Err(ApiError::NotFound),
    };
    Ok(route)
}

/// Percent-decode one path segment (so `%2F` stays inside it).
fn decode(seg: &str) -> Result<Cow<'_, str>, ApiError> {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8()
        .map_err(|_| {
            ApiError::InvalidParameter("the path is not valid UTF-8 once percent-decoded".into())
        })
}

async fn route_to(app: &App, req: Request<Incoming>, route: Route<'_>) -> Result<Res, ApiError> {
    let method = req.method();
    if method == Method::OPTIONS {
        let mut res = empty(StatusCode::NO_CONTENT);
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(route.allow()));
        return Ok(res);
    }
    let not_allowed = || ApiError::MethodNotAllowed {
        method: method.to_string(),
        allow: route.allow(),
    };
    let read = method == Method::GET || method == Method::HEAD;
    let who = authorize(app, &req, &route)?;
    match &route {
        Route::Healthz if read => Ok(ops::healthz()),
        Route::Readyz if read => Ok(ops::readyz(app)),
        Route::Metrics if read => Ok(ops::metrics(app)),
        Route::Feeds if read => Ok(ops::list_feeds(app, who)),
        Route::Feed(name, format) if read => {
            read::feed_response(app, &req, name, *format, who).await
        }
        Route::Consumers(feed) if read => ops::consumers(app, feed),
        Route::Items(feed) if method == Method::POST => write::batch(app, req, feed).await,
        Route::Item(feed, id) => match *method {
            Method::GET | Method::HEAD => write::get_item(app, feed, id).await,
            Method::PUT => write::put_item(app, req, feed, id).await,
            Method::DELETE => write::delete_item(app, feed, id).await,
            _ => Err(not_allowed()),
        },
        _ => Err(not_allowed()),
    }
}

/// Authenticate the request and check its role for the route (PROTOCOL §7:
/// 401 without or with wrong credentials, 403 with a role too small).
/// Health probes are open; reading needs `read`, writing `write`, the
/// consumer report `admin`, and `/metrics` (every feed's figures and
/// consumer names) `admin` on every feed.
fn authorize<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    route: &Route<'_>,
) -> Result<Option<&'a crate::auth::Credential>, ApiError> {
    use crate::auth::Role;
    let (feed, need) = match route {
        Route::Healthz | Route::Readyz => return Ok(None),
        Route::Metrics => (None, Role::Admin),
        Route::Consumers(feed) => (Some(*feed), Role::Admin),
        Route::Feeds => (None, Role::Read),
        Route::Feed(feed, _) => (Some(*feed), Role::Read),
        Route::Items(feed) => (Some(*feed), Role::Write),
        Route::Item(feed, _) if req.method() == Method::GET || req.method() == Method::HEAD => {
            (Some(*feed), Role::Read)
        }
        Route::Item(feed, _) => (Some(*feed), Role::Write),
    };
    if !app.auth.enabled() {
        return Ok(None);
    }
    let header = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let token = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v)
    });
    let who = app.auth.authenticate(header, token.as_deref())?;
    app.auth.authorize(who, feed, need)?;
    if matches!(route, Route::Metrics) {
        for feed in app.feeds.keys() {
            app.auth.authorize(who, Some(feed), Role::Admin)?;
        }
    }
    Ok(who)
}

/// The request target for logs, with any `access_token` value redacted.
pub fn redacted_target(uri: &hyper::Uri) -> Cow<'_, str> {
    let Some(query) = uri.query().filter(|q| q.contains("access_token")) else {
        return Cow::Borrowed(uri.path_and_query().map_or("/", |p| p.as_str()));
    };
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some(("access_token", _)) => "access_token=REDACTED".to_string(),
            _ => kv.to_string(),
        })
        .collect();
    Cow::Owned(format!("{}?{}", uri.path(), query.join("&")))
}

/// A response with no body.
fn empty(status: StatusCode) -> Res {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = status;
    res
}

/// A JSON response.
fn json(status: StatusCode, value: &serde_json::Value) -> Res {
    let mut res = Response::new(Full::new(Bytes::from(value.to_string())));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// Read a JSON request body of at most `max` bytes.
async fn json_body(req: Request<Incoming>, max: usize) -> Result<Bytes, ApiError> {
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
        return Err(ApiError::UnsupportedMediaType(ct));
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(ApiError::PayloadTooLarge(max));
    }
    match Limited::new(req.into_body(), max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::PayloadTooLarge(max)),
        Err(e) => Err(ApiError::InvalidParameter(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

/// The feed's log and presentation, or 404.
fn feed<'a>(
    app: &'a App,
    name: &str,
) -> Result<
    (
        &'a std::sync::Arc<crate::store::FeedLog>,
        &'a crate::app::FeedInfo,
    ),
    ApiError,
> {
    match (app.store.feed(name), app.feeds.get(name)) {
        (Some(log), Some(info)) => Ok((log, info)),
        _ => Err(ApiError::FeedNotFound(name.to_string())),
    }
}

/// `"EPOCH.SEQ"`, the header form of a position.
fn etag_header(epoch: &str, seq: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{epoch}.{seq}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

/// An IMF-fixdate for a stamp in ms.
fn http_date(ms: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(
            parse_route("/feeds/news"),
            Ok(Route::Feed("news", None))
        ));
        assert!(matches!(
            parse_route("/feeds/news.atom"),
            Ok(Route::Feed("news", Some(Format::Atom)))
        ));
        assert!(matches!(
            parse_route("/feeds/news.rss"),
            Ok(Route::Feed("news", Some(Format::Rss)))
        ));
        assert!(matches!(
            parse_route("/feeds/news/items"),
            Ok(Route::Items("news"))
        ));
        assert!(matches!(parse_route("/metrics"), Ok(Route::Metrics)));
        assert!(matches!(
            parse_route("/feeds/news/consumers"),
            Ok(Route::Consumers("news"))
        ));
        match parse_route("/feeds/news/items/a%2Fb%20c") {
            Ok(Route::Item("news", id)) => assert_eq!(id, "a/b c"),
            _ => panic!("item route"),
        }
        assert!(matches!(
            parse_route("/feeds/news/items/%FF"),
            Err(ApiError::InvalidParameter(_))
        ));
        for none in [
            "/",
            "/feeds/",
            "/feeds/news/",
            "/feeds/news/items/a/b",
            "/feeds/news/consumers/x",
            "/metrics/x",
            "/other",
        ] {
            assert!(
                matches!(parse_route(none), Err(ApiError::NotFound)),
                "{none}"
            );
        }
    }
}
