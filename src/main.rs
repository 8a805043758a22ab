//! The `feedgate` binary: parse flags, then for `serve` load the config
//! ([`feedgate::config::Config::load`]), start the log in its format
//! ([`feedgate::telemetry`]), check the data dir, build, bind and hand over
//! to [`feedgate::server::run`] (a start that fails removes the data dir it
//! created: [`feedgate::datadir::Created`]); the operator commands run in
//! [`feedgate::cli`].

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
    /// Check what `serve` would check before serving (the configuration from
    /// file, FEEDGATE_* variables and flags; seed files; that the data dir is
    /// writable; the listen address) and print a summary, or with --print the
    /// effective configuration. Exits 2 naming the bad key, 1 for other problems.
    CheckConfig(feedgate::cli::CheckConfigArgs),
    /// GET a running server's /healthz (default http://127.0.0.1:8080/healthz,
    /// or the --listen / FEEDGATE_LISTEN address): exit 0 on a 2xx answer, 1
    /// otherwise, saying why. For container health checks without curl.
    Healthcheck(feedgate::cli::HealthcheckArgs),
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // `serve` sets its log up once its configuration (which holds the log's
    // format) is loaded; the other commands write text.
    if !matches!(cli.command, Command::Serve(_)) {
        feedgate::telemetry::init(feedgate::telemetry::LogFormat::Text);
    }
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
        Command::Healthcheck(args) => {
            let status =
                feedgate::cli::healthcheck(&args).unwrap_or_else(|e| feedgate::cli::exit(&e));
            println!("healthy: HTTP {status}");
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
                    let file = std::fs::File::open(path).unwrap_or_else(|source| {
                        feedgate::cli::exit(&feedgate::cli::CliError::Io {
                            what: format!("cannot open {}", path.display()),
                            source,
                        })
                    });
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
            if let Err(source) = std::io::stdin().read_line(&mut line) {
                feedgate::cli::exit(&feedgate::cli::CliError::Io {
                    what: "cannot read the secret from standard input".into(),
                    source,
                });
            }
            let secret = line.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                feedgate::cli::exit(&feedgate::cli::CliError::Invalid(
                    "no secret on standard input; pipe it in: printf %s \"$SECRET\" | feedgate hash-secret".into(),
                ));
            }
            println!("{}", feedgate::auth::hash_secret(secret));
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    feedgate::telemetry::init(config.log_format);
    config.warn_ignored();
    if feedgate::cli::uses_data_dir(&config) {
        feedgate::datadir::probe(&config.data_dir)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // What this start creates of the data dir, removed again if it fails.
    let created = feedgate::datadir::Created::before_start(&config.data_dir);
    let started = runtime.block_on(async move {
        let listen = config.listen;
        let app = Arc::new(App::build(config, Arc::new(SystemClock)).await?);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| feedgate::cli::ListenError {
                addr: listen,
                source,
            })?;
        anyhow::Ok((app, listener))
    });
    let (app, listener) = match started {
        Ok(started) => started,
        Err(e) => {
            created.undo();
            return Err(e);
        }
    };
    runtime.block_on(async move {
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
        // Sorted by name, as the configuration's table holds them.
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
