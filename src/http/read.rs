//! `GET|HEAD /feeds/{feed}`, the HTTP side of a feed read: parse the request
//! (`request`), ask `protocol` for the plan and its [`Outcome`], and write
//! that out as a 304 or a rendered page with the headers of PROTOCOL §3
//! (ETag, Last-Modified, Cache-Control, Vary, Link, IM). 304s at the head
//! and ETag-selected pages come ready-made from `cache` when they can (same
//! bytes as a fresh answer). A read that needs no more than that (a kept
//! page, or the 304 at the head: [`protocol::plan_at_once`]) is answered
//! without `await` inside hyper's call ([`feed_response_now`]); the rest go
//! through [`feed_response`]. Rendering a page and its headers is in `page`.
//! The header values for shared caches are in `caching`; every decision
//! behind them is in `protocol::outcome`.

use super::redact::without_access_token;
use super::Body;
use super::{etag_header, http_date, Res};
use crate::app::App;
use crate::error::ApiError;
use crate::feed::cache::Page as CachedPage;
use crate::protocol::{self, LogNow, Outcome, Plan};
use crate::render::Format;
use bytes::Bytes;
use caching::{NO_STORE, VARY, VARY_IM};
use headers::ReadHeaders;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
pub use query::Query;
use request::FeedRead;
use std::borrow::Cow;

const CACHE_IM: HeaderValue = HeaderValue::from_static("no-store, im");
const IM: HeaderName = HeaderName::from_static("im");
/// On every answer of an upstream feed whose origin cannot be reached.
const UPSTREAM: HeaderName = HeaderName::from_static("feedgate-upstream");

/// The answer to a feed read (an upstream feed has synced first, if it had to).
pub async fn feed_response(
    app: &std::sync::Arc<App>,
    req: &Request<hyper::body::Incoming>,
    name: &str,
    suffix: Option<Format>,
    who: Option<&crate::auth::Credential>,
) -> Result<Res, ApiError> {
    let feed = super::feed(app, name)?;
    let q = Query::parse(req.uri().query().unwrap_or(""));
    let headers = ReadHeaders::of(req.headers());
    if let Some(upstream) = feed.upstream() {
        // Syncs first when its last sync is older than `refresh`, waiting
        // at most `wait`. What it appended is stamped in the current
        // second, which a response not selected by an ETag does not show
        // (whole seconds): such a read waits for the second to end, so the
        // read that synced shows what it synced (a replica's first read).
        let synced = Box::pin(upstream.before_read()).await;
        let by_etag = headers.if_none_match.is_some()
            || q.etag.as_deref().is_some_and(|e| !e.trim().is_empty());
        if synced && !by_etag {
            let ms = app.clock().now_ms();
            tokio::time::sleep(std::time::Duration::from_millis(1000 - ms % 1000)).await;
        }
    }
    if headers.event_stream && req.method() == Method::GET {
        let (etag, last_mod) = (q.etag.as_deref(), q.last_mod.as_deref());
        // Boxed: a poll's future stays the size of a poll.
        return Box::pin(super::sse::stream(app, feed, req.headers(), etag, last_mod)).await;
    }
    let mut res = match wait::requested(headers.wait, &q, app.config().max_wait)? {
        Some(wait) => {
            let mut poll = wait::LongPoll::start(app, feed, wait);
            loop {
                // Boxed, so that what waits holds only the wait.
                let (res, held) =
                    Box::pin(answer(app, req, feed, suffix, &q, &headers, who)).await?;
                match held {
                    Some(held) if poll.next(held).await => {}
                    _ => break poll.finish(res),
                }
            }
        }
        None => answer(app, req, feed, suffix, &q, &headers, who).await?.0,
    };
    if let Some(notice) = feed.upstream().and_then(|u| u.notice()) {
        res.headers_mut().insert(UPSTREAM, upstream_notice(&notice));
    }
    Ok(res)
}

/// `Feedgate-Upstream` as an RFC 8941 item: `failing; failures=N;
/// last-success="RFC 3339"; error="…"` (no `last-success` before the first
/// success). The error is a structured-field string: printable ASCII, `"`
/// and `\` escaped, anything else as `?`.
fn upstream_notice(n: &crate::render::UpstreamNotice) -> HeaderValue {
    let sf_string = |s: &str| {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                ' '..='~' => out.push(c),
                _ => out.push('?'),
            }
        }
        out.push('"');
        out
    };
    let mut v = format!("failing; failures={}", n.failures);
    if let Some(at) = &n.last_success {
        v.push_str(&format!("; last-success={}", sf_string(at)));
    }
    v.push_str(&format!("; error={}", sf_string(&n.error)));
    // Only visible ASCII and spaces: always a valid value.
    HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("failing"))
}

