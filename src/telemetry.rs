//! The process's log: `tracing` events on standard error, as text (the
//! default; colour only on a terminal and without `NO_COLOR`) or as one JSON
//! object per line (`log_format = "json"`, `FEEDGATE_LOG_FORMAT`,
//! `--log-format`), filtered by `RUST_LOG` (default `info`). The access log
//! is the target [`ACCESS`] (`http::access`), so `RUST_LOG` can turn it off
//! on its own (`RUST_LOG=info,feedgate::access=off`).

use serde::Deserialize;

/// The tracing target of the access log's lines.
pub const ACCESS: &str = "feedgate::access";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `2026-12-07T06:55:56.123Z  INFO target: message key=value`.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message`
    /// and the event's fields at the top level.
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }

    /// `text` or `json`.
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s.trim() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Colour in the log only on a terminal, and not when `NO_COLOR` is set
/// (no-color.org): files, pipes and journald get plain text.
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Install the process's subscriber (once; a second call changes nothing).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(colour()).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_ansi(false)
            .try_init(),
    };
}
