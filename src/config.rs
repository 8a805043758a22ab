//! Configuration: typed structs read from TOML, then overridden by
//! `FEEDGATE_*` environment variables (`env`, the one place that maps a
//! variable to its key) and by command-line flags ([`Flags`]), validated once
//! at start with messages that name the key. [`Config::load`] does all of it,
//! for `feedgate serve` and the operator commands alike.
//!
//! Each section owns its types: credentials are `auth`'s, the `upstream`
//! table is `upstream::config`'s; what they share ([`ConfigError`], duration
//! values) is the leaf `crate::setting`.

use crate::auth::CredentialConfig;
use crate::setting::{duration, opt_duration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::setting::ConfigError;

pub mod env;
pub mod print;

/// The whole configuration. Every field has a default, so no file is needed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory of the embedded sled store (the default store).
    pub data_dir: PathBuf,
    /// `postgres://…`: keep the logs in that PostgreSQL database instead
    /// (several processes may share it; PROTOCOL §10). Unset: the embedded
    /// store in `data_dir`.
    pub store: Option<String>,
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
    /// Longest a long-poll may wait (`Prefer: wait=N`, `?wait=N` are capped
    /// at it; PROTOCOL §9).
    #[serde(with = "duration")]
    pub max_wait: Duration,
    /// Most long-polls and event streams waiting at once, beside
    /// `max_connections`; beyond, a long-poll is answered at once and a
    /// stream ends after its backlog.
    pub max_waiting: usize,
    /// Most content downloads at once, every mirrored feed together
    /// (`[feeds.NAME.content] concurrency` bounds each feed's).
    pub content_downloads: usize,
    /// An event stream's comment line when nothing else was sent this long.
    #[serde(with = "duration")]
    pub sse_heartbeat: Duration,
    /// The `retry:` an event stream gives its client (reconnection delay).
    #[serde(with = "duration")]
    pub sse_retry: Duration,
    /// How long an event stream lasts before it ends (the client
    /// reconnects: connections rebalance).
    #[serde(with = "duration")]
    pub sse_lifetime: Duration,
    /// How `serve` writes its log: `text` or `json` (one object per line).
    pub log_format: crate::telemetry::LogFormat,
    /// One `info` line per answered request (target `feedgate::access`).
    pub access_log: bool,
    /// The WebSub hub (`crate::websub`): off unless `allow` names origins.
    pub websub: crate::websub::WebSubConfig,
    pub feeds: BTreeMap<String, FeedConfig>,
    /// Credentials by name; none configured means no authorization.
    pub credentials: BTreeMap<String, CredentialConfig>,
    /// The file this was read from (`None`: no file, defaults).
    #[serde(skip)]
    pub file: Option<PathBuf>,
    /// `FEEDGATE_` variables that name no key: ignored, and logged by
    /// [`Config::warn_ignored`] once the log is set up.
    #[serde(skip)]
    pub ignored: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./feedgate-data"),
            store: None,
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
            max_wait: Duration::from_secs(30),
            max_waiting: 10_000,
            content_downloads: 4,
            sse_heartbeat: Duration::from_secs(15),
            sse_retry: Duration::from_secs(2),
            sse_lifetime: Duration::from_secs(300),
            log_format: crate::telemetry::LogFormat::Text,
            access_log: true,
            websub: crate::websub::WebSubConfig::default(),
            feeds: BTreeMap::new(),
            credentials: BTreeMap::new(),
            file: None,
            ignored: Vec::new(),
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
    /// Mirroring of the files the feed's items point to (`crate::content`).
    pub content: crate::content::ContentConfig,
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

/// The values given on the command line: they win over the environment and
/// the file. (`--config` is not here: it says where the file is.)
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-format`.
    pub log_format: Option<crate::telemetry::LogFormat>,
    /// `--no-access-log` (`Some(false)`).
    pub access_log: Option<bool>,
}

impl Flags {
    fn apply(&self, config: &mut Config) {
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(dir) = &self.data_dir {
            config.data_dir.clone_from(dir);
        }
        if let Some(format) = self.log_format {
            config.log_format = format;
        }
        if let Some(on) = self.access_log {
            config.access_log = on;
        }
    }
}

impl Config {
    /// The configuration as every command uses it: the defaults, then the
    /// TOML `file` (else the one `FEEDGATE_CONFIG` names, else none), then
    /// the `FEEDGATE_*` variables of `env`, then `flags`; validated,
    /// credentials included. Unknown `FEEDGATE_` variables are kept in
    /// `ignored` (the log may not be set up yet: its format is configured).
    ///
    /// `env` is the process environment (`std::env::vars_os()`) in the
    /// binary; tests pass their own.
    pub fn load<K, V>(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (K, V)>,
        flags: &Flags,
    ) -> Result<Config, ConfigError>
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let vars = env::Vars::new(env);
        let file = file.map(Path::to_path_buf).or_else(|| vars.config_file());
        let mut config = match &file {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        config.ignored = vars.apply(&mut config)?;
        flags.apply(&mut config);
        config.validate()?;
        let feeds: Vec<&str> = config.feeds.keys().map(String::as_str).collect();
        crate::auth::Auth::from_config(&config.credentials, &feeds)?;
        Ok(config)
    }

    /// Log the `FEEDGATE_` variables that name no key (a typo in a deployment).
    pub fn warn_ignored(&self) {
        for name in &self.ignored {
            tracing::warn!(variable = %name, "unknown FEEDGATE_ variable ignored");
        }
    }

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
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Where the store is, for messages: the PostgreSQL URL without its
    /// password, or the embedded store's data directory.
    pub fn store_name(&self) -> String {
        match &self.store {
            Some(url) => crate::store::postgres::describe(url),
            None => self.data_dir.display().to_string(),
        }
    }

    /// The feeds with an `upstream` table, and that table as it is fetched
    /// (a path `url`, a feed of this gateway, resolved against `listen`).
    pub fn upstreams(&self) -> impl Iterator<Item = (&str, crate::upstream::UpstreamConfig)> {
        self.feeds.iter().filter_map(|(name, feed)| {
            Some((name.as_str(), feed.upstream.as_ref()?.resolved(self.listen)))
        })
    }

    /// Check what serde cannot: names, ranges, URLs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, feed) in &self.feeds {
            if !crate::model::valid_feed_name(name) {
                return Err(ConfigError::invalid(
                    format!("feeds.{name}"),
                    "feed names must match [a-z0-9][a-z0-9_-]{0,63}",
                ));
            }
            feed.content.validate(&format!("feeds.{name}.content"))?;
            if feed.content.mirror && self.base_url.is_none() {
                return Err(ConfigError::invalid(
                    format!("feeds.{name}.content"),
                    "mirroring needs base_url: items point at {base_url}/content/{sha256}",
                ));
            }
            if let Some(upstream) = &feed.upstream {
                upstream.validate(&format!("feeds.{name}.upstream"))?;
                upstream.check_own(name, self.listen, |f| self.feeds.contains_key(f))?;
                if feed.seed.is_some() {
                    return Err(ConfigError::invalid(
                        format!("feeds.{name}.seed"),
                        "an upstream feed is filled by its origin, not by a seed file",
                    ));
                }
            }
        }
        for (name, feed) in &self.feeds {
            let r = &feed.retention;
            if r.tombstones.is_some() && r.compact_after.is_none_or(|c| Some(c) > r.tombstones) {
                return Err(ConfigError::invalid(
                    format!("feeds.{name}.retention.tombstones"),
                    "needs compact_after, no longer than tombstones (a dropped tombstone takes its item's older states with it)",
                ));
            }
        }
        if self.default_limit == 0 || self.default_limit > self.max_limit {
            return Err(ConfigError::invalid(
                "default_limit",
                "must be between 1 and max_limit",
            ));
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
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        for (key, d) in [
            ("sse_heartbeat", self.sse_heartbeat),
            ("sse_lifetime", self.sse_lifetime),
        ] {
            if d.is_zero() {
                return Err(ConfigError::invalid(key, "must be longer than 0"));
            }
        }
        self.websub.validate("websub")?;
        if let Some(url) = &self.store {
            crate::store::postgres::parse_url(url)
                .map_err(|why| ConfigError::invalid("store", why))?;
        }
        if let Some(url) = &self.base_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && !url.ends_with('/')
                && !url.contains(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>');
            if !ok {
                return Err(ConfigError::invalid(
                    "base_url",
                    "must be an http(s) URL without a trailing slash",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
