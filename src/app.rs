//! The application state a request sees, built once at start: the
//! configuration, credentials, clock, the store, the feed registry
//! ([`App::feed`]), consumer records, metrics and the push API's memory
//! budget.

use crate::auth::Auth;
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::consumers::Consumers;
use crate::feed::{Feed, Registry};
use crate::ingest::Budget;
use crate::metrics::Metrics;
use crate::store::postgres::Postgres;
use crate::store::{embedded::Embedded, Backend, StoreError};
use crate::upstream::Upstreams;
use crate::waiting::Waiting;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the store in {dir}: {source}")]
    Store { dir: String, source: StoreError },
    #[error(
        "the store in {dir} is in use by another process (is another `feedgate serve` running on it?)"
    )]
    StoreBusy { dir: String },
    #[error("feed {feed}: cannot set up its upstream: {source}")]
    Upstream {
        feed: String,
        source: crate::upstream::SyncError,
    },
    #[error("cannot open the content store: {0}")]
    Content(#[from] crate::content::ContentError),
    /// The seed file cannot be read or is not a batch (invalid input: exit 2).
    #[error("cannot seed feed {feed} from {path}: {message}; fix the file or feeds.{feed}.seed (a relative path is relative to the config file)")]
    BadSeed {
        feed: String,
        path: String,
        message: String,
    },
    #[error("cannot seed feed {feed} from {path}: {message}")]
    Seed {
        feed: String,
        path: String,
        message: String,
    },
}

pub struct App {
    config: Config,
    auth: Auth,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Backend>,
    feeds: Registry,
    metrics: Arc<Metrics>,
    consumers: Consumers,
    /// Upstream-derived feeds: sync on demand and in the background.
    upstreams: Upstreams,
    ingest: Budget,
    /// Long-polls and event streams waiting (`max_waiting`), and shutdown.
    waiting: Waiting,
    /// The WebSub hub (off unless `[websub] allow` is set).
    hub: crate::websub::Hub,
    /// Mirrored files (`data_dir/content`), when a feed mirrors its enclosures.
    content: Option<Arc<crate::content::ContentStore>>,
    /// The background fetching of mirrored feeds' files.
    mirror: Option<crate::content::Mirror>,
}

impl App {
    /// Validate the config, open the store (PostgreSQL when `store` is set,
    /// else the embedded store in its data directory) and seed empty feeds.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<App, AppError> {
        config.validate()?;
        let names: Vec<String> = config.feeds.keys().cloned().collect();
        let store: Arc<dyn Backend> = match &config.store {
            Some(url) => Arc::new(Postgres::open(url, &names, clock.clone()).await.map_err(
                |source| AppError::Store {
                    dir: config.store_name(),
                    source,
                },
            )?),
            None => {
                let cache_bytes = u64::try_from(config.store_cache_bytes).unwrap_or(u64::MAX);
                let store =
                    Embedded::open_with_cache(&config.data_dir, &names, clock.clone(), cache_bytes)
                        .map_err(|source| {
                            let dir = config.store_name();
                            if source.to_string().contains("could not acquire lock") {
                                AppError::StoreBusy { dir }
                            } else {
                                AppError::Store { dir, source }
                            }
                        })?;
                Arc::new(store)
            }
        };
        Self::with_store(config, clock, store).await
    }

    /// [`App::build`] over a store already open (with a log for each
    /// configured feed).
    pub async fn with_store(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Backend>,
    ) -> Result<App, AppError> {
        config.validate()?;
        let store_error = |source| AppError::Store {
            dir: config.store_name(),
            source,
        };
        let names: Vec<&str> = config.feeds.keys().map(String::as_str).collect();
        let auth = Auth::from_config(&config.credentials, &names)?;
        let metrics = Arc::new(Metrics::new(names.iter().copied()));
        let records = store.consumer_records().await.map_err(store_error)?;
        let consumers = Consumers::open(records, &names, crate::consumers::DEFAULT_CAP);
        let upstreams =
            Upstreams::build(config.upstreams(), store.as_ref(), clock.clone(), &metrics)
                .map_err(|(feed, source)| AppError::Upstream { feed, source })?;
        let feeds = Registry::new(
            &config.feeds,
            |name| store.feed(name),
            config.page_cache_bytes,
            &metrics,
            &upstreams,
        );
        let ingest = Budget::new(config.ingest_memory_bytes, config.max_body_bytes);
        let waiting = Waiting::new(config.max_waiting, metrics.clone());
        let hub = crate::websub::Hub::new(&config.websub);
        let content = if config.feeds.values().any(|f| f.content.mirror) {
            let root = config.data_dir.join("content");
            Some(Arc::new(crate::content::ContentStore::open(&root)?))
        } else {
            None
        };
        let mirror = content
            .as_ref()
            .and_then(|store| crate::content::Mirror::new(&config, store.clone()));
        let app = App {
            config,
            auth,
            clock,
            store,
            feeds,
            metrics,
            consumers,
            upstreams,
            ingest,
            waiting,
            hub,
            content,
            mirror,
        };
        app.seed().await?;
        app.upstreams.start_background();
        Ok(app)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn store(&self) -> &dyn Backend {
        self.store.as_ref()
    }

    /// The configured feed `name`: its log, presentation, caches, metric
    /// series and upstream.
    pub fn feed(&self, name: &str) -> Option<&Feed> {
        self.feeds.get(name)
    }

    /// Every configured feed, sorted by name.
    pub fn feeds(&self) -> Vec<&Feed> {
        self.feeds.all()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn consumers(&self) -> &Consumers {
        &self.consumers
    }

    pub fn upstreams(&self) -> &Upstreams {
        &self.upstreams
    }

    /// The push API's memory budget (`ingest_memory_bytes`).
    /// Long-polls and event streams: their places and the shutdown that ends them.
    pub fn waiting(&self) -> &Waiting {
        &self.waiting
    }

    /// The store of mirrored files, if any feed mirrors.
    pub fn content(&self) -> Option<&Arc<crate::content::ContentStore>> {
        self.content.as_ref()
    }

    /// The content mirror, if any feed mirrors.
    pub fn mirror(&self) -> Option<&crate::content::Mirror> {
        self.mirror.as_ref()
    }

    /// The WebSub hub.
    pub fn hub(&self) -> &crate::websub::Hub {
        &self.hub
    }

    pub fn ingest(&self) -> &Budget {
        &self.ingest
    }

    /// Apply each feed's `seed` file once, while its log is empty.
    /// (`check-config` reads each with [`read_seed`] too.)
    async fn seed(&self) -> Result<(), AppError> {
        for (name, f) in &self.config.feeds {
            let (Some(path), Some(feed)) = (&f.seed, self.feed(name)) else {
                continue;
            };
            if feed.log().published().seq > 0 {
                continue;
            }
            let ops = read_seed(name, path)?;
            let err = |message: String| AppError::Seed {
                feed: name.clone(),
                path: path.display().to_string(),
                message,
            };
            let done = feed.append(&ops).await.map_err(|e| err(e.to_string()))?;
            tracing::info!(feed = %name, items = ops.len(), head = done.head, "seeded feed");
        }
        Ok(())
    }
}

/// The operations of feed `feed`'s seed file at `path` (a push-API batch).
pub fn read_seed(feed: &str, path: &std::path::Path) -> Result<Vec<crate::store::Op>, AppError> {
    let err = |message: String| AppError::BadSeed {
        feed: feed.to_string(),
        path: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    crate::ingest::parse_batch(&bytes).map_err(|e| err(e.to_string()))
}