/// The answer to a read that needs no waiting, computed without `await`:
/// a page from the page cache, or the 304 at the head (most requests are
/// these polls; answered inside hyper's call, they cost no boxed future).
/// `None`: the read is answered by [`feed_response`].
pub fn feed_response_now(
    app: &App,
    req: &Request<hyper::body::Incoming>,
    name: &str,
    suffix: Option<Format>,
    who: Option<&crate::auth::Credential>,
) -> Option<Result<Res, ApiError>> {
    let feed = match super::feed(app, name) {
        Ok(feed) if feed.upstream().is_none() => feed,
        Ok(_) => return None,
        Err(e) => return Some(Err(e)),
    };
    let q = Query::parse(req.uri().query().unwrap_or(""));
    let headers = ReadHeaders::of(req.headers());
    if headers.event_stream && req.method() == Method::GET {
        return None;
    }
    match wait::requested(headers.wait, &q, app.config().max_wait) {
        Ok(None) => {}
        Ok(Some(_)) => return None,
        Err(e) => return Some(Err(e)),
    }
    let now = app.clock().now_ms();
    let read = match FeedRead::new(app, feed, req, suffix, &q, &headers, now) {
        Ok(read) if read.beyond.is_none() => read,
        Ok(_) => return None,
        Err(e) => return Some(Err(e)),
    };
    let consumer = crate::consumers::identify(who, q.consumer.as_deref(), headers.from);
    read.at_once(consumer, now).ok().map(|(res, _)| Ok(res))
}

/// The answer to a feed read now, and the position a 304 holds (`None`
/// for any other answer).
async fn answer(
    app: &App,
    req: &Request<hyper::body::Incoming>,
    feed: &crate::feed::Feed,
    suffix: Option<Format>,
    q: &Query<'_>,
    headers: &ReadHeaders<'_>,
    who: Option<&crate::auth::Credential>,
) -> Result<(Res, Option<u64>), ApiError> {
    let now = app.clock().now_ms();
    let mut read = FeedRead::new(app, feed, req, suffix, q, headers, now)?;
    if let Some(seq) = read.beyond {
        // Another process sharing the store may have handed out `seq`.
        if feed.log().head_at_least(seq).await? >= seq {
            read = FeedRead::new(app, feed, req, suffix, q, headers, now)?;
        }
    }
    let consumer = crate::consumers::identify(who, q.consumer.as_deref(), headers.from);
    if read.beyond.is_none() {
        read = match read.at_once(consumer, now) {
            Ok(done) => return Ok(done),
            Err(read) => read,
        };
    }
    let plan = protocol::plan(feed.log(), read.request.cursor, now, read.limits()).await?;
    Ok(read.answer(plan, consumer, now))
}

/// What the consumer report records of a page served from memory: its position.
fn cached_plan(read: &FeedRead<'_>, page: &CachedPage) -> Plan {
    Plan::Page(protocol::Page {
        after: read.key.as_ref().map_or(0, |k| k.after),
        last: page.last,
        last_stamp: page.last_stamp,
        last_modified: page.last_modified,
        more: page.more,
        entries: Vec::new(),
    })
}

