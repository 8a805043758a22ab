//! The `feedgate` binary: parse flags, start tracing, then for `serve` load
//! the config ([`feedgate::config::Config::load`]), bind and hand over to
//! [`feedgate::server::run`]; the operator commands run in [`feedgate::cli`].

use anyhow::Context;
use clap::{Parser, Subcommand};
use feedgate::app::App;
use feedgate::cli::ServeArgs;
use feedgate::clock::SystemClock;
use std::sync::Arc;

/// mimalloc rather than glibc's malloc: per-thread heaps without arena lock
/// contention (batch ingest, rendering); see docs/decisions.md. Built to
/// commit its arenas lazily (`.cargo/config.toml`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "feedgate",
    version,
    about = "Transaction feeds (RSS 2.0 / Atom 1.0) over conditional GET"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Print the SHA-256 of a secret read from standard input (one line), as
    /// `token_sha256` / `password_sha256` in the config want it.
    HashSecret,
    /// Load and validate the configuration (file, then FEEDGATE_* variables) as
    /// `serve` would, and print a summary. Exits 2 naming the bad key.
    CheckConfig(feedgate::cli::CheckConfigArgs),
    /// Write a feed's current items as NDJSON (one push-API item per line, by id)
    /// to standard output. Needs the store, so not while a server runs on it.
    Export(feedgate::cli::ExportArgs),
    /// Apply NDJSON items (push-API batch elements, one per line) to a feed as one
    /// atomic batch. Exits 2 naming the first bad line; nothing is applied then.
    Import(feedgate::cli::ImportArgs),
    /// Run a compaction pass now, per the feeds' `retention` settings. Needs the
    /// store, so not while a server runs on it.
    Compact(feedgate::cli::CompactArgs),
    /// Copy an embedded store (its data directory) into an empty PostgreSQL
    /// database: epochs, seqs, dates and consumer records kept, so consumers
    /// notice nothing. Exits 2, writing nothing, if the database is not empty.
    Migrate(feedgate::cli::MigrateArgs),
    /// Apply the PostgreSQL schema's pending migrations (`store` must name the
    /// database); `--dry-run` only names them.
    MigrateSchema(feedgate::cli::MigrateSchemaArgs),
}

/// Colour in the log only on a terminal, and not when `NO_COLOR` is set
/// (no-color.org): files, pipes and journald get plain text.
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour())
        .init();
    match cli.command {
        Command::Serve(args) => {
            serve(args).unwrap_or_else(|e| feedgate::cli::serve_failed(&e));
            Ok(())
        }
        Command::CheckConfig(args) => {
            feedgate::cli::check_config(&args, &mut std::io::stdout().lock())
                .unwrap_or_else(|e| feedgate::cli::exit(&e));
            Ok(())
        }
        Command::Export(args) => {
            let n = feedgate::cli::export(&args, &mut std::io::stdout().lock())
                .unwrap_or_else(|e| feedgate::cli::exit(&e));
            tracing::info!(feed = %args.feed, items = n, "exported");
            Ok(())
        }
        Command::Import(args) => {
            let report = match args.file.as_deref() {
                Some(path) if path != std::path::Path::new("-") => {
                    let file = std::fs::File::open(path)
                        .with_context(|| format!("cannot open {}", path.display()))?;
                    feedgate::cli::import(&args, std::io::BufReader::new(file))
                }
                _ => feedgate::cli::import(&args, std::io::stdin().lock()),
            }
            .unwrap_or_else(|e| feedgate::cli::exit(&e));
            println!(
                "imported into {}: add {}, update {}, delete {}, unchanged {}; head {}",
                args.feed, report.add, report.update, report.delete, report.unchanged, report.etag
            );
            Ok(())
        }
        Command::Compact(args) => {
            let done = feedgate::cli::compact(&args).unwrap_or_else(|e| feedgate::cli::exit(&e));
            if done.is_empty() {
                println!("no feed has a retention policy: nothing to compact");
            }
            for d in done {
                println!(
                    "{}: examined {}, removed {}, tombstones dropped {}",
                    d.feed, d.report.examined, d.report.removed, d.report.tombstones_dropped
                );
            }
            Ok(())
        }
        Command::Migrate(args) => {
            feedgate::cli::migrate(&args, &mut std::io::stdout().lock())
                .unwrap_or_else(|e| feedgate::cli::exit(&e));
            Ok(())
        }
        Command::MigrateSchema(args) => {
            feedgate::cli::migrate_schema(&args, &mut std::io::stdout().lock())
                .unwrap_or_else(|e| feedgate::cli::exit(&e));
            Ok(())
        }
        Command::HashSecret => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the secret from stdin")?;
            let secret = line.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(!secret.is_empty(), "no secret on standard input");
            println!("{}", feedgate::auth::hash_secret(secret));
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listen = config.listen;
        let app = Arc::new(App::build(config, Arc::new(SystemClock)).await?);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        if !app.auth().enabled() && !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "WARNING: no credentials are configured and feedgate listens on a non-loopback address: \
                 anyone who can reach it can read and WRITE every feed. Configure [credentials] or listen on 127.0.0.1."
            );
        }
        // Before the line that says it listens: a SIGTERM from then on is graceful.
        let shutdown = feedgate::server::shutdown_signal(exit_now);
        let feeds: Vec<&str> = app.feeds().iter().map(|f| f.name()).collect();
        tracing::info!(store = %app.config().store_name(), ?feeds, "listening on http://{addr}");
        feedgate::server::run(listener, app, shutdown).await?;
        Ok(())
    })
}

/// A second signal during the shutdown: the operator asked to stop now.
#[expect(
    clippy::exit,
    reason = "a second signal: stop at once, without waiting for requests or the flush"
)]
fn exit_now() {
    std::process::exit(1)
}
