//! `[feeds.NAME.content]`: whether a feed's enclosures are mirrored, from
//! which origins, and the limits. Off unless `mirror = true`.

use crate::setting::{duration, ConfigError};
use crate::websub::config::origin_of;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    pub mirror: bool,
    /// Origins (`scheme://host[:port]`) files may be fetched from; nothing else is contacted.
    pub allow: Vec<String>,
    /// Largest file fetched; a larger one is left at its origin and reported.
    pub max_bytes: u64,
    /// Most bytes this feed's files may take together (shared files count once per feed).
    pub max_total_bytes: u64,
    /// Downloads of this feed at once.
    pub concurrency: usize,
    /// Time a download may take.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// The first retry's delay after a failed download; it doubles up to `retry_max`.
    #[serde(with = "duration")]
    pub retry_min: Duration,
    #[serde(with = "duration")]
    pub retry_max: Duration,
    /// Attempts before a file is given up on (until the item changes or a restart).
    pub attempts: u32,
}

impl Default for ContentConfig {
    fn default() -> Self {
        ContentConfig {
            mirror: false,
            allow: Vec::new(),
            max_bytes: 512 << 20,
            max_total_bytes: 10 << 30,
            concurrency: 2,
            timeout: Duration::from_secs(600),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            attempts: 8,
        }
    }
}

impl ContentConfig {
    /// May a file at `url` be fetched?
    pub fn allows(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| self.allow.contains(&o))
    }

    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if !self.mirror {
            return Ok(());
        }
        if self.allow.is_empty() {
            return Err(ConfigError::invalid(
                format!("{key}.allow"),
                "mirror = true needs the origins files may come from, e.g. [\"https://media.example.org\"]",
            ));
        }
        for origin in &self.allow {
            if origin_of(origin).as_deref() != Some(origin.as_str()) {
                return Err(ConfigError::invalid(
                    format!("{key}.allow"),
                    format!("{origin:?} is not an origin: write scheme://host[:port]"),
                ));
            }
        }
        let positive = [
            ("max_bytes", self.max_bytes > 0),
            ("max_total_bytes", self.max_total_bytes >= self.max_bytes),
            ("concurrency", self.concurrency > 0),
            ("timeout", !self.timeout.is_zero()),
            (
                "retry_min",
                !self.retry_min.is_zero() && self.retry_min <= self.retry_max,
            ),
            ("attempts", self.attempts > 0),
        ];
        for (name, ok) in positive {
            if !ok {
                return Err(ConfigError::invalid(
                    format!("{key}.{name}"),
                    "must be above 0 (max_total_bytes at least max_bytes, retry_min at most retry_max)",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_origins_are_fetched() {
        let c = ContentConfig {
            mirror: true,
            allow: vec!["https://media.example.org".into()],
            ..ContentConfig::default()
        };
        assert!(c.allows("https://media.example.org/a.mp3"));
        assert!(c.allows("HTTPS://Media.Example.org/a.mp3"));
        assert!(!c.allows("https://media.example.org.evil/a.mp3"));
        assert!(!c.allows("http://media.example.org/a.mp3"));
        assert!(!c.allows("ftp://media.example.org/a"));
        assert!(c.validate("feeds.news.content").is_ok());
    }

    #[test]
    fn mirroring_needs_origins_and_sane_limits() {
        let on = |f: fn(&mut ContentConfig)| {
            let mut c = ContentConfig {
                mirror: true,
                allow: vec!["https://m.example".into()],
                ..ContentConfig::default()
            };
            f(&mut c);
            c.validate("k").is_err()
        };
        assert!(on(|c| c.allow.clear()));
        assert!(on(|c| c.allow = vec!["https://m.example/path".into()]));
        assert!(on(|c| c.max_bytes = 0));
        assert!(on(|c| c.max_total_bytes = 1));
        assert!(on(|c| c.concurrency = 0));
        assert!(!on(|_| {}));
        assert!(
            ContentConfig::default().validate("k").is_ok(),
            "off needs nothing"
        );
    }
}
