//! `GET|HEAD /feeds/{feed}`: validators and query in, 304 or a rendered page
//! out, with the headers of PROTOCOL §3 (ETag, Last-Modified, Cache-Control,
//! Vary, Link, IM). 304s at the head and ETag-selected pages come ready-made
//! from `cache` when they can (same bytes as a fresh answer). What shared
//! caches may keep (`Cache-Control`, `Vary`, `Prefer`) is decided in
//! `caching`.

use super::redact::without_access_token;
use super::{etag_header, http_date, Res};
use crate::app::App;
use crate::cursor::{self, Cursor, Validators};
use crate::error::ApiError;
use crate::feed::cache::{Page as CachedPage, PageKey};
use crate::protocol::{self, Limits, Plan};
use crate::render::{self, Document, Format, SyncMode};
use crate::store::Log;
use bytes::Bytes;
use caching::{NO_STORE, VARY, VARY_IM};
use headers::{negotiate, ReadHeaders};
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use query::parse_limit;
pub use query::Query;
use std::borrow::Cow;

const CACHE_IM: HeaderValue = HeaderValue::from_static("no-store, im");
const IM: HeaderName = HeaderName::from_static("im");

/// The answer to a feed read (an upstream feed has synced first, if it had to).
pub async fn feed_response(
    app: &App,
    req: &Request<hyper::body::Incoming>,
    name: &str,
    suffix: Option<Format>,
    who: Option<&crate::auth::Credential>,
) -> Result<Res, ApiError> {
    let feed = super::feed(app, name)?;
    if let Some(upstream) = feed.upstream() {
        // Syncs first when its last sync is older than `refresh`, waiting
        // at most `wait`.
        upstream.before_read().await;
    }
    let (log, info, cache) = (feed.log(), feed.info(), feed.cache());
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
        None => app.config().default_limit,
        Some(l) => parse_limit(l, app.config().max_limit).ok_or_else(|| {
            ApiError::InvalidParameter(format!(
                "limit {l:?}: use a whole number from 1 to {}",
                app.config().max_limit
            ))
        })?,
    };
    fn text(v: Option<&HeaderValue>) -> Option<&str> {
        v.map(|v| v.to_str().unwrap_or(""))
    }
    let validators = Validators {
        if_none_match: headers.if_none_match.as_deref(),
        etag: q.etag.as_deref(),
        if_modified_since: text(headers.if_modified_since),
        last_mod: q.last_mod.as_deref(),
    };
    // Selected by request headers (PROTOCOL §3 Caches): never cacheable.
    let conditional = validators.if_none_match.is_some() || validators.if_modified_since.is_some();
    let now = app.clock().now_ms();
    let cursor = cursor::resolve(&validators, log.epoch(), log.head(), now / 1000);
    // `A-IM: feed` is answered with 226 only where the feed opts in (PROTOCOL §3).
    let im = headers.im && info.im_feed;
    let vary = if info.im_feed { VARY_IM } else { VARY };
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
            query_form: !conditional,
        }),
        _ => None,
    };
    if let Some(key) = &key {
        // The generation now: a page read under an older one is not served.
        if let Some(page) = cache.page(key, log.compactions(), log.published()) {
            feed.reads().page(format, page.entries);
            if let Some(consumer) = consumer {
                let plan = Plan::Page(protocol::Page {
                    after: key.after,
                    last: page.last,
                    last_stamp: page.last_stamp,
                    last_modified: page.last_modified,
                    more: page.more,
                    // Only the position is recorded.
                    entries: Vec::new(),
                });
                app.consumers().record(log, consumer, cursor, &plan, now);
            }
            let h = undated_if_not_newer(page.headers, &headers, page.last_modified);
            return Ok(page_response(req, h, page.body, im));
        }
    }
    let limits = Limits {
        max_entries: limit,
        max_bytes: app.config().max_page_bytes,
        second_entries: app.config().max_second_entries,
        second_bytes: app.config().max_second_bytes,
    };
    let plan = protocol::plan(log, cursor, now, limits).await?;
    feed.reads().plan(format, &plan);
    if let Some(consumer) = consumer {
        app.consumers().record(log, consumer, cursor, &plan, now);
    }
    // `preferred`: a cache's own fetch, which may not get a 304 it did not
    // ask for, gets the position as a page without entries instead.
    let (page, preferred) = match plan {
        Plan::NotModified {
            position,
            last_modified,
        } if headers.representation && !conditional => {
            let page = protocol::Page {
                after: position,
                last: position,
                last_stamp: log.stamp(position).await?,
                last_modified,
                more: false,
                entries: Vec::new(),
            };
            (page, true)
        }
        Plan::NotModified {
            position,
            last_modified,
        } => {
            let h = cache.not_modified(log, position, last_modified, || {
                position_headers(log, position, last_modified, vary)
            });
            return Ok(not_modified(h, im));
        }
        Plan::Page(page) => (page, false),
    };
    let immutable = caching::immutable(conditional, cursor, &page);
    let mut h = HeaderMap::with_capacity(9);
    if preferred {
        let prefer = if info.im_feed {
            caching::VARY_PREFER_IM
        } else {
            caching::VARY_PREFER
        };
        h.insert(header::VARY, prefer);
        h.insert(caching::PREFERENCE_APPLIED, caching::RETURN_REPRESENTATION);
    } else {
        h.insert(header::VARY, vary);
    }
    h.insert(
        header::CACHE_CONTROL,
        if immutable {
            caching::immutable_cache_control(app.auth().enabled())
        } else {
            NO_STORE
        },
    );
    set_position(&mut h, log.epoch(), page.last, page.last_modified);
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
    // A page that never changes names its own end in the digest, so its
    // bytes stay the same (PROTOCOL §10).
    let (head_tick, head_stamp) = if immutable {
        (page.last + 1, page.last_stamp)
    } else {
        (head.seq + 1, (head.seq > 0).then_some(head.stamp))
    };
    let doc = Document {
        title: &info.title,
        link: &info.link,
        description: &info.description,
        feed_url: &feed_url,
        self_url: &self_url,
        next_url: next_url.as_deref(),
        etag: &etag,
        last_modified: Some(page.last_modified * 1000),
        sync_mode: if page.after == 0 {
            SyncMode::CatchUp
        } else {
            SyncMode::Immediate
        },
        head_tick,
        head_stamp,
        entries: &page.entries,
    };
    let mut body = Bytes::from(render::render(format, &doc));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if let Some(key) = key {
        // A page that ended before the head stays what it is; one that
        // reached the head is kept only if its digest shows that head and
        // its last second is whole (its Last-Modified is final). (A
        // catch-up, after a tombstone drop raced this read, is not kept.)
        let full = page.more;
        let delta = page.after == key.after && key.after >= log.dropped();
        let settled = page.last_stamp.map(|s| s / 1000) == Some(page.last_modified);
        if delta && (full || (page.last == head.seq && settled)) {
            // The renderer's buffer is sized ahead (~1.5x the page): keep an
            // exact copy, so the cache holds what its budget counts.
            body = Bytes::copy_from_slice(&body);
            let cached = CachedPage {
                headers: h.clone(),
                body: body.clone(),
                entries: page.entries.len(),
                last: page.last,
                last_stamp: page.last_stamp,
                last_modified: page.last_modified,
                more: page.more,
            };
            cache.insert(key, cached, generation, head.seq, full);
        }
    }
    if let Cursor::Seq(_) = cursor {
        h = undated_if_not_newer(h, &headers, page.last_modified);
    }
    Ok(page_response(req, h, body, im))
}

