//! The operator commands beside `serve`: `check-config`, `export`, `import`
//! and `compact` (their clap arguments and what they do; `main` only
//! dispatches). Configuration is loaded as `serve` loads it: the file, then
//! `FEEDGATE_*` variables, then flags, then validated.
//!
//! The offline commands open the store directly. sled locks its directory,
//! so while a server runs on the same data dir they fail at once with
//! [`CliError::StoreBusy`] instead of waiting. Exit codes: 0 done, 1 the
//! store or an I/O operation failed (also: in use), 2 invalid configuration
//! or input (nothing was changed).

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::store::embedded::Embedded;
use crate::store::{Backend, Op, Outcome, StoreError};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// `--config`, as `serve` takes it.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// TOML config file (optional: without one, defaults apply and no feeds exist).
    #[arg(long, env = "FEEDGATE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `feedgate check-config`.
#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `feedgate export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The feed whose current items are written.
    pub feed: String,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Directory of the embedded store. Overrides `data_dir`.
    #[arg(long, env = "FEEDGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `feedgate import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The feed the items are written to.
    pub feed: String,
    /// NDJSON file to read; `-` or none: standard input.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Directory of the embedded store. Overrides `data_dir`.
    #[arg(long, env = "FEEDGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `feedgate compact`.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// Compact only this feed (default: every feed with a retention policy).
    pub feed: Option<String>,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Directory of the embedded store. Overrides `data_dir`.
    #[arg(long, env = "FEEDGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Load and validate the configuration like `serve` does.
pub fn load_config(file: Option<&Path>, data_dir: Option<PathBuf>) -> Result<Config, CliError> {
    let mut config = match file {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    config.apply_env(std::env::vars())?;
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    config.validate()?;
    let names: Vec<&str> = config.feeds.keys().map(String::as_str).collect();
    crate::auth::Auth::from_config(&config.credentials, &names)?;
    Ok(config)
}

/// `check-config`: validate and describe the configuration.
pub fn check_config(args: &CheckConfigArgs, out: &mut impl Write) -> Result<(), CliError> {
    let config = load_config(args.config.config.as_deref(), None)?;
    let source = args
        .config
        .config
        .as_ref()
        .map_or("defaults".to_string(), |p| p.display().to_string());
    let mut text = format!(
        "config {source}: ok\nlisten {}\ndata_dir {}\ncredentials {}\nfeeds {}\n",
        config.listen,
        config.data_dir.display(),
        config.credentials.len(),
        config.feeds.len()
    );
    for (name, feed) in &config.feeds {
        let kind = if feed.upstream.is_some() {
            "upstream"
        } else {
            "push"
        };
        let title = feed.title.as_deref().unwrap_or(name);
        text.push_str(&format!("  {name}\t{kind}\t{title:?}\n"));
    }
    out.write_all(text.as_bytes()).map_err(io("stdout"))
}

/// `export`: the feed's current items, one JSON object per line, by id.
/// Returns the number of items written.
pub fn export(args: &ExportArgs, out: &mut impl Write) -> Result<usize, CliError> {
    let config = load_config(args.config.config.as_deref(), args.data_dir.clone())?;
    known_feed(&config, &args.feed)?;
    if !config.data_dir.exists() {
        return Err(CliError::Invalid(format!(
            "there is no store in {}",
            config.data_dir.display()
        )));
    }
    let store = open(&config, std::slice::from_ref(&args.feed))?;
    let dir = config.data_dir.display().to_string();
    let log = store
        .feed(&args.feed)
        .ok_or_else(|| CliError::Invalid(format!("no feed named {:?}", args.feed)))?;
    let items = runtime()?
        .block_on(log.items())
        .map_err(|source| CliError::Store {
            dir: dir.clone(),
            source,
        })?;
    let mut w = std::io::BufWriter::new(out);
    for (id, state) in &items {
        let line = crate::ingest::item_json(id, &state.payload).to_string();
        w.write_all(line.as_bytes()).map_err(io("stdout"))?;
        w.write_all(b"\n").map_err(io("stdout"))?;
    }
    w.flush().map_err(io("stdout"))?;
    Ok(items.len())
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub add: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
    /// The feed's head after the import, `EPOCH.SEQ`.
    pub etag: String,
}

/// `import`: NDJSON items (the push API's batch elements, one per line;
/// blank lines are skipped) applied as one atomic batch. Any invalid line
/// rejects the whole input, naming the line; nothing is applied.
pub fn import(args: &ImportArgs, input: impl BufRead) -> Result<ImportReport, CliError> {
    let config = load_config(args.config.config.as_deref(), args.data_dir.clone())?;
    let feed = known_feed(&config, &args.feed)?;
    if feed.upstream.is_some() {
        return Err(CliError::Invalid(format!(
            "feed {:?} is derived from an upstream origin and cannot be written",
            args.feed
        )));
    }
    let (ops, lines) = parse_ndjson(input)?;
    let store = open(&config, std::slice::from_ref(&args.feed))?;
    let dir = config.data_dir.display().to_string();
    let Some(log) = store.feed(&args.feed) else {
        return Err(CliError::Invalid(format!("no feed named {:?}", args.feed)));
    };
    let done = runtime()?
        .block_on(log.append(&ops))
        .map_err(|source| match source {
            StoreError::ItemNotFound(id) => {
                let line = ops
                    .iter()
                    .zip(&lines)
                    .find(|(op, _)| matches!(op, Op::Delete { id: d } if *d == id))
                    .map_or(0, |(_, n)| *n);
                CliError::Invalid(format!(
                    "line {line}: cannot delete {id:?}: there is no such item (nothing was imported)"
                ))
            }
            source => CliError::Store { dir, source },
        })?;
    let mut report = ImportReport {
        etag: format!("{}.{}", log.epoch(), done.head),
        ..ImportReport::default()
    };
    for a in &done.applied {
        match a.outcome {
            Outcome::Add => report.add += 1,
            Outcome::Update => report.update += 1,
            Outcome::Delete => report.delete += 1,
            Outcome::Unchanged => report.unchanged += 1,
        }
    }
    Ok(report)
}

/// The ops of an NDJSON input, with the line number of each.
fn parse_ndjson(input: impl BufRead) -> Result<(Vec<Op>, Vec<usize>), CliError> {
    let (mut ops, mut lines) = (Vec::new(), Vec::new());
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => CliError::Invalid(format!("line {n}: not UTF-8")),
            _ => io("the input")(e),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |m: &str| CliError::Invalid(format!("line {n}: {}", without_position(m)));
        // One JSON value per line (with the column where it breaks), then
        // checked as one element of a batch.
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&line) {
            let column = e.column();
            return Err(bad(&format!("column {column}: {e}")));
        }
        if !line.trim_start().starts_with('{') {
            return Err(bad("expected a JSON object (an item)"));
        }
        let mut parsed =
            crate::ingest::parse_batch(format!("[{line}]").as_bytes()).map_err(|e| {
                let m = e.to_string();
                bad(m.strip_prefix("element 0: ").unwrap_or(&m))
            })?;
        match (parsed.pop(), parsed.is_empty()) {
            (Some(op), true) => ops.push(op),
            _ => return Err(bad("expected a JSON object (an item)")),
        }
        lines.push(n);
    }
    Ok((ops, lines))
}

