//! `GET|HEAD /feeds/{feed}`: validators and query in, 304 or a rendered page
//! out, with the headers of PROTOCOL §3 (ETag, Last-Modified, Cache-Control,
//! Vary, Link, IM). 304s at the head and ETag-selected pages come ready-made
//! from `cache` when they can (same bytes as a fresh answer).

use super::cache::{Page as CachedPage, PageKey};
use super::redact::without_access_token;
use super::{etag_header, http_date, Res};
use crate::app::App;
use crate::cursor::{self, Cursor, Validators};
use crate::error::ApiError;
use crate::protocol::{self, Limits, LogView, Plan};
use crate::render::{self, Document, Format, SyncMode};
use crate::store::{FeedLog, StoreError};
use bytes::Bytes;
use headers::{negotiate, ReadHeaders};
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::borrow::Cow;

const VARY: HeaderValue =
    HeaderValue::from_static("Accept, A-IM, If-None-Match, If-Modified-Since");
const CACHE_PLAIN: HeaderValue = HeaderValue::from_static("private, no-cache");
const CACHE_IM: HeaderValue = HeaderValue::from_static("no-store, im");
const IM: HeaderName = HeaderName::from_static("im");

/// The query parameters a feed read understands; others are ignored. A
/// repeated parameter keeps its last value. Pure, so it can be fuzzed.
#[derive(Debug, Default)]
pub struct Query<'a> {
    pub etag: Option<Cow<'a, str>>,
    pub last_mod: Option<Cow<'a, str>>,
    pub limit: Option<Cow<'a, str>>,
    pub format: Option<Cow<'a, str>>,
    /// Names the consumer for the consumer report when it has no credential.
    pub consumer: Option<Cow<'a, str>>,
}

impl<'a> Query<'a> {
    /// Parse a query string (`a=b&c=d`, form-urlencoded, without the `?`).
    pub fn parse(q: &'a str) -> Query<'a> {
        let mut out = Query::default();
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            match &*k {
                "etag" => out.etag = Some(v),
                "lastMod" => out.last_mod = Some(v),
                "limit" => out.limit = Some(v),
                "format" => out.format = Some(v),
                "consumer" => out.consumer = Some(v),
                _ => {}
            }
        }
        out
    }
}

