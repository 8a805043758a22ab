//! What every section of the configuration shares: [`ConfigError`], whose
//! messages name the bad key, and duration values as configs write them
//! (`250ms`, `5s`, `2m`, `1h`, `7d`, or a bare number of seconds) with their
//! `#[serde(with = …)]` adapters.
//!
//! A leaf: the sections (`config`, `auth`'s credentials, `upstream::config`)
//! import it and it imports none of them, so `config` can hold the sections
//! without the sections reaching back into `config`.

use std::path::PathBuf;
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

impl ConfigError {
    /// `key` (a dotted config path or a `FEEDGATE_*` variable) is invalid.
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Parse durations written as `250ms`, `5s`, `2m`, `1h`, `7d` (or a bare number of seconds).
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

/// `#[serde(with = "crate::setting::duration")]` for a duration key.
pub mod duration {
    use serde::{de::Error, Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s)
            .ok_or_else(|| D::Error::custom(format!("invalid duration {s:?} (try \"10s\")")))
    }
}

/// `#[serde(with = "crate::setting::opt_duration")]` for an optional duration
/// key (with `#[serde(default)]`, an absent key is `None`).
pub mod opt_duration {
    use serde::Deserializer;
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("5w"), None);
    }

    #[test]
    fn errors_name_the_key() {
        let e = ConfigError::invalid("feeds.news.seed", "no such file");
        assert_eq!(
            e.to_string(),
            "invalid config: `feeds.news.seed`: no such file"
        );
    }
}
