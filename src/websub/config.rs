//! `[websub]`: the hub's settings. The hub is off unless `allow` names the
//! origins callbacks may be at (feedgate sends requests to nothing else).

use crate::setting::{duration, ConfigError};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSubConfig {
    /// Origins (`scheme://host[:port]`) a callback may be at.
    pub allow: Vec<String>,
    /// The lease of a subscription that asks for none.
    #[serde(with = "duration")]
    pub lease: Duration,
    /// The longest lease granted (longer requests are cut to it).
    #[serde(with = "duration")]
    pub max_lease: Duration,
    /// The first retry's delay after a failed delivery; it doubles up to `retry_max`.
    #[serde(with = "duration")]
    pub retry_min: Duration,
    #[serde(with = "duration")]
    pub retry_max: Duration,
    /// Time a callback has to answer a verification or a delivery.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Most subscriptions the hub keeps (all feeds together).
    pub max_subscriptions: usize,
}

impl Default for WebSubConfig {
    fn default() -> Self {
        WebSubConfig {
            allow: Vec::new(),
            lease: Duration::from_secs(10 * 86_400),
            max_lease: Duration::from_secs(30 * 86_400),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(600),
            timeout: Duration::from_secs(10),
            max_subscriptions: 10_000,
        }
    }
}

impl WebSubConfig {
    /// Is the hub on?
    pub fn enabled(&self) -> bool {
        !self.allow.is_empty()
    }

    /// `allow` entries are origins; the durations make sense together.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        for origin in &self.allow {
            if origin_of(origin).as_deref() != Some(origin.as_str()) {
                return Err(ConfigError::invalid(
                    format!("{key}.allow"),
                    format!("{origin:?} is not an origin: write scheme://host[:port], e.g. \"https://hooks.example.org\""),
                ));
            }
        }
        if self.lease.is_zero() || self.lease > self.max_lease {
            return Err(ConfigError::invalid(
                format!("{key}.lease"),
                "must be longer than 0 and no longer than max_lease",
            ));
        }
        if self.retry_min.is_zero() || self.retry_min > self.retry_max {
            return Err(ConfigError::invalid(
                format!("{key}.retry_min"),
                "must be longer than 0 and no longer than retry_max",
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::invalid(
                format!("{key}.timeout"),
                "must be longer than 0",
            ));
        }
        Ok(())
    }

    /// May a callback at `url` be called?
    pub fn allows(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| self.allow.iter().any(|a| a.eq_ignore_ascii_case(&o)))
    }
}

/// The origin (`scheme://host[:port]`, lowercase scheme and host) of an
/// http(s) URL without credentials; `None` for anything else.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_only_at_allowed_origins() {
        let c = WebSubConfig {
            allow: vec!["http://127.0.0.1:9000".into()],
            ..WebSubConfig::default()
        };
        assert!(c.allows("http://127.0.0.1:9000/cb?x=1"));
        assert!(c.allows("HTTP://127.0.0.1:9000"));
        assert!(!c.allows("http://127.0.0.1:9001/cb"));
        assert!(!c.allows("http://127.0.0.1:9000@evil.example/cb"));
        assert!(!c.allows("https://127.0.0.1:9000/cb"));
        assert!(!c.allows("ftp://127.0.0.1:9000/cb"));
        assert!(!c.allows("127.0.0.1:9000/cb"));
    }

    #[test]
    fn allow_entries_must_be_origins() {
        let bad = WebSubConfig {
            allow: vec!["http://hooks.example.org/path".into()],
            ..WebSubConfig::default()
        };
        assert!(bad.validate("websub").is_err());
        let good = WebSubConfig {
            allow: vec!["https://hooks.example.org".into()],
            ..WebSubConfig::default()
        };
        assert!(good.validate("websub").is_ok());
    }
}
