//! Configuration: typed structs read from TOML, then overridden by
//! `FEEDGATE_*` environment variables and command-line flags (the binary
//! applies those), validated once at start with messages that name the key.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// The whole configuration. Every field has a default, so no file is needed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory of the embedded sled store.
    pub data_dir: PathBuf,
    /// Public base URL (`https://feeds.example.org`) used in links; by default
    /// `http://` + the request's Host.
    pub base_url: Option<String>,
    /// Page size when the request has no `limit`.
    pub default_limit: usize,
    /// Largest `limit` a request may ask for (larger ones are clamped).
    pub max_limit: usize,
    /// Byte budget of a page's transactions (a page always holds one at least).
    pub max_page_bytes: usize,
    /// Hard cap (transactions, bytes) on a date-selected or catch-up page that
    /// grows beyond the limits to hold a whole second (PROTOCOL §3).
    pub max_second_entries: usize,
    pub max_second_bytes: usize,
    /// Largest request body accepted by the push API.
    pub max_body_bytes: usize,
    /// Memory for rendered pages kept per feed (`http::cache`); 0 turns it off.
    pub page_cache_bytes: usize,
    /// Memory sled may use for its page cache (its own default is 1 GiB).
    pub store_cache_bytes: usize,
    /// Most connections served at once; beyond, the idle one unused longest
    /// is closed, else the newcomer is answered `503` (`server`).
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// Time a client has to send a request body, once its headers arrived.
    #[serde(with = "duration")]
    pub body_read_timeout: Duration,
    /// Memory the push API may use at once for bodies being read, parsed
    /// and applied, by estimate (`ingest::budget`); requests beyond it wait.
    pub ingest_memory_bytes: usize,
    /// Time in-flight requests get to finish on shutdown.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    pub feeds: BTreeMap<String, FeedConfig>,
    /// Credentials by name; none configured means no authorization.
    pub credentials: BTreeMap<String, CredentialConfig>,
}

/// One credential: a bearer token and/or a password for HTTP Basic (the
/// credential's name is the user name), stored as SHA-256 hex digests, and
/// its role per feed (`"*"` for every feed).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialConfig {
    pub token_sha256: Option<String>,
    pub password_sha256: Option<String>,
    pub roles: BTreeMap<String, crate::auth::Role>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./feedgate-data"),
            base_url: None,
            default_limit: 100,
            max_limit: 1000,
            max_page_bytes: 1 << 20,
            max_second_entries: 5000,
            max_second_bytes: 2 << 20,
            max_body_bytes: 1 << 20,
            page_cache_bytes: 4 << 20,
            store_cache_bytes: 16 << 20,
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            ingest_memory_bytes: 128 << 20,
            shutdown_grace: Duration::from_secs(10),
            feeds: BTreeMap::new(),
            credentials: BTreeMap::new(),
        }
    }
}

/// One feed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    pub title: Option<String>,
    pub link: Option<String>,
    pub description: Option<String>,
    /// A JSON file of items (the push API's batch format) applied once, when
    /// the feed's log is still empty: a demo or an initial load.
    pub seed: Option<PathBuf>,
    /// Upstream origin: the feed is derived from it and read-only (`crate::upstream`).
    pub upstream: Option<crate::upstream::UpstreamConfig>,
    /// Retention and compaction (`crate::store::Retention`); keeps everything by default.
    pub retention: RetentionConfig,
    /// Announce deltas to `A-IM: feed` requests (RFC 3229+feed) with `226 IM Used`,
    /// `IM: feed` and `Cache-Control: no-store, im`. Off by default: readers built on
    /// feedparser send `A-IM: feed` and many treat any 2xx but 200 as an error.
    pub im_feed: bool,
}

/// `[feeds.NAME.retention]`: what compaction may remove, and how often it runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Superseded item states older than this are compacted away.
    #[serde(with = "opt_duration")]
    pub compact_after: Option<Duration>,
    /// Superseded states further back than the newest N transactions are compacted away.
    pub keep_latest: Option<u64>,
    /// Delete tombstones older than this are dropped (consumers older than a
    /// dropped tombstone get a catch-up). Unset: kept forever.
    #[serde(with = "opt_duration")]
    pub tombstones: Option<Duration>,
    /// Pause between compaction passes.
    #[serde(with = "duration")]
    pub interval: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            compact_after: None,
            keep_latest: None,
            tombstones: None,
            interval: Duration::from_secs(60),
        }
    }
}

impl RetentionConfig {
    pub fn policy(&self) -> crate::store::Retention {
        crate::store::Retention {
            compact_after: self.compact_after,
            keep_latest: self.keep_latest,
            tombstones: self.tombstones,
        }
    }
}

