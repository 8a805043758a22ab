//! `migrate` (copy an embedded store into an empty PostgreSQL database,
//! `store::migrate`) and `migrate-schema` (apply the PostgreSQL schema's
//! pending migrations, or with `--dry-run` name them), and the pending
//! migrations `check-config` lists.

use super::{io, runtime, CliError, ConfigArg};
use crate::clock::{Clock, SystemClock};
use crate::config::Flags;
use crate::store::embedded::Embedded;
use crate::store::migrate::{MigrateError, MigrateReport};
use crate::store::postgres::{self, Migration};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `feedgate migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Data directory of the embedded store to copy (not while a server runs on it).
    #[arg(long, value_name = "DATA_DIR")]
    pub from: PathBuf,
    /// The empty PostgreSQL database to copy it into (postgres://…).
    #[arg(long, value_name = "URL")]
    pub to: String,
}

/// `feedgate migrate-schema`.
#[derive(Debug, clap::Args)]
pub struct MigrateSchemaArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Say which migrations would be applied, and apply none.
    #[arg(long)]
    pub dry_run: bool,
}

/// `migrate`: copy every feed and consumer record of the store in `--from`
/// into the database `--to`, which must be empty (exit 2 otherwise, nothing
/// written); writes what it copied to `out`.
pub fn migrate(args: &MigrateArgs, out: &mut impl Write) -> Result<MigrateReport, CliError> {
    postgres::parse_url(&args.to).map_err(|why| CliError::Invalid(format!("--to: {why}")))?;
    let dir = args.from.display().to_string();
    if !args.from.join("db").exists() {
        return Err(CliError::Invalid(format!("there is no store in {dir}")));
    }
    let from = Embedded::open_existing(&args.from, Arc::new(SystemClock)).map_err(|source| {
        if source.to_string().contains("could not acquire lock") {
            CliError::StoreBusy { dir: dir.clone() }
        } else {
            CliError::Store {
                dir: dir.clone(),
                source,
            }
        }
    })?;
    let to = postgres::describe(&args.to);
    let report = runtime()?
        .block_on(crate::store::migrate::migrate(
            &from,
            &args.to,
            SystemClock.now_ms(),
        ))
        .map_err(|e| match e {
            MigrateError::NotEmpty(_) => CliError::Invalid(format!("{to}: {e}")),
            MigrateError::From(source) => CliError::Store { dir, source },
            MigrateError::To(source) => CliError::Store {
                dir: to.clone(),
                source,
            },
        })?;
    let mut text = String::new();
    for m in &report.schema {
        text.push_str(&format!(
            "schema: applied {} ({})\n",
            m.version, m.description
        ));
    }
    for c in &report.feeds {
        text.push_str(&format!(
            "{}: epoch {}, head {}, {} transactions, {} live items, {} tombstones, dropped mark {}{}\n",
            c.feed,
            c.epoch,
            c.head,
            c.txns,
            c.live,
            c.tombstones,
            c.dropped,
            if c.upstream { ", upstream state" } else { "" }
        ));
    }
    text.push_str(&format!(
        "copied {} feeds and {} consumer records from {} into {to}\n",
        report.feeds.len(),
        report.consumers,
        args.from.display()
    ));
    out.write_all(text.as_bytes()).map_err(io("stdout"))?;
    Ok(report)
}

/// The `store` URL of the configuration, for the schema commands.
fn store_url(config: &ConfigArg) -> Result<String, CliError> {
    config.load(&Flags::default())?.store.ok_or_else(|| {
        CliError::Invalid(
            "`store` names no PostgreSQL database (set store = \"postgres://…\" or FEEDGATE_STORE): \
             the embedded store has no schema to migrate"
                .to_string(),
        )
    })
}

fn describe(m: &Migration) -> String {
    format!("{} ({})", m.version, m.description)
}

/// `migrate-schema`: apply the pending schema migrations (or, with
/// `--dry-run`, name them) and say so.
pub fn migrate_schema(args: &MigrateSchemaArgs, out: &mut impl Write) -> Result<(), CliError> {
    let url = store_url(&args.config)?;
    let name = postgres::describe(&url);
    let err = |source| CliError::Store {
        dir: name.clone(),
        source,
    };
    let rt = runtime()?;
    let text = if args.dry_run {
        let pending = rt
            .block_on(postgres::pending_migrations(&url))
            .map_err(err)?;
        match pending.as_slice() {
            [] => format!("{name}: the schema is up to date; nothing to apply\n"),
            p => p
                .iter()
                .map(|m| format!("{name}: would apply {}\n", describe(m)))
                .collect(),
        }
    } else {
        let applied = rt.block_on(postgres::migrate_schema(&url)).map_err(err)?;
        match applied.as_slice() {
            [] => format!("{name}: the schema is up to date; nothing applied\n"),
            a => a
                .iter()
                .map(|m| format!("{name}: applied {}\n", describe(m)))
                .collect(),
        }
    };
    out.write_all(text.as_bytes()).map_err(io("stdout"))
}

/// `check-config`'s line on the schema of the database at `url`: the
/// pending migrations, or why they are unknown (never applied here).
pub(super) fn pending_line(url: &str) -> String {
    let pending = runtime().ok().map(|rt| {
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), postgres::pending_migrations(url)).await
        })
    });
    match pending {
        Some(Ok(Ok(p))) if p.is_empty() => "schema up to date\n".to_string(),
        Some(Ok(Ok(p))) => {
            let list: Vec<String> = p.iter().map(describe).collect();
            format!(
                "schema pending migrations {} (applied at start or by `feedgate migrate-schema`): {}\n",
                p.len(),
                list.join("; ")
            )
        }
        Some(Ok(Err(e))) => format!("schema unknown (cannot read the database: {e})\n"),
        Some(Err(_)) => "schema unknown (the database did not answer within 10 s)\n".to_string(),
        None => "schema unknown (no async runtime)\n".to_string(),
    }
}
