//! Reaching the database: the `store` URL (parsed, and described without
//! its password for messages) and the connection pools on it.

use super::{backend_error, Pool, StoreError};
use std::time::Duration;

/// Parse a `store` URL (`postgres://` or `postgresql://`).
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("must be a postgres:// URL".to_string());
    }
    url.parse()
        .map_err(|e: tokio_postgres::Error| e.to_string())
}

/// A `store` URL for messages: user, hosts, ports and database, without
/// the password or parameters.
pub fn describe(url: &str) -> String {
    let Ok(c) = parse_url(url) else {
        return "postgres://(invalid URL)".to_string();
    };
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(dir) => dir.display().to_string(),
            };
            match c.get_ports().get(i).or(c.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let user = c.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = c.get_dbname().unwrap_or("");
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

/// A connection pool on `config`, of at most `size` connections (`None`:
/// deadpool's default, four per CPU), idle ones kept open.
pub(super) fn new_pool(
    config: &tokio_postgres::Config,
    size: Option<usize>,
) -> Result<Pool, StoreError> {
    let manager = deadpool_postgres::Manager::from_config(
        config.clone(),
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let mut builder = Pool::builder(manager)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(30)));
    if let Some(size) = size {
        builder = builder.max_size(size);
    }
    builder
        .build()
        .map_err(|e| backend_error(format!("cannot set up the connection pool: {e}")))
}
