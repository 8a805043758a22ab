//! The HTTP edge: dispatch, authorization, body decoding, and the mapping
//! of [`ApiError`] to problem+json. [`serve`] answers a request at once
//! unless it waits for something (the push API, an upstream sync), in which
//! case a future does. `route` names the resource a path addresses and
//! holds the one routing table (handler, access, `Allow`, metrics label per
//! route and method) both paths dispatch by;
//! handlers live in `read` (feeds), `item` (an item's conditional GET),
//! `write` (push API) and `ops` (health, readiness, feed list, metrics,
//! consumers). Operations answers and every error are `Cache-Control:
//! no-store` (PROTOCOL §3 Caches); the decisions the handlers make are in
//! `cursor`, `protocol`, `ingest` and `store`.

mod access;
mod body;
mod content;
mod outgoing;

mod host;
mod hub;
mod item;
mod ops;
mod read;
mod redact;
mod route;
mod sse;
mod status;
mod write;

pub use outgoing::Body;
pub use read::encoding::{gzip, CACHED_LEVEL, FRESH_LEVEL};
pub use read::Query as FeedQuery;
pub use redact::redacted_target;

// Submodules take the one IMF-fixdate formatter from here, by its HTTP name.
use crate::app::App;
use crate::clock::imf_date as http_date;
use crate::error::ApiError;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use route::{parse_route, Access, Handler, Later, Now, Target};
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub type Res = Response<Body>;

/// The answer to one request, as the connection's service returns it:
/// ready at once, or a future for a request that waits for something.
pub enum Reply {
    Now(Option<Res>),
    Later(Pin<Box<dyn Future<Output = Res> + Send>>),
}

impl Future for Reply {
    type Output = Result<Res, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            // Taken once: hyper does not poll a finished future again.
            Reply::Now(res) => Poll::Ready(Ok(res
                .take()
                .unwrap_or_else(|| no_store(empty(StatusCode::INTERNAL_SERVER_ERROR))))),
            Reply::Later(fut) => fut.as_mut().poll(cx).map(Ok),
        }
    }
}

/// Answer one request. Never fails: errors become problem documents.
///
/// A request whose handler waits ([`Handler::Later`]) is answered by a
/// future that owns it, except a feed read that needs no waiting (a kept
/// page, the 304 at the head: [`read::feed_response_now`]). Those, polls
/// above all, and every [`Handler::Now`] are answered here and now, and
/// dropped before this returns: hyper can then reuse its read buffer (the
/// request's URI and headers borrow it) instead of allocating a new one for
/// the next read.
pub fn serve(app: &Arc<App>, req: Request<Incoming>, peer: Option<SocketAddr>) -> Reply {
    if let Err(e) = host::check(req.version(), req.headers()) {
        let access = access::start(app, &req, peer);
        let res = e.into_response();
        finish(app, "unknown", &res, access);
        return Reply::Now(Some(res));
    }
    let now = match parse_route(req.uri().path()).map(|r| r.target(req.method())) {
        Ok((target, Handler::Now(h))) => Ok((target, h)),
        Ok((target, Handler::Later(Later::Feed(name, format)))) => {
            match feed_now(app, &req, &target, name, format) {
                Some(res) => {
                    finish(app, target.label, &res, access::start(app, &req, peer));
                    return Reply::Now(Some(res));
                }
                None => return later_reply(app, req, peer),
            }
        }
        Ok(_) => return later_reply(app, req, peer),
        Err(e) => Err(e),
    };
    let access = access::start(app, &req, peer);
    let label = now.as_ref().map_or("unknown", |(target, _)| target.label);
    let res = now
        .and_then(|(target, h)| answer_now(app, &req, &target, h))
        .unwrap_or_else(ApiError::into_response);
    finish(app, label, &res, access);
    Reply::Now(Some(res))
}

