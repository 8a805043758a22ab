//! Routing: the resource a request path names ([`Route`], by path shape,
//! without allocating: segments are borrowed from the path; only an item id
//! with percent-escapes is decoded into a new string), and the one table
//! ([`Route::target`]) that says, per route and method, what answers it
//! ([`Handler`]: at once or by a future), who may ask ([`Access`]), the
//! methods the route takes (`Allow`) and its metrics label.

use crate::auth::Role;
use crate::error::ApiError;
use crate::render::Format;
use hyper::Method;
use std::borrow::Cow;

/// The resources, by path shape.
pub enum Route<'a> {
    /// The operator's status page (`GET /`).
    Status,
    /// The API's OpenAPI description (`GET /openapi.json`).
    OpenApi,
    Healthz,
    Readyz,
    Metrics,
    Feeds,
    Feed(&'a str, Option<Format>),
    Items(&'a str),
    Item(&'a str, Cow<'a, str>),
    Consumers(&'a str),
    /// The WebSub hub (`POST /websub`).
    Hub,
    /// A mirrored file (`GET /content/{sha256}`).
    Content(&'a str),
}

/// What the dispatcher needs to know of a request besides its handler.
pub struct Target<'a> {
    /// The `route` label of `feedgate_http_requests_total`.
    pub label: &'static str,
    /// The methods the route takes (`Allow` of a 405 and of `OPTIONS`).
    pub allow: &'static str,
    /// Who may send it (checked before the handler runs, a 405 included).
    pub access: Access<'a>,
}

/// Who may send a request (PROTOCOL §7: 401 without or with wrong
/// credentials, 403 with a role too small).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// Anyone: the health probes and `OPTIONS`.
    Open,
    /// A credential with `Role` on the feed (`None`: on the gateway).
    Needs(Option<&'a str>, Role),
    /// `admin` on every feed: `/metrics` shows every feed's figures and
    /// consumer names.
    AdminOfAll,
}

/// What answers a request.
pub enum Handler<'a> {
    /// Answered at once: `serve` drops the request before it returns.
    Now(Now),
    /// Answered by a future that owns the request: a store read, a body to
    /// read, a durable write.
    Later(Later<'a>),
}

/// The handlers that answer at once.
pub enum Now {
    /// `OPTIONS`: `204` with `Allow`.
    Options,
    /// A method the route does not take: `405` with `Allow`.
    NotAllowed,
    Healthz,
    Feeds,
    OpenApi,
}

/// The handlers that may wait: everything that reads or writes the store
/// (whose calls are `async`, for backends that wait on a network).
pub enum Later<'a> {
    /// The status page: consumer reports and WebSub subscribers are read.
    Status,
    Readyz,
    Metrics,
    Consumers(&'a str),
    /// A feed read, `GET` or `HEAD`; an upstream feed whose last sync is
    /// older than its `refresh` syncs first.
    Feed(&'a str, Option<Format>),
    Batch(&'a str),
    GetItem(&'a str, Cow<'a, str>),
    PutItem(&'a str, Cow<'a, str>),
    DeleteItem(&'a str, Cow<'a, str>),
    /// A WebSub (un)subscription: its feed's `read` is checked once the
    /// body names it (`hub`).
    Hub,
    /// A mirrored file: `read` on a feed that references it is checked once
    /// the file is found (`content`).
    Content(&'a str),
}

const READ_ONLY: &str = "GET, HEAD, OPTIONS";
const BATCH: &str = "POST, OPTIONS";
const ITEM: &str = "GET, HEAD, PUT, DELETE, OPTIONS";
const HUB: &str = "POST, OPTIONS";

impl<'a> Route<'a> {
    /// The `route` label of `feedgate_http_requests_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Status => "status",
            Route::OpenApi => "openapi",
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::Metrics => "metrics",
            Route::Feeds => "feeds",
            Route::Feed(..) => "feed",
            Route::Items(_) => "items",
            Route::Item(..) => "item",
            Route::Consumers(_) => "consumers",
            Route::Hub => "hub",
            Route::Content(_) => "content",
        }
    }

    /// The route's path template in the OpenAPI description
    /// (`docs/openapi.json`, whose `paths` are exactly these: `openapi_tests`).
    /// A feed's `.rss` / `.atom` suffix forms are the one template
    /// `/feeds/{feed}`, whose parameter may carry the suffix.
    #[cfg(test)]
    pub fn template(&self) -> &'static str {
        match self {
            Route::Status => "/",
            Route::OpenApi => "/openapi.json",
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::Metrics => "/metrics",
            Route::Feeds => "/feeds",
            Route::Feed(..) => "/feeds/{feed}",
            Route::Items(_) => "/feeds/{feed}/items",
            Route::Item(..) => "/feeds/{feed}/items/{id}",
            Route::Consumers(_) => "/feeds/{feed}/consumers",
            Route::Hub => "/websub",
            Route::Content(_) => "/content/{sha256}",
        }
    }

    /// The routing table: per route, the methods it takes (`Allow`); per
    /// method, its handler and who may send it. A method the route does not
    /// take needs the route's highest role before it gets its 405, and
    /// `OPTIONS` is open everywhere.
    pub fn target(self, method: &Method) -> (Target<'a>, Handler<'a>) {
        use Access::{AdminOfAll, Needs, Open};
        use Handler::{Later as L, Now as N};
        let read = method == Method::GET || method == Method::HEAD;
        let label = self.label();
        let (allow, access, handler) = match self {
            Route::Status => (READ_ONLY, AdminOfAll, read.then_some(L(Later::Status))),
            Route::OpenApi => (READ_ONLY, Open, read.then_some(N(Now::OpenApi))),
            Route::Healthz => (READ_ONLY, Open, read.then_some(N(Now::Healthz))),
            Route::Readyz => (READ_ONLY, Open, read.then_some(L(Later::Readyz))),
            Route::Metrics => (READ_ONLY, AdminOfAll, read.then_some(L(Later::Metrics))),
            Route::Feeds => (
                READ_ONLY,
                Needs(None, Role::Read),
                read.then_some(N(Now::Feeds)),
            ),
            Route::Feed(feed, format) => (
                READ_ONLY,
                Needs(Some(feed), Role::Read),
                read.then_some(L(Later::Feed(feed, format))),
            ),
            Route::Consumers(feed) => (
                READ_ONLY,
                Needs(Some(feed), Role::Admin),
                read.then_some(L(Later::Consumers(feed))),
            ),
            Route::Hub => (HUB, Open, (method == Method::POST).then_some(L(Later::Hub))),
            Route::Content(sha) => (READ_ONLY, Open, read.then_some(L(Later::Content(sha)))),
            Route::Items(feed) => (
                BATCH,
                Needs(Some(feed), Role::Write),
                (method == Method::POST).then_some(L(Later::Batch(feed))),
            ),
            Route::Item(feed, id) => {
                let (role, handler) = match *method {
                    Method::GET | Method::HEAD => (Role::Read, Some(Later::GetItem(feed, id))),
                    Method::PUT => (Role::Write, Some(Later::PutItem(feed, id))),
                    Method::DELETE => (Role::Write, Some(Later::DeleteItem(feed, id))),
                    _ => (Role::Write, None),
                };
                (ITEM, Needs(Some(feed), role), handler.map(L))
            }
        };
        let (access, handler) = if method == Method::OPTIONS {
            (Open, N(Now::Options))
        } else {
            (access, handler.unwrap_or(N(Now::NotAllowed)))
        };
        let target = Target {
            label,
            allow,
            access,
        };
        (target, handler)
    }
}

pub fn parse_route(path: &str) -> Result<Route<'_>, ApiError> {
    // The poll, first: `/feeds/{feed}` (one memchr for a further `/`).
    if let Some(feed) = path.strip_prefix("/feeds/") {
        if !feed.is_empty() && !feed.contains('/') {
            return Ok(feed_route(feed));
        }
    }
    let mut segs = path.strip_prefix('/').unwrap_or(path).split('/');
    let route = match (
        segs.next(),
        segs.next(),
        segs.next(),
        segs.next(),
        segs.next(),
    ) {
        (Some(""), None, ..) => Route::Status,
        (Some("openapi.json"), None, ..) => Route::OpenApi,
        (Some("healthz"), None, ..) => Route::Healthz,
        (Some("readyz"), None, ..) => Route::Readyz,
        (Some("metrics"), None, ..) => Route::Metrics,
        (Some("websub"), None, ..) => Route::Hub,
        (Some("content"), Some(sha), None, ..) if !sha.is_empty() => Route::Content(sha),
        (Some("feeds"), None, ..) => Route::Feeds,
        (Some("feeds"), Some(feed), None, ..) if !feed.is_empty() => feed_route(feed),
        (Some("feeds"), Some(feed), Some("items"), None, ..) => Route::Items(feed),
        (Some("feeds"), Some(feed), Some("consumers"), None, ..) => Route::Consumers(feed),
        (Some("feeds"), Some(feed), Some("items"), Some(id), None) => {
            Route::Item(feed, decode(id)?)
        }
        _ => return Err(ApiError::NotFound),
    };
    Ok(route)
}

/// `Feed` from its segment: the name, and the format a `.atom` / `.rss` suffix names.
fn feed_route(seg: &str) -> Route<'_> {
    let (name, format) = match seg.rsplit_once('.') {
        Some((name, "atom")) => (name, Some(Format::Atom)),
        Some((name, "rss")) => (name, Some(Format::Rss)),
        _ => (seg, None),
    };
    Route::Feed(name, format)
}

/// Percent-decode one path segment (so `%2F` stays inside it).
fn decode(seg: &str) -> Result<Cow<'_, str>, ApiError> {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8()
        .map_err(|_| {
            ApiError::InvalidParameter("the path is not valid UTF-8 once percent-decoded".into())
        })
}

#[cfg(test)]
mod openapi_tests;
#[cfg(test)]
mod tests;
