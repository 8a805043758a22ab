//! `GET|HEAD /feeds/{feed}`: validators and query in, 304 or a rendered page
//! out, with the headers of PROTOCOL §3 (ETag, Last-Modified, Cache-Control,
//! Vary, Link, IM).

use super::{etag_header, feed, http_date, Res};
use crate::app::App;
use crate::cursor::{self, Validators};
use crate::error::ApiError;
use crate::protocol::{self, Limits, LogView, Plan};
use crate::render::{self, Document, Format, SyncMode};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::borrow::Cow;

const VARY: HeaderValue =
    HeaderValue::from_static("Accept, A-IM, If-None-Match, If-Modified-Since");
const CACHE_PLAIN: HeaderValue = HeaderValue::from_static("private, no-cache");
const CACHE_IM: HeaderValue = HeaderValue::from_static("no-store, im");
const IM: HeaderName = HeaderName::from_static("im");
const A_IM: HeaderName = HeaderName::from_static("a-im");

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

pub async fn feed_response(
    app: &App,
    req: &Request<hyper::body::Incoming>,
    name: &str,
    suffix: Option<Format>,
    who: Option<&crate::auth::Credential>,
) -> Result<Res, ApiError> {
    if let Some(upstream) = app.upstreams.get(name) {
        // An upstream feed syncs first when its last sync is older than
        // `refresh` (cheap when it is not), waiting at most `wait`.
        upstream.before_read().await;
    }
    let (log, info) = feed(app, name)?;
    let q = Query::parse(req.uri().query().unwrap_or(""));
    let headers = req.headers();
    let format = match (suffix, q.format.as_deref()) {
        (Some(f), _) => f,
        (None, Some("atom")) => Format::Atom,
        (None, Some("rss")) => Format::Rss,
        (None, Some(other)) => {
            return Err(ApiError::InvalidParameter(format!(
                "format {other:?}: use rss or atom"
            )))
        }
        (None, None) => negotiate(headers.get(header::ACCEPT)),
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
    let text = |h: header::HeaderName| headers.get(h).map(|v| v.to_str().unwrap_or(""));
    let validators = Validators {
        if_none_match: text(header::IF_NONE_MATCH),
        etag: q.etag.as_deref(),
        if_modified_since: text(header::IF_MODIFIED_SINCE),
        last_mod: q.last_mod.as_deref(),
    };
    let now = app.clock.now_ms();
    let cursor = cursor::resolve(&validators, log.epoch(), log.head(), now / 1000);
    let limits = Limits {
        max_entries: limit,
        max_bytes: app.config.max_page_bytes,
    };
    let plan = protocol::plan(log.as_ref(), cursor, now, limits)?;
    app.metrics.feed_read(name, format, &plan);
    let from = headers.get(header::FROM);
    if let Some(consumer) = crate::consumers::identify(who, q.consumer.as_deref(), from) {
        app.consumers.record(log, consumer, cursor, &plan, now);
    }
    let im = headers
        .get_all(A_IM)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("feed")
        });

    let mut h = HeaderMap::with_capacity(8);
    h.insert(header::VARY, VARY);
    h.insert(
        header::CACHE_CONTROL,
        if im { CACHE_IM } else { CACHE_PLAIN },
    );
    let page = match plan {
        Plan::NotModified { position } => {
            set_position(&mut h, log.epoch(), position, log.stamp_of(position)?);
            return Ok(respond(StatusCode::NOT_MODIFIED, h, Bytes::new()));
        }
        Plan::Page(page) => page,
    };
    set_position(&mut h, log.epoch(), page.last, page.last_stamp);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let status = if im {
        h.insert(IM, HeaderValue::from_static("feed"));
        StatusCode::IM_USED
    } else {
        StatusCode::OK
    };

    let base = base_url(app, headers);
    let feed_url = format!("{base}/feeds/{name}");
    // Secrets never go into documents: the self link drops `access_token`
    // (and next links never carry it; such consumers add it themselves).
    let self_url = format!("{base}{}", without_access_token(req.uri()));
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
    let body = render::render(format, &doc);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    Ok(respond(status, h, body))
}

fn respond(status: StatusCode, headers: HeaderMap, body: Bytes) -> Res {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// Path and query of `uri` minus any `access_token` parameter.
fn without_access_token(uri: &hyper::Uri) -> Cow<'_, str> {
    let Some(query) = uri.query() else {
        return Cow::Borrowed(uri.path());
    };
    if !query.contains("access_token") {
        return Cow::Borrowed(uri.path_and_query().map_or(uri.path(), |p| p.as_str()));
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.starts_with("access_token=") && *kv != "access_token")
        .collect();
    if kept.is_empty() {
        Cow::Borrowed(uri.path())
    } else {
        Cow::Owned(format!("{}?{}", uri.path(), kept.join("&")))
    }
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

/// Atom when the client prefers `application/atom+xml` to every RSS-ish type; RSS otherwise.
fn negotiate(accept: Option<&HeaderValue>) -> Format {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Format::Rss;
    };
    let (mut atom, mut rss) = (0.0f32, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/atom+xml" => atom = atom.max(q),
            "application/rss+xml"
            | "application/xml"
            | "text/xml"
            | "*/*"
            | "application/*"
            | "text/*" => rss = rss.max(q),
            _ => {}
        }
    }
    if atom > rss {
        Format::Atom
    } else {
        Format::Rss
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(s: &str) -> Format {
        negotiate(Some(&HeaderValue::from_str(s).unwrap()))
    }

    #[test]
    fn content_negotiation() {
        assert_eq!(negotiate(None), Format::Rss);
        assert_eq!(accept("application/atom+xml"), Format::Atom);
        assert_eq!(
            accept("application/rss+xml, application/atom+xml"),
            Format::Rss
        );
        assert_eq!(
            accept("application/atom+xml, application/rss+xml;q=0.9"),
            Format::Atom
        );
        assert_eq!(
            accept("application/rss+xml;q=0.5, application/atom+xml;q=0.8"),
            Format::Atom
        );
        assert_eq!(accept("text/html, */*;q=0.1"), Format::Rss);
        assert_eq!(accept("application/atom+xml;q=0, */*"), Format::Rss);
    }

    #[test]
    fn self_links_drop_access_tokens() {
        let uri = |s: &str| s.parse::<hyper::Uri>().unwrap();
        assert_eq!(
            without_access_token(&uri("/feeds/a?access_token=x&etag=e.1")),
            "/feeds/a?etag=e.1"
        );
        assert_eq!(
            without_access_token(&uri("/feeds/a?access_token=x")),
            "/feeds/a"
        );
        assert_eq!(
            without_access_token(&uri("/feeds/a?etag=e.1")),
            "/feeds/a?etag=e.1"
        );
        assert_eq!(without_access_token(&uri("/feeds/a")), "/feeds/a");
    }

    #[test]
    fn query_parameters() {
        let q = Query::parse(
            "etag=e.5&lastMod=2024-01-01T00%3A00%3A00%2B01%3A00&limit=3&x=y&format=atom",
        );
        assert_eq!(q.etag.as_deref(), Some("e.5"));
        assert_eq!(q.last_mod.as_deref(), Some("2024-01-01T00:00:00+01:00"));
        assert_eq!(
            (q.limit.as_deref(), q.format.as_deref()),
            (Some("3"), Some("atom"))
        );
    }
}
