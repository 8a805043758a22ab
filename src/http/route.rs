//! Routing: the resource a request path names ([`Route`]), by path shape,
//! without allocating (segments are borrowed from the path; only an item id
//! with percent-escapes is decoded into a new string).

use crate::error::ApiError;
use crate::render::Format;
use std::borrow::Cow;

/// The resources, by path shape.
pub enum Route<'a> {
    Healthz,
    Readyz,
    Metrics,
    Feeds,
    Feed(&'a str, Option<Format>),
    Items(&'a str),
    Item(&'a str, Cow<'a, str>),
    Consumers(&'a str),
}

impl Route<'_> {
    pub fn allow(&self) -> &'static str {
        match self {
            Route::Healthz
            | Route::Readyz
            | Route::Metrics
            | Route::Feeds
            | Route::Feed(..)
            | Route::Consumers(_) => "GET, HEAD, OPTIONS",
            Route::Items(_) => "POST, OPTIONS",
            Route::Item(..) => "GET, HEAD, PUT, DELETE, OPTIONS",
        }
    }

    /// The `route` label of `feedgate_http_requests_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::Metrics => "metrics",
            Route::Feeds => "feeds",
            Route::Feed(..) => "feed",
            Route::Items(_) => "items",
            Route::Item(..) => "item",
            Route::Consumers(_) => "consumers",
        }
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
        (Some("healthz"), None, ..) => Route::Healthz,
        (Some("readyz"), None, ..) => Route::Readyz,
        (Some("metrics"), None, ..) => Route::Metrics,
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
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(
            parse_route("/feeds/news"),
            Ok(Route::Feed("news", None))
        ));
        assert!(matches!(
            parse_route("/feeds/news.atom"),
            Ok(Route::Feed("news", Some(Format::Atom)))
        ));
        assert!(matches!(
            parse_route("/feeds/news.rss"),
            Ok(Route::Feed("news", Some(Format::Rss)))
        ));
        assert!(matches!(
            parse_route("/feeds/news/items"),
            Ok(Route::Items("news"))
        ));
        assert!(matches!(
            parse_route("/feeds/a.b.atom"),
            Ok(Route::Feed("a.b", Some(Format::Atom)))
        ));
        assert!(matches!(
            parse_route("/feeds/.atom"),
            Ok(Route::Feed("", Some(Format::Atom)))
        ));
        assert!(matches!(parse_route("/feeds"), Ok(Route::Feeds)));
        assert!(matches!(parse_route("/metrics"), Ok(Route::Metrics)));
        assert!(matches!(
            parse_route("/feeds/news/consumers"),
            Ok(Route::Consumers("news"))
        ));
        match parse_route("/feeds/news/items/a%2Fb%20c") {
            Ok(Route::Item("news", id)) => assert_eq!(id, "a/b c"),
            _ => panic!("item route"),
        }
        assert!(matches!(
            parse_route("/feeds/news/items/%FF"),
            Err(ApiError::InvalidParameter(_))
        ));
        for none in [
            "/",
            "/feeds/",
            "/feeds/news/",
            "/feeds/news/items/a/b",
            "/feeds/news/consumers/x",
            "/metrics/x",
            "/other",
        ] {
            assert!(
                matches!(parse_route(none), Err(ApiError::NotFound)),
                "{none}"
            );
        }
    }
}