/// The answer to a feed read (an upstream feed has synced first, if it had to).
pub fn feed_response(
    app: &App,
    req: &Request<hyper::body::Incoming>,
    name: &str,
    suffix: Option<Format>,
    who: Option<&crate::auth::Credential>,
) -> Result<Res, ApiError> {
    let feed = app
        .reads
        .feed(name)
        .ok_or_else(|| ApiError::FeedNotFound(name.to_string()))?;
    let (log, info, cache) = (&feed.log, &feed.info, &feed.cache);
    let q = Query::parse(req.uri().query().unwrap_or(""));
    let headers = ReadHeaders::of(req.headers());
    let format = match (suffix, q.format.as_deref()) {
        (Some(f), _) => f,
        (None, Some("atom")) => Format::Atom,
        (None, Some("rss")) => Format::Rss,
        (None, Some(other)) => {
            return Err(ApiError::InvalidParameter(format!(
                "format {other:?}: use rss or atom"
            )))
        }
        (None, None) => negotiate(headers.accept),
    };
    let limit = match q.limit.as_deref() {
        None => app.config.default_limit,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(app.config.max_limit),
            _ => {
                return Err(ApiError::InvalidParameter(format!(
                    "limit {l:?}: use a whole number from 1 to {}",
                    app.config.max_limit
                )))
            }
        },
    };
    fn text(v: Option<&HeaderValue>) -> Option<&str> {
        v.map(|v| v.to_str().unwrap_or(""))
    }
    let validators = Validators {
        if_none_match: text(headers.if_none_match),
        etag: q.etag.as_deref(),
        if_modified_since: text(headers.if_modified_since),
        last_mod: q.last_mod.as_deref(),
    };
    let now = app.clock.now_ms();
    let cursor = cursor::resolve(&validators, log.epoch(), log.head(), now / 1000);
    let im = headers.im;
    let consumer = crate::consumers::identify(who, q.consumer.as_deref(), headers.from);
    // Read before the log is: a page rendered below is exact while it lasts.
    let generation = log.compactions();
    // An ETag-selected page: served from memory when it was rendered before.
    let key = match cursor {
        Cursor::Seq(p) if p < log.head() && p >= log.dropped() => Some(PageKey {
            format,
            after: p,
            limit,
            url: self_url(app, req),
        }),
        _ => None,
    };
    if let Some(key) = &key {
        // The generation now: a page read under an older one is not served.
        if let Some(page) = cache.page(key, log.compactions(), log.published()) {
            feed.reads.page(format, page.entries);
            if let Some(consumer) = consumer {
                let plan = Plan::Page(protocol::Page {
                    after: key.after,
                    last: page.last,
                    last_stamp: page.last_stamp,
                    more: page.more,
                    // Only the position is recorded.
                    entries: Vec::new(),
                });
                app.consumers.record(log, consumer, cursor, &plan, now);
            }
            return Ok(page_response(req, page.headers, page.body, im));
        }
    }
    let limits = Limits {
        max_entries: limit,
        max_bytes: app.config.max_page_bytes,
    };
    let plan = protocol::plan(log.as_ref(), cursor, now, limits)?;
    feed.reads.plan(format, &plan);
    if let Some(consumer) = consumer {
        app.consumers.record(log, consumer, cursor, &plan, now);
    }
    let page = match plan {
        Plan::NotModified { position } => {
            let h = cache.not_modified(log, position, || position_headers(log, position))?;
            return Ok(not_modified(h, im));
        }
        Plan::Page(page) => page,
    };
    let mut h = HeaderMap::with_capacity(8);
    h.insert(header::VARY, VARY);
    h.insert(header::CACHE_CONTROL, CACHE_PLAIN);
    set_position(&mut h, log.epoch(), page.last, page.last_stamp);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );

    let base = base_url(app, req.headers());
    let feed_url = format!("{base}/feeds/{name}");
    let self_url = match &key {
        Some(key) => Cow::Borrowed(key.url.as_str()),
        None => Cow::Owned(self_url(app, req)),
    };
    let etag = format!("{}.{}", log.epoch(), page.last);
    let next_url = page.more.then(|| {
        let mut url = format!("{base}{}?etag={etag}", req.uri().path());
        if q.limit.is_some() {
            url.push_str(&format!("&limit={limit}"));
        }
        if let Some(f) = &q.format {
            url.push_str(if f == "atom" {
                "&format=atom"
            } else {
                "&format=rss"
            });
        }
        url
    });
    if let Some(next) = &next_url {
        if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            h.insert(header::LINK, v);
        }
    }
    let head = log.published();
    let doc = Document {
        title: &info.title,
        link: &info.link,
        description: &info.description,
        feed_url: &feed_url,
        self_url: &self_url,
        next_url: next_url.as_deref(),
        etag: &etag,
        last_modified: page.last_stamp,
        sync_mode: if page.after == 0 {
            SyncMode::CatchUp
        } else {
            SyncMode::Immediate
        },
        head_tick: head.seq + 1,
        head_stamp: (head.seq > 0).then_some(head.stamp),
        entries: &page.entries,
    };
    let mut body = Bytes::from(render::render(format, &doc));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if let Some(key) = key {
        // A page that ended before the head stays what it is; one that
        // reached the head is kept only if its digest shows that head. (A
        // catch-up, after a tombstone drop raced this read, is not kept.)
        let full = page.more;
        let delta = page.after == key.after && key.after >= log.dropped();
        if delta && (full || page.last == head.seq) {
            // The renderer's buffer is sized ahead (~1.5x the page): keep an
            // exact copy, so the cache holds what its budget counts.
            body = Bytes::copy_from_slice(&body);
            let cached = CachedPage {
                headers: h.clone(),
                body: body.clone(),
                entries: page.entries.len(),
                last: page.last,
                last_stamp: page.last_stamp,
                more: page.more,
            };
            cache.insert(key, cached, generation, head.seq, full);
        }
    }
    Ok(page_response(req, h, body, im))
}

/// The headers of a 304 at `position`, as a 200 would carry them (no `A-IM`).
fn position_headers(log: &FeedLog, position: u64) -> Result<HeaderMap, StoreError> {
    let mut h = HeaderMap::with_capacity(4);
    h.insert(header::VARY, VARY);
    h.insert(header::CACHE_CONTROL, CACHE_PLAIN);
    set_position(&mut h, log.epoch(), position, log.stamp_of(position)?);
    Ok(h)
}

fn not_modified(mut h: HeaderMap, im: bool) -> Res {
    if im {
        h.insert(header::CACHE_CONTROL, CACHE_IM);
    }
    respond(StatusCode::NOT_MODIFIED, h, Bytes::new())
}

/// A page response from the plain `200` headers: `226 IM Used` for `A-IM:
/// feed`, no body for `HEAD`.
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
    let mut res = Response::new(Full::new(body));
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

/// ETag and Last-Modified of a position (no Last-Modified at position 0).
fn set_position(h: &mut HeaderMap, epoch: &str, seq: u64, stamp: Option<u64>) {
    h.insert(header::ETAG, etag_header(epoch, seq));
    if let Some(ms) = stamp.filter(|_| seq > 0) {
        if let Ok(v) = HeaderValue::from_str(&http_date(ms)) {
            h.insert(header::LAST_MODIFIED, v);
        }
    }
}

/// The configured base URL, else `http://` + a well-formed Host header, else the listen address.
fn base_url<'a>(app: &'a App, headers: &HeaderMap) -> Cow<'a, str> {
    if let Some(base) = &app.config.base_url {
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
        None => Cow::Owned(format!("http://{}", app.config.listen)),
    }
}

mod headers;
#[cfg(test)]
mod tests;
