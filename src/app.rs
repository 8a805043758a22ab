//! The application state a request sees: configuration, the store, the
//! clock and each feed's presentation; built once at start.

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the store in {dir}: {source}")]
    Store { dir: String, source: StoreError },
    #[error("feed {feed}: cannot set up its upstream: {source}")]
    Upstream {
        feed: String,
        source: crate::upstream::SyncError,
    },
    #[error("cannot seed feed {feed} from {path}: {message}")]
    Seed {
        feed: String,
        path: String,
        message: String,
    },
}

/// How a feed presents itself (from the config).
#[derive(Debug, Clone)]
pub struct FeedInfo {
    pub title: String,
    pub link: String,
    pub description: String,
    /// Derived from an upstream origin: read-only for the push API.
    pub upstream: bool,
    /// `im_feed`: `A-IM: feed` gets `226 IM Used` (else a plain 200).
    pub im_feed: bool,
}

pub struct App {
    pub config: Config,
    pub auth: crate::auth::Auth,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub feeds: HashMap<String, FeedInfo>,
    /// `/metrics`: recorded by the HTTP edge and the write path.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Each consumer's last acknowledged position (`/feeds/{feed}/consumers`).
    pub consumers: crate::consumers::Consumers,
    /// Upstream-derived feeds: sync on demand and in the background.
    pub upstreams: crate::upstream::Upstreams,
    /// Ready-made 304 headers and rendered pages of feed reads (`http::cache`).
    pub reads: crate::http::ReadCache,
    /// The push API's memory budget (`ingest_memory_bytes`).
    pub ingest: crate::ingest::Budget,
}

impl App {
    /// Validate the config, open the store and seed empty feeds.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<App, AppError> {
        config.validate()?;
        let names: Vec<String> = config.feeds.keys().cloned().collect();
        let cache_bytes = u64::try_from(config.store_cache_bytes).unwrap_or(u64::MAX);
        let store = Store::open_with_cache(&config.data_dir, &names, clock.clone(), cache_bytes)
            .map_err(|source| AppError::Store {
                dir: config.data_dir.display().to_string(),
                source,
            })?;
        let feeds: HashMap<String, FeedInfo> = config
            .feeds
            .iter()
            .map(|(name, f)| {
                let info = FeedInfo {
                    title: f.title.clone().unwrap_or_else(|| name.clone()),
                    link: f.link.clone().unwrap_or_default(),
                    description: f.description.clone().unwrap_or_default(),
                    upstream: f.upstream.is_some(),
                    im_feed: f.im_feed,
                };
                (name.clone(), info)
            })
            .collect();
        for (name, f) in &config.feeds {
            if let Some(log) = store.feed(name) {
                log.set_retention(f.retention.policy());
            }
        }
        let feed_names: Vec<&str> = config.feeds.keys().map(String::as_str).collect();
        let auth = crate::auth::Auth::from_config(&config.credentials, &feed_names)?;
        let metrics = Arc::new(crate::metrics::Metrics::new(feed_names.iter().copied()));
        let consumers = store
            .side_tree("consumers")
            .and_then(|tree| {
                crate::consumers::Consumers::open(tree, &names, crate::consumers::DEFAULT_CAP)
            })
            .map_err(|source| AppError::Store {
                dir: config.data_dir.display().to_string(),
                source,
            })?;
        let upstreams = crate::upstream::Upstreams::build(
            config.upstreams(),
            &store,
            clock.clone(),
            metrics.clone(),
        )
        .map_err(|(feed, source)| AppError::Upstream { feed, source })?;
        let logs = feeds.iter().filter_map(|(name, info)| {
            Some((name.as_str(), store.feed(name)?.clone(), info.clone()))
        });
        let reads =
            crate::http::ReadCache::new(logs, config.page_cache_bytes, &metrics, &upstreams);
        let ingest = crate::ingest::Budget::new(config.ingest_memory_bytes, config.max_body_bytes);
        let app = App {
            ingest,
            config,
            auth,
            store,
            clock,
            feeds,
            metrics,
            consumers,
            upstreams,
            reads,
        };
        app.seed().await?;
        app.upstreams.start_background();
        Ok(app)
    }

    /// Apply each feed's `seed` file once, while its log is empty.
    async fn seed(&self) -> Result<(), AppError> {
        for (name, feed) in &self.config.feeds {
            let (Some(path), Some(log)) = (&feed.seed, self.store.feed(name)) else {
                continue;
            };
            if log.published().seq > 0 {
                continue;
            }
            let err = |message: String| AppError::Seed {
                feed: name.clone(),
                path: path.display().to_string(),
                message,
            };
            let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
            let ops = crate::ingest::parse_batch(&bytes).map_err(|e| err(e.to_string()))?;
            let done = self
                .metrics
                .append(log, &ops)
                .await
                .map_err(|e| err(e.to_string()))?;
            tracing::info!(feed = %name, items = ops.len(), head = done.head, "seeded feed");
        }
        Ok(())
    }
}
