//! `GET|HEAD /feeds/{feed}/items/{id}`: the item's current JSON as a
//! cacheable representation of its own (PROTOCOL §3 Caches).
//!
//! - `ETag` = `"EPOCH.SEQ"`, the position of the transaction that set the
//!   item's current state: it changes with every change of the item (an
//!   identical PUT appends nothing, so it keeps its tag) and never repeats
//!   within the feed's log (a re-created log has a new epoch).
//! - `Last-Modified` = that transaction's stamp (whole seconds).
//! - `Cache-Control: no-cache`: caches may store it but must revalidate.
//! - `If-None-Match` (a list, `W/` tags compared weakly, `*`) and, only
//!   without it, `If-Modified-Since` answer `304 Not Modified` with the
//!   same `ETag`, `Last-Modified` and `Cache-Control` (RFC 9110 §13.1).
//!   A date answers 304 only once its second has ended: a second change in
//!   the same second would otherwise hide behind the first one's date.

use super::Body;
use super::{etag_header, feed, http_date, json, Res};
use crate::app::App;
use crate::cursor::{parse_http_date, parse_tag, tags};
use crate::error::ApiError;
use crate::ingest;
use bytes::Bytes;
use hyper::header::{
    HeaderMap, HeaderValue, CACHE_CONTROL, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use hyper::{Response, StatusCode};

const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

pub async fn get_item(
    app: &App,
    headers: &HeaderMap,
    name: &str,
    id: &str,
) -> Result<Res, ApiError> {
    let feed = feed(app, name)?;
    if let Some(upstream) = feed.upstream() {
        // As for a feed read: a due sync runs first (bounded wait).
        Box::pin(upstream.before_read()).await;
    }
    let log = feed.log();
    super::write::check_id(id)?;
    let state = log
        .item(id)
        .await?
        .ok_or_else(|| ApiError::ItemNotFound(id.to_string()))?;
    let etag = etag_header(log.epoch(), state.seq);
    let last_modified = HeaderValue::from_str(&http_date(state.stamp)).ok();
    let now = app.clock().now_ms() / 1000;
    let mut res = if not_modified(headers, log.epoch(), state.seq, state.stamp / 1000, now) {
        let mut res = Response::new(Body::full(Bytes::new()));
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        json(StatusCode::OK, &ingest::item_json(id, &state.payload))
    };
    let h = res.headers_mut();
    h.insert(ETAG, etag);
    if let Some(v) = last_modified {
        h.insert(LAST_MODIFIED, v);
    }
    h.insert(CACHE_CONTROL, NO_CACHE);
    Ok(res)
}

/// Does the request's precondition say the client holds the state set at
/// `seq` (stamped in Unix second `second`)? `now` is the current Unix second.
fn not_modified(headers: &HeaderMap, epoch: &str, seq: u64, second: u64, now: u64) -> bool {
    let text = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    let inm: Vec<String> = headers.get_all(IF_NONE_MATCH).iter().map(text).collect();
    if !inm.is_empty() {
        // Several lines are one list (RFC 9110 §5.3); a `*` matches any
        // current representation.
        return inm.iter().any(|list| {
            list.split(',').any(|t| t.trim() == "*")
                || tags(list)
                    .filter_map(parse_tag)
                    .any(|p| p.epoch == epoch && p.seq == seq)
        });
    }
    match headers.get(IF_MODIFIED_SINCE).map(text) {
        Some(date) => parse_http_date(&date).is_some_and(|ims| second <= ims && ims < now),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    // 2024-05-01T12:00:00Z
    const S: u64 = 1_714_564_800;
    const DATE: &str = "Wed, 01 May 2024 12:00:00 GMT";

    #[test]
    fn entity_tags() {
        let nm = |pairs: &[(&str, &str)]| not_modified(&h(pairs), "ep", 7, S, S + 10);
        assert!(nm(&[("if-none-match", "\"ep.7\"")]));
        assert!(nm(&[("if-none-match", "W/\"ep.7\"")]));
        assert!(nm(&[("if-none-match", "\"x.1\", \"ep.7\"")]));
        assert!(nm(&[
            ("if-none-match", "\"x.1\""),
            ("if-none-match", "\"ep.7\"")
        ]));
        assert!(nm(&[("if-none-match", "*")]));
        assert!(!nm(&[("if-none-match", "\"ep.6\"")]));
        assert!(!nm(&[("if-none-match", "\"ep.8\"")]));
        assert!(!nm(&[("if-none-match", "\"other.7\"")]));
        assert!(!nm(&[("if-none-match", "garbage")]));
        assert!(!nm(&[]));
        // If-None-Match present: If-Modified-Since is ignored.
        assert!(!nm(&[
            ("if-none-match", "\"ep.6\""),
            ("if-modified-since", DATE)
        ]));
    }

    #[test]
    fn dates() {
        let ims = |date: &str, now: u64| {
            not_modified(&h(&[("if-modified-since", date)]), "ep", 7, S, now)
        };
        assert!(ims(DATE, S + 1));
        assert!(ims("Wed, 01 May 2024 12:00:05 GMT", S + 10));
        assert!(ims("Wednesday, 01-May-24 12:00:00 GMT", S + 1)); // RFC 850
        assert!(!ims("Wed, 01 May 2024 11:59:59 GMT", S + 10)); // changed since
        assert!(!ims(DATE, S)); // the second has not ended
        assert!(!ims("Wed, 01 May 2024 12:00:20 GMT", S + 10)); // in the future
        assert!(!ims("yesterday", S + 10));
    }
}