/// A feed read answered at once when it needs no waiting: authorized,
/// then [`read::feed_response_now`].
fn feed_now(
    app: &App,
    req: &Request<Incoming>,
    target: &Target<'_>,
    name: &str,
    format: Option<crate::render::Format>,
) -> Option<Res> {
    let answer = match authorize(app, req, target.access) {
        Ok(who) => read::feed_response_now(app, req, name, format, who)?,
        Err(e) => Err(e),
    };
    Some(answer.unwrap_or_else(ApiError::into_response))
}

/// The future that answers a request that waits.
fn later_reply(app: &Arc<App>, req: Request<Incoming>, peer: Option<SocketAddr>) -> Reply {
    let app = app.clone();
    Reply::Later(Box::pin(async move { answer_later(&app, req, peer).await }))
}

/// The `route` label of `feedgate_http_requests_total` for a request path.
pub fn route_label(path: &str) -> &'static str {
    parse_route(path).map_or("unknown", |r| r.label())
}

/// Count the answer and write its access log line.
fn finish(app: &App, label: &'static str, res: &Res, access: Option<access::Started>) {
    app.metrics().request(label, res.status().as_u16());
    access::finish(access, res);
}

/// [`serve`] for a request that may wait.
async fn answer_later(app: &Arc<App>, req: Request<Incoming>, peer: Option<SocketAddr>) -> Res {
    let access = access::start(app, &req, peer);
    // The route borrows the path from a clone of the URI (reference-counted,
    // no copy), so the request itself can move into its handler.
    let uri = req.uri().clone();
    let (label, res) = match parse_route(uri.path()).map(|r| r.target(req.method())) {
        Ok((target, handler)) => (target.label, later(app, req, &target, handler).await),
        Err(e) => ("unknown", Err(e)),
    };
    let res = res.unwrap_or_else(ApiError::into_response);
    finish(app, label, &res, access);
    res
}

/// Authorize, then run a handler that answers at once.
fn answer_now(
    app: &App,
    req: &Request<Incoming>,
    target: &Target<'_>,
    handler: Now,
) -> Result<Res, ApiError> {
    let who = authorize(app, req, target.access)?;
    now(app, req, target, who, handler)
}

/// The handlers that answer at once, authorized. Operations answers are
/// about now: no cache keeps them (PROTOCOL §3 Caches).
fn now(
    app: &App,
    req: &Request<Incoming>,
    target: &Target<'_>,
    who: Option<&crate::auth::Credential>,
    handler: Now,
) -> Result<Res, ApiError> {
    match handler {
        Now::Options => {
            let mut res = empty(StatusCode::NO_CONTENT);
            let allow = HeaderValue::from_static(target.allow);
            res.headers_mut().insert(ALLOW, allow);
            Ok(res)
        }
        Now::NotAllowed => Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow: target.allow,
        }),
        Now::Healthz => Ok(no_store(ops::healthz())),
        Now::Feeds => Ok(no_store(ops::list_feeds(app, who))),
        Now::OpenApi => Ok(ops::openapi()),
    }
}

/// Authorize, then run a handler that may wait; a feed read syncs its
/// upstream first when its last sync is older than `refresh`, waiting at
/// most the upstream's `wait`.
async fn later(
    app: &Arc<App>,
    req: Request<Incoming>,
    target: &Target<'_>,
    handler: Handler<'_>,
) -> Result<Res, ApiError> {
    let who = match authorize(app, &req, target.access) {
        Ok(who) => who,
        Err(e) if matches!(handler, Handler::Later(Later::Status)) => {
            return Ok(status::login(e.into_response()))
        }
        Err(e) => return Err(e),
    };
    // Each handler's future is boxed on its own: inline, the largest would
    // set the size of every request's future (allocated per request, and
    // held by every long-poll while it waits): 3.4 KB before, 0.6 KB and
    // a read's own 1.7 KB now.
    let answer: Pin<Box<dyn Future<Output = Result<Res, ApiError>> + Send + '_>> = match handler {
        Handler::Now(handler) => return now(app, &req, target, who, handler),
        Handler::Later(Later::Feed(name, format)) => {
            return Box::pin(read::feed_response(app, &req, name, format, who)).await
        }
        Handler::Later(Later::Status) => Box::pin(async { Ok(no_store(status::page(app).await)) }),
        Handler::Later(Later::Readyz) => {
            Box::pin(async { Ok(no_store(ops::readyz(app, probe_detail(app, &req)).await)) })
        }
        Handler::Later(Later::Metrics) => Box::pin(async { Ok(no_store(ops::metrics(app).await)) }),
        Handler::Later(Later::Consumers(feed)) => {
            Box::pin(async { ops::consumers(app, feed).await.map(no_store) })
        }
        Handler::Later(Later::Batch(feed)) => Box::pin(write::batch(app, req, feed)),
        Handler::Later(Later::Hub) => Box::pin(hub::request(app, req)),
        Handler::Later(Later::Content(sha)) => {
            Box::pin(async move { content::get(app, &req, sha).await })
        }
        Handler::Later(Later::PutItem(feed, id)) => {
            Box::pin(async move { write::put_item(app, req, feed, &id).await })
        }
        Handler::Later(Later::DeleteItem(feed, id)) => {
            Box::pin(async move { write::delete_item(app, feed, &id).await })
        }
        Handler::Later(Later::GetItem(feed, id)) => {
            Box::pin(async move { item::get_item(app, req.headers(), feed, &id).await })
        }
    };
    answer.await
}

