//! The environment layer: the one place that maps a `FEEDGATE_*` variable to
//! the config key it sets. Every top-level key with a single value has one,
//! `FEEDGATE_` + the key in capitals (`FEEDGATE_MAX_BODY_BYTES` sets
//! `max_body_bytes`; the key's letter case does not matter), and `FEEDGATE_CONFIG`
//! names the file. An unknown `FEEDGATE_` variable is logged (by the caller,
//! once the log is set up: [`super::Config::warn_ignored`]), so a typo in a
//! deployment shows. Flags are clap's; they only carry their value here
//! ([`super::Flags`]).

use super::Config;
use crate::setting::{parse_duration, ConfigError};
use crate::telemetry::LogFormat;
use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const PREFIX: &str = "FEEDGATE_";

/// The variable of `key`: `FEEDGATE_` + the key in capitals.
pub fn var(key: &str) -> String {
    format!("{PREFIX}{}", key.to_ascii_uppercase())
}

/// The key a `FEEDGATE_*` variable names (`None` for other variables).
fn key(var: &str) -> Option<String> {
    var.strip_prefix(PREFIX).map(str::to_ascii_lowercase)
}

/// A key the environment can set, typed.
enum Slot<'a> {
    Address(&'a mut SocketAddr),
    Path(&'a mut PathBuf),
    Text(&'a mut Option<String>),
    Count(&'a mut usize),
    Time(&'a mut Duration),
    Switch(&'a mut bool),
    Format(&'a mut LogFormat),
}

/// The key `key` of `c`, if a variable may set it.
fn slot<'a>(c: &'a mut Config, key: &str) -> Option<Slot<'a>> {
    Some(match key {
        "listen" => Slot::Address(&mut c.listen),
        "data_dir" => Slot::Path(&mut c.data_dir),
        "base_url" => Slot::Text(&mut c.base_url),
        "store" => Slot::Text(&mut c.store),
        "default_limit" => Slot::Count(&mut c.default_limit),
        "max_limit" => Slot::Count(&mut c.max_limit),
        "max_page_bytes" => Slot::Count(&mut c.max_page_bytes),
        "max_second_entries" => Slot::Count(&mut c.max_second_entries),
        "max_second_bytes" => Slot::Count(&mut c.max_second_bytes),
        "max_body_bytes" => Slot::Count(&mut c.max_body_bytes),
        "page_cache_bytes" => Slot::Count(&mut c.page_cache_bytes),
        "store_cache_bytes" => Slot::Count(&mut c.store_cache_bytes),
        "max_connections" => Slot::Count(&mut c.max_connections),
        "header_read_timeout" => Slot::Time(&mut c.header_read_timeout),
        "body_read_timeout" => Slot::Time(&mut c.body_read_timeout),
        "ingest_memory_bytes" => Slot::Count(&mut c.ingest_memory_bytes),
        "shutdown_grace" => Slot::Time(&mut c.shutdown_grace),
        "max_wait" => Slot::Time(&mut c.max_wait),
        "max_waiting" => Slot::Count(&mut c.max_waiting),
        "sse_heartbeat" => Slot::Time(&mut c.sse_heartbeat),
        "sse_retry" => Slot::Time(&mut c.sse_retry),
        "sse_lifetime" => Slot::Time(&mut c.sse_lifetime),
        "content_downloads" => Slot::Count(&mut c.content_downloads),
        "log_format" => Slot::Format(&mut c.log_format),
        "access_log" => Slot::Switch(&mut c.access_log),
        _ => return None,
    })
}

impl Slot<'_> {
    /// Set the key from a variable's value; the error says what is wrong with it.
    fn set(self, value: &OsStr) -> Result<(), String> {
        if let Slot::Path(path) = self {
            *path = PathBuf::from(value);
            return Ok(());
        }
        let text = value.to_str().ok_or("not UTF-8")?;
        match self {
            Slot::Address(a) => *a = text.trim().parse().map_err(|e| format!("{e}"))?,
            Slot::Text(t) => *t = Some(text.trim().to_string()),
            Slot::Count(n) => *n = text.trim().parse().map_err(|e| format!("{e}"))?,
            Slot::Time(d) => {
                *d = parse_duration(text).ok_or_else(|| format!("invalid duration {text:?}"))?
            }
            Slot::Switch(b) => {
                *b = match text.trim() {
                    "true" | "1" | "on" | "yes" => true,
                    "false" | "0" | "off" | "no" => false,
                    other => return Err(format!("{other:?} is not true or false")),
                }
            }
            Slot::Format(f) => {
                *f = LogFormat::parse(text)
                    .ok_or_else(|| format!("{text:?} is not a log format (text or json)"))?
            }
            Slot::Path(_) => {}
        }
        Ok(())
    }
}

/// The `FEEDGATE_*` variables of an environment (name, value), in its order.
pub(super) struct Vars(Vec<(String, OsString)>);

impl Vars {
    pub fn new<K, V>(env: impl IntoIterator<Item = (K, V)>) -> Vars
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        Vars(
            env.into_iter()
                .filter_map(|(name, value)| {
                    let name = name.as_ref().to_str()?;
                    key(name)?;
                    Some((name.to_string(), value.as_ref().to_os_string()))
                })
                .collect(),
        )
    }

    /// The file `FEEDGATE_CONFIG` names.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.0
            .iter()
            .find(|(name, _)| key(name).as_deref() == Some("config"))
            .map(|(_, value)| PathBuf::from(value))
    }

    /// Set the keys the variables name. An invalid value is an error naming
    /// the variable; an unknown variable is skipped, and returned.
    pub fn apply(&self, config: &mut Config) -> Result<Vec<String>, ConfigError> {
        let mut ignored = Vec::new();
        for (name, value) in &self.0 {
            let key = key(name).unwrap_or_default();
            if key == "config" {
                continue;
            }
            match slot(config, &key) {
                Some(slot) => slot
                    .set(value)
                    .map_err(|message| ConfigError::invalid(name, message))?,
                None => ignored.push(name.clone()),
            }
        }
        Ok(ignored)
    }
}

/// Whether a variable sets `key` (`config`: names the file).
pub fn known(key: &str) -> bool {
    key == "config" || slot(&mut Config::default(), key).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_keys() {
        assert_eq!(var("max_body_bytes"), "FEEDGATE_MAX_BODY_BYTES");
        assert_eq!(
            key("FEEDGATE_MAX_BODY_BYTES").as_deref(),
            Some("max_body_bytes")
        );
        assert_eq!(key("FEEDGATE_Listen").as_deref(), Some("listen"));
        assert_eq!(key("feedgate_listen"), None);
        assert_eq!(key("HOME"), None);
        assert_eq!(key("FEED"), None);
        assert!(known("config") && known("listen") && known("shutdown_grace"));
        assert!(!known("feeds") && !known("credentials") && !known("websub"));
        assert!(!known("max_body_byte"));
    }

    #[test]
    fn every_scalar_key_of_the_file_has_a_variable() {
        // serde lists the keys a file may hold when it meets an unknown one.
        let e = Config::from_toml("no_such_key = 1").unwrap_err();
        let expected = e.split("expected one of").nth(1).unwrap_or_default();
        let keys: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        assert!(keys.len() >= 18, "{e}");
        for k in keys {
            let table = k == "feeds" || k == "credentials" || k == "websub";
            assert_eq!(known(k), !table, "{k}");
        }
    }

    #[test]
    fn switches_and_log_formats() {
        let mut c = Config::default();
        assert!(c.access_log);
        let ignored = Vars::new([
            ("FEEDGATE_ACCESS_LOG", "false"),
            ("FEEDGATE_LOG_FORMAT", "json"),
            ("FEEDGATE_NO_SUCH_KEY", "1"),
        ])
        .apply(&mut c)
        .unwrap();
        assert!(!c.access_log);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(ignored, ["FEEDGATE_NO_SUCH_KEY"]);
        for (var, value) in [
            ("FEEDGATE_ACCESS_LOG", "maybe"),
            ("FEEDGATE_LOG_FORMAT", "xml"),
        ] {
            let e = Vars::new([(var, value)]).apply(&mut c).unwrap_err();
            assert!(e.to_string().contains(var), "{e}");
        }
    }

    #[test]
    fn values_that_are_not_utf8_are_refused_except_paths() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let bad = OsStr::from_bytes(b"/data/\xff");
            let mut c = Config::default();
            Vars::new([("FEEDGATE_DATA_DIR", bad)])
                .apply(&mut c)
                .unwrap();
            assert_eq!(c.data_dir.as_os_str(), bad);
            let e = Vars::new([("FEEDGATE_BASE_URL", bad)])
                .apply(&mut c)
                .unwrap_err();
            assert!(e.to_string().contains("FEEDGATE_BASE_URL"), "{e}");
        }
    }
}
