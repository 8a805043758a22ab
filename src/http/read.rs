//! `GET|HEAD /feeds/{feed}`, the HTTP side of a feed read: parse the request
//! (`request`), ask `protocol` for the plan and its [`Outcome`], and write
//! that out as a 304 or a rendered page with the headers of PROTOCOL §3
//! (ETag, Last-Modified, Cache-Control, Vary, Link, IM). 304s at the head
//! and ETag-selected pages come ready-made from `cache` when they can (same
//! bytes as a fresh answer). The header values for shared caches are in
//! `caching`; every decision behind them is in `protocol::outcome`.

use super::redact::without_access_token;
use super::Body;
use super::{etag_header, http_date, Res};
use crate::app::App;
use crate::error::ApiError;
use crate::feed::cache::Page as CachedPage;
use crate::protocol::{self, Keep, LogNow, Outcome, PageOutcome, Plan};
use crate::render::{self, Document, Format};
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

/// The answer to a feed read (an upstream feed has synced first, if it had to).
pub async fn feed_response(
    app: &std::sync::Arc<App>,
    req: &Request<hyper::body::Incoming>,
    name: &str,
    suffix: Option<Format>,
    who: Option<&crate::auth::Credential>,
) -> Result<Res, ApiError> {
    let feed = super::feed(app, name)?;
    if let Some(upstream) = feed.upstream() {
        // Syncs first when its last sync is older than `refresh`, waiting
        // at most `wait`.
        Box::pin(upstream.before_read()).await;
    }
    let q = Query::parse(req.uri().query().unwrap_or(""));
    let headers = ReadHeaders::of(req.headers());
    if headers.event_stream && req.method() == Method::GET {
        let (etag, last_mod) = (q.etag.as_deref(), q.last_mod.as_deref());
        // Boxed: a poll's future stays the size of a poll.
        return Box::pin(super::sse::stream(app, feed, req.headers(), etag, last_mod)).await;
    }
    match wait::requested(headers.wait, &q, app.config().max_wait)? {
        Some(wait) => {
            let mut poll = wait::LongPoll::start(app, feed, wait);
            loop {
                // Boxed, so that what waits holds only the wait.
                let (res, held) =
                    Box::pin(answer(app, req, feed, suffix, &q, &headers, who)).await?;
                match held {
                    Some(held) if poll.next(held).await => {}
                    _ => return Ok(poll.finish(res)),
                }
            }
        }
        None => Ok(answer(app, req, feed, suffix, &q, &headers, who).await?.0),
    }
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
    let cursor = read.request.cursor;
    let log = feed.log();
    if let Some(page) = read.cached() {
        feed.reads().page(read.format, page.entries);
        if let Some(consumer) = consumer {
            let plan = cached_plan(&read, &page);
            app.consumers().record(log, consumer, cursor, &plan, now);
        }
        let mut h = dated(page.headers, read.request.dated(page.last_modified));
        let body = read.encoded(&mut h, page.body, page.gzip, true);
        return Ok((page_response(req, h, body, read.im), None));
    }
    let plan = protocol::plan(log, cursor, now, read.limits()).await?;
    feed.reads().plan(read.format, &plan);
    if let Some(consumer) = consumer {
        app.consumers().record(log, consumer, cursor, &plan, now);
    }
    let head = log.published();
    let log_now = LogNow {
        head: head.seq,
        head_stamp: head.stamp,
        dropped: log.dropped(),
    };
    Ok(match protocol::outcome(plan, &read.request, log_now) {
        Outcome::NotModified {
            position,
            last_modified,
        } => (read.not_modified(position, last_modified), Some(position)),
        Outcome::Page(page) => (read.page(page), None),
    })
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
    /// The 304 at `position`, ready-made when it is the head's.
    fn not_modified(&self, position: u64, last_modified: u64) -> Res {
        let log = self.feed.log();
        // As a 200 would carry them (no `A-IM`).
        let mut h = self
            .feed
            .cache()
            .not_modified(log, position, last_modified, || {
                let mut h = HeaderMap::with_capacity(4);
                h.insert(header::VARY, self.vary());
                h.insert(header::CACHE_CONTROL, NO_STORE);
                set_position(&mut h, log.epoch(), position, last_modified);
                h
            });
        if self.im {
            h.insert(header::CACHE_CONTROL, CACHE_IM);
        }
        if self.gzip {
            // The ETag a 200 to this request would carry.
            encoding::weaken(&mut h);
        }
        respond(StatusCode::NOT_MODIFIED, h, Bytes::new())
    }

    /// The page `out` describes, rendered, and kept in memory when it may be.
    fn page(mut self, out: PageOutcome) -> Res {
        let epoch = self.feed.log().epoch();
        let base = base_url(self.app, self.req.headers());
        let next_url = out
            .next
            .map(|p| self.next_url(&base, &format!("{epoch}.{p}")));
        let mut h = self.page_headers(&out, next_url.as_deref());
        let self_url = match &self.key {
            Some(key) => Cow::Borrowed(key.url.as_str()),
            None => Cow::Owned(self_url(self.app, self.req)),
        };
        // WebSub discovery (PROTOCOL §9): in the document and in `Link`.
        let hub = self.app.hub().enabled().then(|| format!("{base}/websub"));
        if let Some(hub) = &hub {
            let links = format!("<{hub}>; rel=\"hub\", <{self_url}>; rel=\"self\"");
            if let Ok(v) = HeaderValue::from_str(&links) {
                h.append(header::LINK, v);
            }
        }
        let urls = Urls {
            base: &base,
            self_url: &self_url,
            next: next_url.as_deref(),
            hub: hub.as_deref(),
        };
        let mut body = self.render(&out, &urls);
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut kept = false;
        if let Some(keep) = out.keep {
            (body, kept) = self.keep(keep, &out.page, &h, body);
        }
        let mut h = dated(h, out.dated);
        let body = self.encoded(&mut h, body, None, kept);
        page_response(self.req, h, body, self.im)
    }

    /// The document of `out`, with its links `urls`.
    fn render(&self, out: &PageOutcome, urls: &Urls<'_>) -> Bytes {
        let (page, info) = (&out.page, self.feed.info());
        let doc = Document {
            title: &info.title,
            link: &info.link,
            description: &info.description,
            feed_url: &format!("{}/feeds/{}", urls.base, self.name),
            self_url: urls.self_url,
            next_url: urls.next,
            hub_url: urls.hub,
            etag: &format!("{}.{}", self.feed.log().epoch(), page.last),
            last_modified: Some(page.last_modified * 1000),
            sync_mode: out.sync_mode,
            head_tick: out.digest_tick,
            head_stamp: out.digest_stamp,
            entries: &page.entries,
        };
        Bytes::from(render::render(self.format, &doc))
    }

    /// Keep the rendered `page` (headers `h`, `body`) under this read's key;
    /// the body to send is the kept copy (and whether it was kept).
    fn keep(
        &mut self,
        keep: Keep,
        page: &protocol::Page,
        h: &HeaderMap,
        body: Bytes,
    ) -> (Bytes, bool) {
        let Some(key) = self.key.clone() else {
            return (body, false);
        };
        // The renderer's buffer is sized ahead (~1.5x the page): keep an
        // exact copy, so the cache holds what its budget counts.
        let body = Bytes::copy_from_slice(&body);
        let cached = CachedPage {
            headers: h.clone(),
            body: body.clone(),
            gzip: None,
            entries: page.entries.len(),
            last: page.last,
            last_stamp: page.last_stamp,
            last_modified: page.last_modified,
            more: page.more,
        };
        let cache = self.feed.cache();
        cache.insert(key, cached, self.generation, keep.head, keep.full);
        (body, true)
    }

    /// The headers of the plain `200` of `out` (no `A-IM`), all but
    /// `Content-Length`; `Last-Modified` included (a cached page is served
    /// to requests that may want it).
    fn page_headers(&self, out: &PageOutcome, next: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(9);
        if out.preferred {
            let vary = if self.feed.info().im_feed {
                caching::VARY_PREFER_IM
            } else {
                caching::VARY_PREFER
            };
            h.insert(header::VARY, vary);
            h.insert(caching::PREFERENCE_APPLIED, caching::RETURN_REPRESENTATION);
        } else {
            h.insert(header::VARY, self.vary());
        }
        let cache_control = if out.immutable {
            caching::immutable_cache_control(self.app.auth().enabled())
        } else {
            NO_STORE
        };
        h.insert(header::CACHE_CONTROL, cache_control);
        set_position(
            &mut h,
            self.feed.log().epoch(),
            out.page.last,
            out.page.last_modified,
        );
        let content_type = HeaderValue::from_static(self.format.content_type());
        h.insert(header::CONTENT_TYPE, content_type);
        if let Some(next) = next {
            if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
                h.insert(header::LINK, v);
            }
        }
        h
    }

    /// The `next` link: this feed's URL with `?etag=` of the next position,
    /// and the request's `limit` and `format` when it named them.
    fn next_url(&self, base: &str, etag: &str) -> String {
        let mut url = format!("{base}{}?etag={etag}", self.req.uri().path());
        if self.query.limit.is_some() {
            url.push_str(&format!("&limit={}", self.limit));
        }
        if let Some(f) = &self.query.format {
            url.push_str(if f == "atom" {
                "&format=atom"
            } else {
                "&format=rss"
            });
        }
        url
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

/// The absolute URLs a document links to.
struct Urls<'a> {
    base: &'a str,
    self_url: &'a str,
    next: Option<&'a str>,
    hub: Option<&'a str>,
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
mod query;
mod request;
#[cfg(test)]
mod tests;
mod wait;
