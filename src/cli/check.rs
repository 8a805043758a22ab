//! `check-config`: everything `serve` checks before it serves, without
//! serving: the configuration (file, `FEEDGATE_*` variables, flags), the
//! seed files it names (read and parsed), the data directory (writable:
//! `crate::datadir::probe`) and the listen address (bindable; one in use
//! now is said, not an error: the server it belongs to may be this config's).
//! Then a summary, or with `--print` the effective configuration as TOML
//! (`config::print`). [`ListenError`] is also what `serve` says when it
//! cannot bind.

use super::{io, migrate, CheckConfigArgs, CliError};
use crate::config::Config;
use std::io::{ErrorKind, Write};
use std::net::SocketAddr;

/// The listen address cannot be bound, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}; {}", advice(.source.kind()))]
pub struct ListenError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

fn advice(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::AddrInUse => "another process listens there (another feedgate serve?): stop it or set listen / FEEDGATE_LISTEN / --listen to another port",
        ErrorKind::PermissionDenied => "ports below 1024 need privileges: choose a port of 1024 or more (and map it in front, e.g. with a proxy or a container port)",
        ErrorKind::AddrNotAvailable => "that IP address is not one of this machine's: listen on 0.0.0.0 (every address), 127.0.0.1 or one of its own",
        _ => "check listen / FEEDGATE_LISTEN / --listen",
    }
}

/// Whether `addr` can be bound now: `Ok(true)` yes, `Ok(false)` in use.
fn bindable(addr: SocketAddr) -> Result<bool, ListenError> {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AddrInUse => Ok(false),
        Err(source) => Err(ListenError { addr, source }),
    }
}

/// Whether the configuration needs the data directory: the embedded store,
/// or mirrored files (kept there whatever the store).
pub fn uses_data_dir(config: &Config) -> bool {
    config.store.is_none() || config.feeds.values().any(|f| f.content.mirror)
}

/// `check-config`: validate as `serve` would, then describe (or print) the
/// configuration.
pub fn check_config(args: &CheckConfigArgs, out: &mut impl Write) -> Result<(), CliError> {
    let config = args.serve.load()?;
    config.warn_ignored();
    for (name, feed) in &config.feeds {
        if let Some(path) = &feed.seed {
            crate::app::read_seed(name, path).map_err(|e| CliError::Invalid(e.to_string()))?;
        }
    }
    if uses_data_dir(&config) {
        crate::datadir::probe(&config.data_dir)?;
    }
    let free = bindable(config.listen)?;
    if args.print {
        let text = crate::config::print::effective_toml(&config);
        return out.write_all(text.as_bytes()).map_err(io("stdout"));
    }
    let source = config
        .file
        .as_ref()
        .map_or("defaults".to_string(), |p| p.display().to_string());
    let store = match &config.store {
        Some(_) => format!("postgres {}", config.store_name()),
        None => format!("embedded {}", config.data_dir.display()),
    };
    // A line of its own: `listen ADDR` stays what scripts read.
    let in_use = if free {
        String::new()
    } else {
        format!(
            "note: {} is in use now (by this config's own server?)\n",
            config.listen
        )
    };
    let mut text = format!(
        "config {source}: ok\nlisten {}\n{in_use}data_dir {}\nstore {store}\ncredentials {}\nfeeds {}\n",
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
    if let Some(url) = &config.store {
        text.push_str(&migrate::pending_line(url));
    }
    out.write_all(text.as_bytes()).map_err(io("stdout"))
}