/// Authenticate the request and check it has the `access` the routing
/// table asks of it (PROTOCOL §7: 401 without or with wrong credentials,
/// 403 with a role too small).
fn authorize<'a>(
    app: &'a App,
    req: &Request<Incoming>,
    access: Access<'_>,
) -> Result<Option<&'a crate::auth::Credential>, ApiError> {
    use crate::auth::Role;
    let (feed, need) = match access {
        Access::Open => return Ok(None),
        Access::Needs(feed, role) => (feed, role),
        Access::AdminOfAll => (None, Role::Admin),
    };
    if !app.auth().enabled() {
        return Ok(None);
    }
    let (header, token) = credentials(req);
    let who = app.auth().authenticate(header, token.as_deref())?;
    app.auth().authorize(who, feed, need)?;
    if access == Access::AdminOfAll {
        for feed in app.feeds().iter().map(|f| f.name()) {
            app.auth().authorize(who, Some(feed), Role::Admin)?;
        }
    }
    Ok(who)
}

/// For the open probes: whether the caller may see `feed`'s operational
/// detail (an upstream's state and last error). Everyone may without
/// `[credentials]`; with them, a credential with `admin` on the feed. Wrong
/// or missing credentials are not an error here: the probe still answers.
fn probe_detail<'a>(app: &'a App, req: &Request<Incoming>) -> impl Fn(&str) -> bool + 'a {
    let who = if app.auth().enabled() {
        let (header, token) = credentials(req);
        app.auth()
            .authenticate(header, token.as_deref())
            .ok()
            .flatten()
    } else {
        None
    };
    move |feed: &str| {
        !app.auth().enabled() || who.is_some_and(|c| c.role(feed) == Some(crate::auth::Role::Admin))
    }
}

/// The request's `Authorization` header and `access_token` parameter.
fn credentials(req: &Request<Incoming>) -> (Option<&str>, Option<Cow<'_, str>>) {
    let header = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let token = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v)
    });
    (header, token)
}

/// Mark `res` `Cache-Control: no-store`.
fn no_store(mut res: Res) -> Res {
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A response with no body.
fn empty(status: StatusCode) -> Res {
    let mut res = Response::new(Body::full(Bytes::new()));
    *res.status_mut() = status;
    res
}

/// A JSON response.
fn json(status: StatusCode, value: &serde_json::Value) -> Res {
    let mut res = Response::new(Body::full(Bytes::from(value.to_string())));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// The configured feed `name`, or 404.
fn feed<'a>(app: &'a App, name: &str) -> Result<&'a crate::feed::Feed, ApiError> {
    app.feed(name)
        .ok_or_else(|| ApiError::FeedNotFound(name.to_string()))
}

/// `"EPOCH.SEQ"`, the header form of a position.
fn etag_header(epoch: &str, seq: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{epoch}.{seq}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}
