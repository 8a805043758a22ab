//! The `upstream` table of a feed (PROTOCOL §6, §8): where the origin is, what
//! it speaks, how often and how patiently to ask it, and the safety limits of
//! a sync. Typed, with defaults for everything but `url` and `format`,
//! unknown keys rejected, and [`UpstreamConfig::validate`] for what serde
//! cannot check, with errors that name the key.

use crate::setting::ConfigError;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// What the origin serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// A JSON array of item objects, or an object holding one under `items_key`.
    Json,
    /// An RSS 2.0 channel; `guid` (else `link`) is the item id.
    Rss,
    /// An Atom 1.0 feed; `id` is the item id.
    Atom,
    /// Another feedgate feed, followed incrementally through its ETag protocol.
    Feedgate,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Json => "json",
            SourceFormat::Rss => "rss",
            SourceFormat::Atom => "atom",
            SourceFormat::Feedgate => "feedgate",
        }
    }
}

/// A feed's upstream origin. Example:
/// `upstream = { url = "http://127.0.0.1:9000/items.json", format = "json", refresh = "5s" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The origin's URL (http or https), or a path (`/feeds/news`): a feed
    /// of this gateway itself, reached at its own listen address
    /// ([`UpstreamConfig::resolved`]).
    pub url: String,
    pub format: SourceFormat,
    /// A consumer read syncs first when the last sync ended longer ago than
    /// this; `"0s"` syncs on every read (still one fetch for concurrent reads).
    #[serde(default = "d_refresh", with = "crate::setting::duration")]
    pub refresh: Duration,
    /// How long a consumer read waits for a sync before it is answered from the log.
    #[serde(default = "d_wait", with = "crate::setting::duration")]
    pub wait: Duration,
    /// Optional background sync interval (also syncs once at start).
    #[serde(default, with = "crate::setting::opt_duration")]
    pub interval: Option<Duration>,
    /// Limit of one whole request, body included.
    #[serde(default = "d_timeout", with = "crate::setting::duration")]
    pub timeout: Duration,
    #[serde(default = "d_connect", with = "crate::setting::duration")]
    pub connect_timeout: Duration,
    /// Largest response body (after gzip decoding).
    #[serde(default = "d_max_bytes")]
    pub max_bytes: usize,
    #[serde(default = "d_redirects")]
    pub max_redirects: usize,
    /// A sync that would delete more than this share of the feed's items is refused
    /// (1.0 turns the guard off).
    #[serde(default = "d_ratio")]
    pub max_delete_ratio: f64,
    /// `feedgate` format: most pages read in one sync (the rest comes next sync).
    #[serde(default = "d_pages")]
    pub max_pages: usize,
    /// Extra request headers, e.g. `{ Authorization = "Bearer …" }`; never logged.
    #[serde(default)]
    pub headers: Headers,
    /// `json` format: the key (dotted path) of the array when the body is an object.
    #[serde(default)]
    pub items_key: Option<String>,
    /// `json` format: the field (dotted path) holding the item id.
    #[serde(default)]
    pub id_field: Option<String>,
    /// `json` format: payload field → source field (dotted path).
    #[serde(default)]
    pub fields: FieldMap,
}

/// `json` format: where each payload field comes from (default: the field of the same name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    pub title: Option<String>,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub content_type: Option<String>,
    pub author: Option<String>,
    pub categories: Option<String>,
    pub enclosures: Option<String>,
    pub published: Option<String>,
}

