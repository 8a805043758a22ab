//! The command line: the arguments of `serve` and of the operator commands
//! beside it (`check-config`, `healthcheck`, `export`, `import`, `compact`,
//! `migrate` and `migrate-schema`), and what the operator commands do
//! (`check-config` in `check`, `healthcheck` in `healthcheck`, `export` and
//! `import` in `transfer`, the migrations in `migrate`); `main` only
//! dispatches. Every command loads its configuration through
//! [`Config::load`]: the file, then `FEEDGATE_*` variables, then flags, then
//! validated.
//!
//! The flags have no clap `env`: the config layer maps every variable
//! (`config::env`), so a flag's help names its variable by hand, in clap's
//! notation, and a unit test holds the two together.
//!
//! The offline commands open the configured store directly, embedded or
//! PostgreSQL. sled locks its directory, so while a server runs on the same
//! data dir they fail at once with [`CliError::StoreBusy`] instead of
//! waiting; a PostgreSQL store is shared, so they run beside servers. Exit
//! codes, the same for `serve` ([`serve_failed`]) and every command: 0 done,
//! 2 a usage error (clap's), invalid configuration or input (nothing was
//! changed), 1 everything else: the store, an I/O operation, a data dir that
//! cannot be written, a listen address that cannot be bound, an unhealthy
//! server (`healthcheck`).

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, Flags};
use crate::store::embedded::Embedded;
use crate::store::postgres::Postgres;
use crate::store::{Backend, StoreError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

mod check;
mod healthcheck;
mod migrate;
mod transfer;
pub use check::{check_config, uses_data_dir, ListenError};
pub use healthcheck::{healthcheck, HealthcheckArgs};
pub use migrate::{migrate, migrate_schema, MigrateArgs, MigrateSchemaArgs};
pub use transfer::{export, import, ImportReport};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the store in {dir} is in use by another process (is `feedgate serve` running on it?)"
    )]
    StoreBusy { dir: String },
    #[error("store in {dir}: {source}")]
    Store { dir: String, source: StoreError },
    #[error("healthcheck {url}: {cause}")]
    Unhealthy { url: String, cause: String },
    #[error(transparent)]
    DataDir(#[from] crate::datadir::DataDirError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl CliError {
    /// 2 for invalid configuration or input, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Config(_) | CliError::Invalid(_) => 2,
            _ => 1,
        }
    }
}

/// `--config`, as every command takes it.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// TOML config file (optional: without one, defaults apply and no feeds exist) [env: FEEDGATE_CONFIG=]
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// [`Config::load`] with this file, the process's environment and
    /// `flags`; unknown `FEEDGATE_` variables are logged.
    pub fn load(&self, flags: &Flags) -> Result<Config, CliError> {
        let config = self.load_quiet(flags)?;
        config.warn_ignored();
        Ok(config)
    }

    /// [`ConfigArg::load`] without the log lines (before the log is set up).
    pub fn load_quiet(&self, flags: &Flags) -> Result<Config, CliError> {
        Ok(Config::load(
            self.config.as_deref(),
            std::env::vars_os(),
            flags,
        )?)
    }
}

/// `feedgate serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Address to listen on (port 0 picks a free port). Overrides `listen` [env: FEEDGATE_LISTEN=]
    #[arg(long, value_parser = listen_address)]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded store. Overrides `data_dir` [env: FEEDGATE_DATA_DIR=]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Log lines as text (default) or one JSON object per line. Overrides `log_format` [env: FEEDGATE_LOG_FORMAT=]
    #[arg(long, value_enum)]
    pub log_format: Option<crate::telemetry::LogFormat>,
    /// No access log (one line per request, target feedgate::access). Overrides `access_log` [env: FEEDGATE_ACCESS_LOG=]
    #[arg(long = "no-access-log", id = "access_log")]
    pub no_access_log: bool,
}

