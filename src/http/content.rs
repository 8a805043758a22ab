//! `GET|HEAD /content/{sha256}`: a mirrored file (`crate::content`), with
//! its hash as a strong ETag, byte ranges (RFC 9110 §14: one range per
//! request, `If-Range`), and a year of `immutable` caching: the same URL
//! always names the same bytes. Reading it needs `read` on a feed whose
//! items reference it.

use super::{credentials, Body, Res};
use crate::app::App;
use crate::content::Object;
use crate::error::ApiError;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::io::{Read, Seek, SeekFrom};

/// Bytes a streamed body sends a frame.
const CHUNK: usize = 256 * 1024;
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// Which bytes to send.
#[derive(Debug, PartialEq, Eq)]
pub enum Span {
    Whole,
    /// `first..=last`.
    Part(u64, u64),
    Unsatisfiable,
}

/// The span a `Range` value asks of a `len`-byte file. A value that is not
/// one `bytes` range (another unit, several ranges, nonsense) is ignored,
/// as RFC 9110 §14.2 allows: the whole file.
pub fn span(range: Option<&str>, len: u64) -> Span {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Span::Whole;
    };
    if spec.contains(',') {
        return Span::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Span::Whole;
    };
    let num = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), num(first), num(last)) {
        // `bytes=-N`: the last N bytes.
        (true, _, Some(n)) if n > 0 && len > 0 => Span::Part(len.saturating_sub(n), len - 1),
        (true, _, Some(_)) => Span::Unsatisfiable,
        (false, Some(a), _) if a >= len => Span::Unsatisfiable,
        (false, Some(a), None) if last.trim().is_empty() => Span::Part(a, len - 1),
        (false, Some(a), Some(b)) if b >= a => Span::Part(a, b.min(len - 1)),
        _ => Span::Whole,
    }
}

/// The answer to `GET`/`HEAD /content/{sha256}`.
pub async fn get(app: &App, req: &Request<Incoming>, sha256: &str) -> Result<Res, ApiError> {
    let store = app.content().ok_or(ApiError::NotFound)?.clone();
    let key = sha256.to_string();
    let object = tokio::task::spawn_blocking(move || store.get(&key))
        .await
        .ok()
        .flatten()
        .ok_or(ApiError::NotFound)?;
    authorize(app, req, &object)?;
    let etag = format!("\"{}\"", object.sha256);
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, IMMUTABLE);
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    let value = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    // Every If-None-Match line counts (a list may be split over several).
    let inm = req.headers().get_all(header::IF_NONE_MATCH).iter();
    if inm
        .filter_map(|v| v.to_str().ok())
        .any(|v| matches_etag(v, &etag))
    {
        return Ok(respond(StatusCode::NOT_MODIFIED, h, Body::empty()));
    }
    let len = object.meta.length;
    // A range of another version (If-Range with another validator) is the whole file.
    let range = match value(header::IF_RANGE) {
        Some(v) if v.trim() != etag => None,
        _ => value(header::RANGE),
    };
    let (status, first, count) = match span(range, len) {
        Span::Whole => (StatusCode::OK, 0, len),
        Span::Part(a, b) => {
            let v = format!("bytes {a}-{b}/{len}");
            h.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&v).map_err(bad)?,
            );
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        Span::Unsatisfiable => {
            let v = format!("bytes */{len}");
            h.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&v).map_err(bad)?,
            );
            return Ok(respond(StatusCode::RANGE_NOT_SATISFIABLE, h, Body::empty()));
        }
    };
    if let Ok(v) = HeaderValue::from_str(&object.meta.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    let body = if req.method() == Method::HEAD {
        Body::empty()
    } else {
        stream(object, first, count)
    };
    Ok(respond(status, h, body))
}

fn bad(_: header::InvalidHeaderValue) -> ApiError {
    ApiError::BadRequest("cannot write the range".into())
}

/// Does an `If-None-Match` list name `etag` (or `*`)? Weak comparison, as RFC 9110 §13.1.2 says.
fn matches_etag(inm: &str, etag: &str) -> bool {
    inm.split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// With credentials, `read` on one of the feeds that reference the file.
fn authorize(app: &App, req: &Request<Incoming>, object: &Object) -> Result<(), ApiError> {
    if !app.auth().enabled() {
        return Ok(());
    }
    let (header, token) = credentials(req);
    let who = app.auth().authenticate(header, token.as_deref())?;
    if object
        .meta
        .feeds
        .iter()
        .any(|f| app.auth().can_read(who, f))
    {
        return Ok(());
    }
    Err(match who {
        None => ApiError::Unauthorized("this file needs credentials".into()),
        Some(_) => ApiError::Forbidden("no feed you may read references this file".into()),
    })
}

/// `count` bytes of the file from `first`, read on the blocking pool a
/// chunk at a time: memory stays a few chunks per download, whatever the
/// file's size (the channel holds two).
fn stream(object: Object, first: u64, count: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
    tokio::task::spawn_blocking(move || {
        let Ok(mut f) = std::fs::File::open(&object.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(first)).is_err() {
            return;
        }
        let mut left = count;
        while left > 0 {
            let mut buf = vec![0u8; CHUNK.min(usize::try_from(left).unwrap_or(CHUNK))];
            match f.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    if tx.blocking_send(Bytes::from(buf)).is_err() {
                        return; // the client went away
                    }
                }
            }
        }
    });
    Body::Stream(rx)
}

fn respond(status: StatusCode, headers: HeaderMap, body: Body) -> Res {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_rfc_9110_reads_them() {
        assert_eq!(span(None, 10), Span::Whole);
        assert_eq!(span(Some("bytes=0-3"), 10), Span::Part(0, 3));
        assert_eq!(span(Some("bytes=4-"), 10), Span::Part(4, 9));
        assert_eq!(span(Some("bytes=-3"), 10), Span::Part(7, 9));
        assert_eq!(span(Some("bytes=-30"), 10), Span::Part(0, 9));
        assert_eq!(span(Some("bytes=5-100"), 10), Span::Part(5, 9));
        assert_eq!(span(Some("bytes=10-"), 10), Span::Unsatisfiable);
        assert_eq!(span(Some("bytes=-0"), 10), Span::Unsatisfiable);
        assert_eq!(span(Some("bytes=0-"), 0), Span::Unsatisfiable);
        // Ignored: the whole file.
        assert_eq!(span(Some("bytes=0-1,4-5"), 10), Span::Whole);
        assert_eq!(span(Some("items=0-1"), 10), Span::Whole);
        assert_eq!(span(Some("bytes=5-2"), 10), Span::Whole);
        assert_eq!(span(Some("bytes=x-"), 10), Span::Whole);
        assert_eq!(span(Some("bytes=-"), 10), Span::Whole);
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let e = "\"ab\"";
        assert!(matches_etag("\"ab\"", e));
        assert!(matches_etag("W/\"ab\"", e));
        assert!(matches_etag("\"x\", \"ab\"", e));
        assert!(matches_etag("*", e));
        assert!(!matches_etag("\"abc\"", e));
    }
}