impl FieldMap {
    /// (payload field, source path) for every payload field.
    pub fn pairs(&self) -> [(&'static str, &str); 9] {
        [
            ("title", self.title.as_deref().unwrap_or("title")),
            ("link", self.link.as_deref().unwrap_or("link")),
            ("summary", self.summary.as_deref().unwrap_or("summary")),
            ("content", self.content.as_deref().unwrap_or("content")),
            (
                "content_type",
                self.content_type.as_deref().unwrap_or("content_type"),
            ),
            ("author", self.author.as_deref().unwrap_or("author")),
            (
                "categories",
                self.categories.as_deref().unwrap_or("categories"),
            ),
            (
                "enclosures",
                self.enclosures.as_deref().unwrap_or("enclosures"),
            ),
            (
                "published",
                self.published.as_deref().unwrap_or("published"),
            ),
        ]
    }
}

/// Extra request headers. `Debug` shows the names only, so a logged config
/// never carries a credential.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Headers(pub BTreeMap<String, String>);

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

fn d_refresh() -> Duration {
    Duration::from_secs(30)
}
fn d_wait() -> Duration {
    Duration::from_secs(2)
}
fn d_timeout() -> Duration {
    Duration::from_secs(10)
}
fn d_connect() -> Duration {
    Duration::from_secs(5)
}
fn d_max_bytes() -> usize {
    16 << 20
}
fn d_redirects() -> usize {
    5
}
fn d_ratio() -> f64 {
    0.5
}
fn d_pages() -> usize {
    1000
}

impl UpstreamConfig {
    /// Check what serde cannot; `key` is the table's path (`feeds.NAME.upstream`).
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let invalid =
            |field: &str, message: String| ConfigError::invalid(format!("{key}.{field}"), message);
        // A path is checked as it will be fetched (`resolved`).
        let url = match self.url.starts_with('/') {
            true => reqwest::Url::parse(&format!("http://localhost{}", self.url)),
            false => reqwest::Url::parse(&self.url),
        }
        .map_err(|e| invalid("url", e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("url", "must be an http or https URL".into()));
        }
        if !(0.0..=1.0).contains(&self.max_delete_ratio) {
            return Err(invalid(
                "max_delete_ratio",
                "must be between 0.0 and 1.0".into(),
            ));
        }
        for (field, zero) in [
            ("timeout", self.timeout.is_zero()),
            ("connect_timeout", self.connect_timeout.is_zero()),
            ("max_bytes", self.max_bytes == 0),
            ("max_pages", self.max_pages == 0),
            ("interval", self.interval.is_some_and(|d| d.is_zero())),
        ] {
            if zero {
                return Err(invalid(field, "must be greater than 0".into()));
            }
        }
        for (name, value) in &self.headers.0 {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid("headers", format!("{name:?} is not a header name")))?;
            // The value is not repeated in the message: it may be a credential.
            HeaderValue::from_str(value)
                .map_err(|_| invalid("headers", format!("the value of {name} is not valid")))?;
        }
        if self.format != SourceFormat::Json {
            let json_only = [
                ("items_key", self.items_key.is_some()),
                ("id_field", self.id_field.is_some()),
                ("fields", self.fields != FieldMap::default()),
            ];
            if let Some((field, _)) = json_only.iter().find(|(_, set)| *set) {
                return Err(invalid(field, "only applies to format = \"json\"".into()));
            }
        }
        Ok(())
    }

    /// This table with a path `url` (a feed of this gateway) made absolute:
    /// `http://`, the address the gateway listens on (`listen`; an
    /// unspecified address, `0.0.0.0` or `::`, is reached through loopback),
    /// then the path. So the demo's replica follows the demo wherever
    /// `--listen` puts it. An absolute `url` is kept as it is.
    pub fn resolved(&self, listen: SocketAddr) -> UpstreamConfig {
        let mut up = self.clone();
        if up.url.starts_with('/') {
            let ip = match listen.ip() {
                IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                ip => ip,
            };
            up.url = format!("http://{}{}", SocketAddr::new(ip, listen.port()), up.url);
        }
        up
    }

    /// A path `url` (a feed of this gateway, the table of feed `name`)
    /// needs a fixed `listen` port to be reached at, and must name another
    /// feed of the config (`exists`).
    pub fn check_own(
        &self,
        name: &str,
        listen: SocketAddr,
        exists: impl Fn(&str) -> bool,
    ) -> Result<(), ConfigError> {
        let path = &self.url;
        if !path.starts_with('/') {
            return Ok(());
        }
        let key = format!("feeds.{name}.upstream.url");
        if listen.port() == 0 {
            return Err(ConfigError::invalid(
                key,
                format!("{path:?} names a feed of this gateway, which needs a fixed listen port (not 0)"),
            ));
        }
        let target = path
            .split(['?', '#'])
            .next()
            .and_then(|p| p.strip_prefix("/feeds/"))
            .map(|f| f.trim_end_matches(".rss").trim_end_matches(".atom"));
        match target {
            Some(f) if f == name => Err(ConfigError::invalid(key, "a feed cannot follow itself")),
            Some(f) if exists(f) => Ok(()),
            _ => Err(ConfigError::invalid(
                key,
                format!("{path:?}: a path names a feed of this gateway, /feeds/NAME with NAME one of [feeds]"),
            )),
        }
    }

    /// What a stored sync state depends on besides the origin's answers: a
    /// change of these (another URL, another mapping) invalidates validators
    /// and positions, so the next sync reads everything again.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{:?}|{:?}|{:?}",
            self.format.as_str(),
            self.url,
            self.items_key,
            self.id_field,
            self.fields
        )
    }
}

#[cfg(test)]
mod tests;