/// `--listen`: an IP address and a port, with what to write instead of a
/// host name (which is not looked up).
pub fn listen_address(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        let port = s.rsplit_once(':').map_or("8080", |(_, p)| p);
        let example = match s.split(':').next() {
            Some("localhost") => format!("127.0.0.1:{port} (or [::1]:{port})"),
            _ => format!("127.0.0.1:{port} or 0.0.0.0:{port}"),
        };
        format!("{s:?} is not an IP address and port (host names are not looked up): write e.g. {example}")
    })
}

impl ServeArgs {
    /// The configuration, without logging the ignored variables: the log's
    /// format is part of it ([`Config::warn_ignored`] once it is set up).
    pub fn load(&self) -> Result<Config, CliError> {
        self.config.load_quiet(&Flags {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            log_format: self.log_format,
            access_log: self.no_access_log.then_some(false),
        })
    }
}

/// `--config` and `--data-dir`, as the commands that open the store take them.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Directory of the embedded store. Overrides `data_dir` [env: FEEDGATE_DATA_DIR=]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl StoreArgs {
    /// The configuration: the embedded store in `data_dir`, or the
    /// PostgreSQL database `store` names.
    pub fn load(&self) -> Result<Config, CliError> {
        self.config.load(&Flags {
            data_dir: self.data_dir.clone(),
            ..Flags::default()
        })
    }
}

/// `feedgate check-config`: `serve`'s arguments, and what to print.
#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Print the effective configuration (file, FEEDGATE_* variables and flags applied) as TOML, secrets redacted, instead of the summary.
    #[arg(long)]
    pub print: bool,
}

