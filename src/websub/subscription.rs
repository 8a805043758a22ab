//! A WebSub subscription as the hub keeps it (the record the store holds
//! as opaque bytes, `Backend::hub_records`), and what a topic URL names.
//! Pure.

use crate::render::Format;
use serde::{Deserialize, Serialize};

/// One verified subscription: a callback's interest in a feed, in one
/// format, with the position its deliveries have reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub feed: String,
    pub callback: String,
    /// The topic URL as subscribed (deliveries' `rel="self"`).
    pub topic: String,
    /// `rss` or `atom`: the topic's format, the deliveries' format.
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// When the lease ends (ms since the Unix epoch).
    pub lease_until_ms: u64,
    /// The position delivered so far, in the log of `epoch`.
    pub epoch: String,
    pub position: u64,
}

impl Subscription {
    /// Its key among the hub's records: feed and callback.
    pub fn key(&self) -> String {
        key(&self.feed, &self.callback)
    }

    pub fn format(&self) -> Format {
        if self.format == "atom" {
            Format::Atom
        } else {
            Format::Rss
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Subscription> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The record key of (feed, callback): a callback has no whitespace.
pub fn key(feed: &str, callback: &str) -> String {
    format!("{feed} {callback}")
}

/// The feed and format a topic URL names: an absolute http(s) URL whose
/// path ends in `/feeds/{feed}`, `/feeds/{feed}.rss` or `.atom` (a
/// `format=` parameter counts for a path without a suffix), under
/// `base_url` when one is configured. Other parameters (`etag`, `limit`…)
/// are ignored: a topic is the feed, not a page of it.
pub fn parse_topic(topic: &str, base_url: Option<&str>) -> Option<(String, Format)> {
    super::config::origin_of(topic)?;
    if let Some(base) = base_url {
        if !topic.starts_with(base) {
            return None;
        }
    }
    let rest = &topic[topic.find("://")? + 3..];
    let path_and_query = &rest[rest.find('/')?..];
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_and_query, ""),
    };
    let name = &path[path.rfind("/feeds/")? + "/feeds/".len()..];
    let (name, suffix) = match name.rsplit_once('.') {
        Some((n, "atom")) => (n, Some(Format::Atom)),
        Some((n, "rss")) => (n, Some(Format::Rss)),
        _ => (name, None),
    };
    if !crate::model::valid_feed_name(name) {
        return None;
    }
    let param = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.into_owned());
    let format = suffix.unwrap_or(match param.as_deref() {
        Some("atom") => Format::Atom,
        _ => Format::Rss,
    });
    Some((name.to_string(), format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_name_a_feed_and_a_format() {
        let t = |s: &str| parse_topic(s, None);
        assert_eq!(
            t("http://gw/feeds/news"),
            Some(("news".into(), Format::Rss))
        );
        assert_eq!(
            t("http://gw/feeds/news.atom"),
            Some(("news".into(), Format::Atom))
        );
        assert_eq!(
            t("https://gw:8443/prefix/feeds/news.rss"),
            Some(("news".into(), Format::Rss))
        );
        assert_eq!(
            t("http://gw/feeds/news?etag=abc.3&format=atom"),
            Some(("news".into(), Format::Atom))
        );
        assert_eq!(t("http://gw/feeds/news/items/a"), None);
        assert_eq!(t("http://gw/feeds/"), None);
        assert_eq!(t("ftp://gw/feeds/news"), None);
        assert_eq!(t("/feeds/news"), None);
        let base = Some("https://feeds.example.org");
        assert!(parse_topic("https://feeds.example.org/feeds/news", base).is_some());
        assert!(parse_topic("https://elsewhere.example/feeds/news", base).is_none());
    }

    #[test]
    fn a_record_round_trips() {
        let s = Subscription {
            feed: "news".into(),
            callback: "http://127.0.0.1:9/cb".into(),
            topic: "http://gw/feeds/news.atom".into(),
            format: "atom".into(),
            secret: Some("s".into()),
            lease_until_ms: 5,
            epoch: "e".into(),
            position: 7,
        };
        assert_eq!(Subscription::from_bytes(&s.to_bytes()), Some(s.clone()));
        assert_eq!(s.key(), "news http://127.0.0.1:9/cb");
        assert_eq!(s.format(), Format::Atom);
    }
}