/// An ETag-selected page's headers without `Last-Modified` when that date is
/// not later than the request's `If-Modified-Since` (a date-selected page
/// keeps its date: it is all a date-only consumer has). libcurl, and so newsboat,
/// discards the body of a `200` that is not newer than its
/// `If-Modified-Since` and still keeps the response's `ETag`: the page would
/// be lost. Without the date it is taken, and the client keeps the older
/// date it sent, which still holds (docs/decisions.md).
fn undated_if_not_newer(
    mut h: HeaderMap,
    request: &ReadHeaders<'_>,
    last_modified: u64,
) -> HeaderMap {
    let ims = request
        .if_modified_since
        .and_then(|v| v.to_str().ok())
        .and_then(cursor::parse_http_date);
    if ims.is_some_and(|ims| last_modified <= ims) {
        h.remove(header::LAST_MODIFIED);
    }
    h
}

/// The headers of a 304 at `position`, as a 200 would carry them (no `A-IM`).
fn position_headers(
    log: &dyn Log,
    position: u64,
    last_modified: u64,
    vary: HeaderValue,
) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(4);
    h.insert(header::VARY, vary);
    h.insert(header::CACHE_CONTROL, NO_STORE);
    set_position(&mut h, log.epoch(), position, last_modified);
    h
}

fn not_modified(mut h: HeaderMap, im: bool) -> Res {
    if im {
        h.insert(header::CACHE_CONTROL, CACHE_IM);
    }
    respond(StatusCode::NOT_MODIFIED, h, Bytes::new())
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
mod headers;
mod query;
#[cfg(test)]
mod tests;