/// A serde_json message without its ` at line L column C` suffix.
fn without_position(m: &str) -> &str {
    match m.rsplit_once(" at line ") {
        Some((head, tail)) if tail.contains(" column ") => head,
        _ => m,
    }
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
    let config = load_config(args.config.config.as_deref(), args.data_dir.clone())?;
    if let Some(name) = &args.feed {
        if !known_feed(&config, name)?.retention.policy().is_active() {
            return Err(CliError::Invalid(format!(
                "feed {name:?} has no retention policy ([feeds.{name}.retention]): nothing to compact"
            )));
        }
    }
    if !config.data_dir.exists() {
        return Err(CliError::Invalid(format!(
            "there is no store in {}",
            config.data_dir.display()
        )));
    }
    let names: Vec<String> = config.feeds.keys().cloned().collect();
    let store = open(&config, &names)?;
    let dir = config.data_dir.display().to_string();
    let err = |source| CliError::Store {
        dir: dir.clone(),
        source,
    };
    for (name, feed) in &config.feeds {
        if let Some(log) = store.feed(name) {
            log.set_retention(feed.retention.policy());
        }
    }
    let now = SystemClock.now_ms();
    let rt = runtime()?;
    let done: Vec<(String, crate::store::CompactReport)> = match &args.feed {
        Some(name) => match store.feed(name) {
            Some(log) => {
                let report = rt.block_on(crate::store::compact(log.as_ref(), now));
                vec![(name.clone(), report.map_err(err)?)]
            }
            None => Vec::new(),
        },
        None => rt
            .block_on(crate::store::compact_all(&store, now))
            .map_err(err)?,
    };
    rt.block_on(store.flush()).map_err(err)?;
    Ok(done
        .into_iter()
        .map(|(feed, report)| CompactLine { feed, report })
        .collect())
}

fn known_feed<'a>(
    config: &'a Config,
    name: &str,
) -> Result<&'a crate::config::FeedConfig, CliError> {
    config.feeds.get(name).ok_or_else(|| {
        CliError::Invalid(format!(
            "there is no feed named {name:?} in the configuration"
        ))
    })
}

fn open(config: &Config, feeds: &[String]) -> Result<Embedded, CliError> {
    let dir = config.data_dir.display().to_string();
    Embedded::open(&config.data_dir, feeds, Arc::new(SystemClock)).map_err(|source| {
        if source.to_string().contains("could not acquire lock") {
            CliError::StoreBusy { dir }
        } else {
            CliError::Store { dir, source }
        }
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("cannot start the async runtime"))
}

fn io(what: &str) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        what: what.to_string(),
        source,
    }
}

/// Print `err` as `error: …` on stderr and exit with its code.
pub fn exit(err: &CliError) -> ! {
    eprintln!("error: {err}");
    std::process::exit(err.exit_code())
}
