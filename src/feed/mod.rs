//! The feed registry: one handle per configured feed ([`Feed`]) holding
//! everything a request about that feed needs (its log, its presentation,
//! its ready-made answers, its metric series and its upstream), found with
//! one lookup ([`Registry::get`], behind `App::feed`).

pub mod cache;

use crate::config::FeedConfig;
use crate::metrics::{FeedReads, FeedWrites, Metrics};
use crate::store::{Appended, Log, LogRef, Op, StoreError};
use crate::upstream::{Syncer, Upstreams};
use cache::FeedCache;
use std::collections::BTreeMap;
use std::sync::Arc;

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

impl FeedInfo {
    fn of(name: &str, f: &FeedConfig) -> FeedInfo {
        FeedInfo {
            title: f.title.clone().unwrap_or_else(|| name.to_string()),
            link: f.link.clone().unwrap_or_default(),
            description: f.description.clone().unwrap_or_default(),
            upstream: f.upstream.is_some(),
            im_feed: f.im_feed,
        }
    }
}

/// One configured feed.
pub struct Feed {
    name: String,
    log: LogRef,
    info: FeedInfo,
    cache: FeedCache,
    reads: FeedReads,
    writes: FeedWrites,
    upstream: Option<Arc<Syncer>>,
}

impl Feed {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its transaction log.
    pub fn log(&self) -> &dyn Log {
        self.log.as_ref()
    }

    /// A handle on its log, for work that outlives a request (event streams).
    pub fn log_ref(&self) -> LogRef {
        self.log.clone()
    }

    pub fn info(&self) -> &FeedInfo {
        &self.info
    }

    /// Its ready-made 304 headers and rendered pages.
    pub fn cache(&self) -> &FeedCache {
        &self.cache
    }

    /// Its read series (`feedgate_feed_reads_total`, page entries).
    pub fn reads(&self) -> &FeedReads {
        &self.reads
    }

    /// Its upstream, for a feed derived from an origin.
    pub fn upstream(&self) -> Option<&Arc<Syncer>> {
        self.upstream.as_ref()
    }

    /// Append `ops` to its log, timed and counted in its write series.
    pub async fn append(&self, ops: &[Op]) -> Result<Appended, StoreError> {
        self.writes.timed(self.log.append(ops)).await
    }
}

/// Every configured feed, by name (a B-tree: a lookup is a few string
/// comparisons, cheaper than hashing the name, for the handful of feeds a
/// gateway serves; and the list comes sorted).
pub struct Registry {
    feeds: BTreeMap<String, Feed>,
}

impl Registry {
    /// A handle for each feed of `config` whose log `logs` has, each caching
    /// at most `page_bytes` of pages.
    pub fn new<'a>(
        config: impl IntoIterator<Item = (&'a String, &'a FeedConfig)>,
        logs: impl Fn(&str) -> Option<LogRef>,
        page_bytes: usize,
        metrics: &Metrics,
        upstreams: &Upstreams,
    ) -> Registry {
        let feeds = config
            .into_iter()
            .filter_map(|(name, f)| {
                let feed = Feed {
                    name: name.clone(),
                    log: logs(name)?,
                    info: FeedInfo::of(name, f),
                    cache: FeedCache::new(page_bytes),
                    reads: metrics.feed_reads(name).unwrap_or_else(FeedReads::detached),
                    writes: metrics
                        .feed_writes(name)
                        .unwrap_or_else(FeedWrites::detached),
                    upstream: upstreams.get(name).cloned(),
                };
                Some((name.clone(), feed))
            })
            .collect();
        Registry { feeds }
    }

    pub fn get(&self, name: &str) -> Option<&Feed> {
        self.feeds.get(name)
    }

    /// Every feed, sorted by name.
    pub fn all(&self) -> Vec<&Feed> {
        self.feeds.values().collect()
    }
}