/// `feedgate export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The feed whose current items are written.
    pub feed: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `feedgate import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The feed the items are written to.
    pub feed: String,
    /// NDJSON file to read; `-` or none: standard input.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `feedgate compact`.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// Compact only this feed (default: every feed with a retention policy).
    pub feed: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What `compact` did to one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactLine {
    pub feed: String,
    pub report: crate::store::CompactReport,
}

/// `compact`: run a whole compaction pass now on `FEED`, or on every feed
/// with a retention policy.
pub fn compact(args: &CompactArgs) -> Result<Vec<CompactLine>, CliError> {
    let config = args.store.load()?;
    if let Some(name) = &args.feed {
        if !known_feed(&config, name)?.retention.policy().is_active() {
            return Err(CliError::Invalid(format!(
                "feed {name:?} has no retention policy ([feeds.{name}.retention]): nothing to compact"
            )));
        }
    }
    existing(&config)?;
    let names: Vec<String> = config.feeds.keys().cloned().collect();
    let rt = runtime()?;
    let store = rt.block_on(open(&config, &names))?;
    let dir = config.store_name();
    let err = |source| CliError::Store {
        dir: dir.clone(),
        source,
    };
    // The policies are the config's: the store keeps none.
    let policy_of = |name: &str| {
        config
            .feeds
            .get(name)
            .map(|f| f.retention.policy())
            .unwrap_or_default()
    };
    let now = SystemClock.now_ms();
    let done: Vec<(String, crate::store::CompactReport)> = match &args.feed {
        Some(name) => match store.feed(name) {
            Some(log) => {
                let report =
                    rt.block_on(crate::store::compact(log.as_ref(), &policy_of(name), now));
                vec![(name.clone(), report.map_err(err)?)]
            }
            None => Vec::new(),
        },
        None => rt
            .block_on(crate::store::compact_all(store.as_ref(), policy_of, now))
            .map_err(err)?,
    };
    rt.block_on(store.flush()).map_err(err)?;
    Ok(done
        .into_iter()
        .map(|(feed, report)| CompactLine { feed, report })
        .collect())
}

pub(crate) fn known_feed<'a>(
    config: &'a Config,
    name: &str,
) -> Result<&'a crate::config::FeedConfig, CliError> {
    config.feeds.get(name).ok_or_else(|| {
        CliError::Invalid(format!(
            "there is no feed named {name:?} in the configuration"
        ))
    })
}

/// Open the configured store with a log for each of `feeds`: PostgreSQL
/// when `store` is set (its schema migrated, as `serve` does), else the
/// embedded store, failing at once if a server holds it.
pub(crate) async fn open(config: &Config, feeds: &[String]) -> Result<Arc<dyn Backend>, CliError> {
    let dir = config.store_name();
    let clock = Arc::new(SystemClock);
    match &config.store {
        Some(url) => match Postgres::open(url, feeds, clock).await {
            Ok(store) => Ok(Arc::new(store)),
            Err(source) => Err(CliError::Store { dir, source }),
        },
        None => match Embedded::open(&config.data_dir, feeds, clock) {
            Ok(store) => Ok(Arc::new(store)),
            Err(source) if source.to_string().contains("could not acquire lock") => {
                Err(CliError::StoreBusy { dir })
            }
            Err(source) => Err(CliError::Store { dir, source }),
        },
    }
}

/// Fails unless the configured store exists: an embedded one must have its
/// data directory (a database is created by whoever opens it first).
pub(crate) fn existing(config: &Config) -> Result<(), CliError> {
    if config.store.is_none() && !config.data_dir.exists() {
        return Err(CliError::Invalid(format!(
            "there is no store in {}",
            config.data_dir.display()
        )));
    }
    Ok(())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("cannot start the async runtime"))
}

pub(crate) fn io(what: &str) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        what: what.to_string(),
        source,
    }
}

/// `serve`'s failure, as the other commands say theirs: `error: …` once
/// (each cause added only where the message does not hold it already), then
/// exit 2 for invalid configuration, 1 for everything else.
#[allow(
    clippy::print_stderr,
    clippy::exit,
    reason = "serve's error exit: the server never started or has stopped and flushed"
)]
pub fn serve_failed(err: &anyhow::Error) -> ! {
    eprintln!("error: {}", crate::error::one_line(err.as_ref()));
    let config = err.chain().any(|c| {
        c.downcast_ref::<ConfigError>().is_some()
            || c.downcast_ref::<CliError>()
                .is_some_and(|e| e.exit_code() == 2)
            || matches!(
                c.downcast_ref::<crate::app::AppError>(),
                Some(crate::app::AppError::Config(_) | crate::app::AppError::BadSeed { .. })
            )
    });
    std::process::exit(if config { 2 } else { 1 })
}

/// Print `err` as `error: …` on stderr and exit with its code.
#[allow(
    clippy::print_stderr,
    clippy::exit,
    reason = "the CLI's error exit: its message is for the operator, and no store is open any more"
)]
pub fn exit(err: &CliError) -> ! {
    eprintln!("error: {err}");
    std::process::exit(err.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env;
    use clap::Args;

    /// Every flag sets the config key of its name, and its help names the
    /// variable that sets the same key ([`crate::config::env`]), as clap's
    /// `env` would.
    #[test]
    fn flags_name_their_variable() {
        let commands = [
            ServeArgs::augment_args(clap::Command::new("serve")),
            CheckConfigArgs::augment_args(clap::Command::new("check-config")),
            ExportArgs::augment_args(clap::Command::new("export")),
            ImportArgs::augment_args(clap::Command::new("import")),
            CompactArgs::augment_args(clap::Command::new("compact")),
        ];
        let mut flags = 0;
        for cmd in commands {
            // `--print` says what to do, not how to configure.
            let settings = cmd
                .get_arguments()
                .filter(|a| a.get_long().is_some() && a.get_id() != "print");
            for arg in settings {
                let key = arg.get_id().as_str();
                assert!(env::known(key), "--{key} sets no config key");
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                let named = format!("[env: {}=]", env::var(key));
                assert!(
                    help.ends_with(&named),
                    "{}: --{key}: {help}",
                    cmd.get_name()
                );
                flags += 1;
            }
        }
        assert_eq!(flags, 16);
    }
}