impl FeedRead<'_> {
    /// The answer when it needs nothing from the log but its frontier: a
    /// kept page, or the 304 at the head ([`protocol::plan_at_once`]);
    /// else the read back, to be planned.
    // The read comes back by value: boxing it would allocate on every poll.
    #[allow(clippy::result_large_err)]
    fn at_once(self, consumer: Option<&str>, now: u64) -> Result<(Res, Option<u64>), Self> {
        let (feed, cursor) = (self.feed, self.request.cursor);
        if let Some(page) = self.cached() {
            feed.reads().page(self.format, page.entries);
            if let Some(consumer) = consumer {
                let plan = cached_plan(&self, &page);
                self.app
                    .consumers()
                    .record(feed.log(), consumer, cursor, &plan, now);
            }
            let mut h = dated(page.headers, self.request.dated(page.last_modified));
            let body = self.encoded(&mut h, page.body, page.gzip, true);
            return Ok((page_response(self.req, h, body, self.im), None));
        }
        match protocol::plan_at_once(feed.log(), cursor, now) {
            Some(plan) => Ok(self.answer(plan, consumer, now)),
            None => Err(self),
        }
    }

    /// The answer `plan` decides, and the position a 304 holds.
    fn answer(self, plan: Plan, consumer: Option<&str>, now: u64) -> (Res, Option<u64>) {
        let log = self.feed.log();
        self.feed.reads().plan(self.format, &plan);
        if let Some(consumer) = consumer {
            let cursor = self.request.cursor;
            self.app
                .consumers()
                .record(log, consumer, cursor, &plan, now);
        }
        let head = log.published();
        let log_now = LogNow {
            head: head.seq,
            head_stamp: head.stamp,
            dropped: log.dropped(),
        };
        match protocol::outcome(plan, &self.request, log_now) {
            Outcome::NotModified {
                position,
                last_modified,
            } => (self.not_modified(position, last_modified), Some(position)),
            Outcome::Page(page) => (self.page(page), None),
        }
    }

    /// The 304 at `position`, ready-made when it is the head's.
    fn not_modified(&self, position: u64, last_modified: u64) -> Res {
        let log = self.feed.log();
        // As a 200 would carry them (no `A-IM`): with the ETag a 200 to
        // this request would carry, weak when it would be in gzip.
        let mut h = self
            .feed
            .cache()
            .not_modified(log, position, last_modified, self.gzip, || {
                let mut h = HeaderMap::with_capacity(4);
                h.insert(header::VARY, self.vary());
                h.insert(header::CACHE_CONTROL, NO_STORE);
                set_position(&mut h, log.epoch(), position, last_modified);
                if self.gzip {
                    encoding::weaken(&mut h);
                }
                h
            });
        if self.im {
            h.insert(header::CACHE_CONTROL, CACHE_IM);
        }
        respond(StatusCode::NOT_MODIFIED, h, Bytes::new())
    }

    /// `Vary` of the feed's answers (`A-IM` only where it selects one).
    fn vary(&self) -> HeaderValue {
        if self.feed.info().im_feed {
            VARY_IM
        } else {
            VARY
        }
    }
}

/// `h` without `Last-Modified` unless `dated` ([`protocol::ReadRequest::dated`]).
fn dated(mut h: HeaderMap, dated: bool) -> HeaderMap {
    if !dated {
        h.remove(header::LAST_MODIFIED);
    }
    h
}

/// A page response from the plain `200` headers: `226 IM Used` for `A-IM:
/// feed` on a feed with `im_feed`, no body for `HEAD`.
fn page_response(
    req: &Request<hyper::body::Incoming>,
    mut h: HeaderMap,
    body: Bytes,
    im: bool,
) -> Res {
    let status = if im {
        h.insert(header::CACHE_CONTROL, CACHE_IM);
        h.insert(IM, HeaderValue::from_static("feed"));
        StatusCode::IM_USED
    } else {
        StatusCode::OK
    };
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        body
    };
    respond(status, h, body)
}

fn respond(status: StatusCode, headers: HeaderMap, body: Bytes) -> Res {
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// The document's self link: base URL, path and query. Secrets never go into
/// documents: it drops `access_token` (and next links never carry it; such
/// consumers add it themselves).
fn self_url(app: &App, req: &Request<hyper::body::Incoming>) -> String {
    format!(
        "{}{}",
        base_url(app, req.headers()),
        without_access_token(req.uri())
    )
}

/// ETag and Last-Modified (a Unix second, PROTOCOL §2) of a position.
fn set_position(h: &mut HeaderMap, epoch: &str, seq: u64, last_modified: u64) {
    h.insert(header::ETAG, etag_header(epoch, seq));
    if let Ok(v) = HeaderValue::from_str(&http_date(last_modified.saturating_mul(1000))) {
        h.insert(header::LAST_MODIFIED, v);
    }
}

/// The configured base URL, else `http://` + a well-formed Host header, else the listen address.
fn base_url<'a>(app: &'a App, headers: &HeaderMap) -> Cow<'a, str> {
    if let Some(base) = &app.config().base_url {
        return Cow::Borrowed(base);
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        });
    match host {
        Some(host) => Cow::Owned(format!("http://{host}")),
        None => Cow::Owned(format!("http://{}", app.config().listen)),
    }
}

mod caching;
pub(super) mod encoding;
mod headers;
mod page;
mod query;
mod request;
#[cfg(test)]
mod tests;
mod wait;
