//! Unit tests of the feed read edge: negotiation, self links, query parsing.

use super::headers::negotiate;
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
fn query_parameters() {
    let q =
        Query::parse("etag=e.5&lastMod=2024-01-01T00%3A00%3A00%2B01%3A00&limit=3&x=y&format=atom");
    assert_eq!(q.etag.as_deref(), Some("e.5"));
    assert_eq!(q.last_mod.as_deref(), Some("2024-01-01T00:00:00+01:00"));
    assert_eq!(
        (q.limit.as_deref(), q.format.as_deref()),
        (Some("3"), Some("atom"))
    );
}

#[test]
fn read_headers_take_first_values_all_if_none_match_lines_and_any_a_im_feed() {
    let mut h = HeaderMap::new();
    h.insert(header::HOST, HeaderValue::from_static("t"));
    h.append(header::IF_NONE_MATCH, HeaderValue::from_static("\"e.1\""));
    h.append(header::IF_NONE_MATCH, HeaderValue::from_static("\"e.2\""));
    h.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/atom+xml"),
    );
    h.insert(header::FROM, HeaderValue::from_static("billing"));
    h.append("a-im", HeaderValue::from_static("vcdiff"));
    h.append("A-IM", HeaderValue::from_static("gzip, Feed;q=1"));
    let r = ReadHeaders::of(&h);
    // Several If-None-Match lines are one list (RFC 9110 §5.3).
    assert_eq!(r.if_none_match.as_deref(), Some("\"e.1\", \"e.2\""));
    assert_eq!(r.accept, h.get(header::ACCEPT));
    assert_eq!(r.from, h.get(header::FROM));
    assert_eq!(r.if_modified_since, None);
    assert!(r.im);
    let mut plain = HeaderMap::new();
    plain.insert("a-im", HeaderValue::from_static("vcdiff, feedx"));
    let r = ReadHeaders::of(&plain);
    assert!(!r.im && r.accept.is_none() && r.if_none_match.is_none());
}