impl Config {
    /// Read a TOML file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        // Relative seed paths are relative to the config file.
        let base = path.parent().unwrap_or(Path::new("."));
        for feed in config.feeds.values_mut() {
            if let Some(seed) = feed.seed.as_mut().filter(|s| s.is_relative()) {
                *seed = base.join(&*seed);
            }
        }
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Apply `FEEDGATE_<KEY>` overrides for the top-level keys (e.g.
    /// `FEEDGATE_LISTEN`, `FEEDGATE_MAX_BODY_BYTES`, `FEEDGATE_SHUTDOWN_GRACE`).
    /// `FEEDGATE_CONFIG` names the file and is handled by the binary.
    pub fn apply_env<I>(&mut self, vars: I) -> Result<(), ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("FEEDGATE_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let bad = |message: String| ConfigError::Invalid {
                key: name.clone(),
                message,
            };
            let number = || {
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|e| bad(e.to_string()))
            };
            let duration =
                || parse_duration(&value).ok_or_else(|| bad(format!("invalid duration {value:?}")));
            match key.as_str() {
                "config" => {}
                "listen" => self.listen = value.trim().parse().map_err(|e| bad(format!("{e}")))?,
                "data_dir" => self.data_dir = PathBuf::from(&value),
                "base_url" => self.base_url = Some(value.trim().to_string()),
                "default_limit" => self.default_limit = number()?,
                "max_limit" => self.max_limit = number()?,
                "max_page_bytes" => self.max_page_bytes = number()?,
                "max_second_entries" => self.max_second_entries = number()?,
                "max_second_bytes" => self.max_second_bytes = number()?,
                "max_body_bytes" => self.max_body_bytes = number()?,
                "page_cache_bytes" => self.page_cache_bytes = number()?,
                "store_cache_bytes" => self.store_cache_bytes = number()?,
                "max_connections" => self.max_connections = number()?,
                "header_read_timeout" => self.header_read_timeout = duration()?,
                "body_read_timeout" => self.body_read_timeout = duration()?,
                "ingest_memory_bytes" => self.ingest_memory_bytes = number()?,
                "shutdown_grace" => self.shutdown_grace = duration()?,
                _ => tracing::warn!(variable = %name, "unknown FEEDGATE_ variable ignored"),
            }
        }
        Ok(())
    }

    /// Check what serde cannot: names, ranges, URLs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: key.to_string(),
            message: message.to_string(),
        };
        for (name, feed) in &self.feeds {
            if !crate::model::valid_feed_name(name) {
                return Err(invalid(
                    &format!("feeds.{name}"),
                    "feed names must match [a-z0-9][a-z0-9_-]{0,63}",
                ));
            }
            if let Some(upstream) = &feed.upstream {
                upstream.validate(&format!("feeds.{name}.upstream"))?;
                if feed.seed.is_some() {
                    return Err(invalid(
                        &format!("feeds.{name}.seed"),
                        "an upstream feed is filled by its origin, not by a seed file",
                    ));
                }
            }
        }
        for (name, feed) in &self.feeds {
            let r = &feed.retention;
            if r.tombstones.is_some() && r.compact_after.is_none_or(|c| Some(c) > r.tombstones) {
                return Err(invalid(
                    &format!("feeds.{name}.retention.tombstones"),
                    "needs compact_after, no longer than tombstones (a dropped tombstone takes its item's older states with it)",
                ));
            }
        }
        if self.default_limit == 0 || self.default_limit > self.max_limit {
            return Err(invalid("default_limit", "must be between 1 and max_limit"));
        }
        for (key, v) in [
            ("max_page_bytes", self.max_page_bytes),
            ("max_second_entries", self.max_second_entries),
            ("max_second_bytes", self.max_second_bytes),
            ("max_body_bytes", self.max_body_bytes),
            ("max_connections", self.max_connections),
            ("ingest_memory_bytes", self.ingest_memory_bytes),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        if let Some(url) = &self.base_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && !url.ends_with('/')
                && !url.contains(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>');
            if !ok {
                return Err(invalid(
                    "base_url",
                    "must be an http(s) URL without a trailing slash",
                ));
            }
        }
        Ok(())
    }
}

/// Parse durations written as `250ms`, `5s`, `2m`, `1h` (or a bare number of seconds).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        "d" => n.checked_mul(86_400).map(Duration::from_secs),
        _ => None,
    }
}

/// `#[serde(with = …)]` for a duration key (also used by `upstream::config`).
pub(crate) mod duration {
    use serde::{de::Error, Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s)
            .ok_or_else(|| D::Error::custom(format!("invalid duration {s:?} (try \"10s\")")))
    }
}

/// `#[serde(with = …)]` for an optional duration key.
pub(crate) mod opt_duration {
    use serde::Deserializer;
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests;
