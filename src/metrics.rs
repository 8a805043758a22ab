//! Prometheus metrics (`GET /metrics`, text format 0.0.4) through the
//! Prometheus org's `prometheus-client` crate.
//!
//! [`Metrics`] owns the registry and every series; the rest of the code
//! records through a handful of methods: [`Metrics::request`] (the HTTP edge:
//! route and status), [`FeedReads`] (per feed: format, 304 or page, entries
//! per page), [`FeedWrites`] (per feed: an append's latency, which includes
//! the durable flush, and its transactions by action) and
//! [`Metrics::record_sync`] (upstream sync outcomes). Store size and
//! consumer lag are computed at scrape time by [`Metrics::render`].
//!
//! Hot-path cost: per-feed series are created at start and held as handles
//! (an `Arc`'d atomic each); the read path keeps each feed's [`FeedReads`]
//! beside its log, and its writers its [`FeedWrites`], so recording a read
//! or a write is an atomic add or two; request counters are keyed by a `Copy` label
//! set of static strings, so they allocate only the first time a
//! route/status pair is seen.
//!
//! By file: this one holds the registry, the write, sync and scrape-time
//! series; `requests` the HTTP edge's counters, `reads` a feed's read series,
//! `limits` the series of load shed by the protective limits, `immediate`
//! waiting requests and WebSub deliveries.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

mod content;
mod immediate;
mod limits;
mod process;
mod reads;
mod requests;
mod writes;
pub use content::Content;
pub use immediate::{Immediate, WaitEnd, WaitKind};
pub use limits::{Limits, Rejection};
pub use reads::FeedReads;
use reads::{page_histogram, ReadLabels};
use requests::Requests;
pub use writes::FeedWrites;

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabel {
    feed: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    feed: String,
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    feed: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    feed: String,
    consumer: String,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// One feed's series, created at start.
struct FeedSeries {
    reads: FeedReads,
    /// add, update, delete.
    appended: [Counter; 3],
    append_seconds: Histogram,
}

/// One consumer's lag, as [`Metrics::render`] exports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerLag<'a> {
    pub feed: &'a str,
    pub consumer: &'a str,
    pub transactions: u64,
    pub seconds: f64,
}

pub struct Metrics {
    registry: Registry,
    /// `process_*`, set at each scrape.
    process: process::Process,
    requests: Requests,
    feeds: HashMap<String, FeedSeries>,
    syncs: Family<SyncLabels, Counter>,
    store_bytes: Gauge,
    consumers: Family<FeedLabel, Gauge>,
    lag_transactions: Family<ConsumerLabels, Gauge>,
    lag_seconds: Family<ConsumerLabels, FloatGauge>,
    /// Serialises scrapes: the scrape-time families are cleared and refilled.
    scrape: Mutex<()>,
    /// Load shed by the connection cap, body timeouts, the ingest budget.
    pub limits: Limits,
    /// Long-polls, event streams and WebSub deliveries (PROTOCOL §9).
    pub immediate: Immediate,
    /// Content mirroring: downloads, bytes, stored files.
    pub content: Content,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~4 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Metrics {
    /// The registry with every series of `feeds` created (at zero).
    pub fn new<'a>(feeds: impl IntoIterator<Item = &'a str>) -> Metrics {
        let mut root = Registry::default();
        let process = process::Process::register(&mut root);
        let registry = root.sub_registry_with_prefix("feedgate");
        process::build_info(registry);
        let requests = Requests::register(registry);
        let reads = Family::<ReadLabels, Counter>::default();
        let pages: HistogramFamily<FeedLabel> = Family::new_with_constructor(page_histogram);
        let appended = Family::<ActionLabels, Counter>::default();
        let latency: HistogramFamily<FeedLabel> = Family::new_with_constructor(latency_histogram);
        let syncs = Family::<SyncLabels, Counter>::default();
        let store_bytes = Gauge::default();
        let consumers = Family::<FeedLabel, Gauge>::default();
        let lag_transactions = Family::<ConsumerLabels, Gauge>::default();
        let lag_seconds = Family::<ConsumerLabels, FloatGauge>::default();
        registry.register(
            "feed_reads",
            "Feed reads, by feed, format (rss, atom) and outcome (not_modified: a 304; page: a 200 or 226)",
            reads.clone(),
        );
        registry.register(
            "feed_page_entries",
            "Entries per feed page served",
            pages.clone(),
        );
        registry.register(
            "transactions_appended",
            "Transactions appended, by feed and action",
            appended.clone(),
        );
        registry.register(
            "append_duration_seconds",
            "Time of one atomic append, including the durable flush",
            latency.clone(),
        );
        registry.register(
            "upstream_syncs",
            "Upstream syncs, by feed and outcome",
            syncs.clone(),
        );
        registry.register(
            "store_size_bytes",
            "Size of the embedded store on disk (at scrape time)",
            store_bytes.clone(),
        );
        registry.register(
            "consumers",
            "Consumers recorded per feed",
            consumers.clone(),
        );
        registry.register(
            "consumer_lag_transactions",
            "Transactions between a consumer's last acknowledged position and the head",
            lag_transactions.clone(),
        );
        registry.register(
            "consumer_lag_seconds",
            "Head stamp minus the stamp of a consumer's last acknowledged position",
            lag_seconds.clone(),
        );
        let limits = Limits::register(registry);
        let immediate = Immediate::register(registry);
        let content = Content::register(registry);
        let feeds = feeds
            .into_iter()
            .map(|feed| {
                let action = |action| {
                    appended.get_or_create_owned(&ActionLabels {
                        feed: feed.to_string(),
                        action,
                    })
                };
                let label = FeedLabel {
                    feed: feed.to_string(),
                };
                let series = FeedSeries {
                    reads: FeedReads::new(feed, &reads, pages.get_or_create_owned(&label)),
                    appended: [action("add"), action("update"), action("delete")],
                    append_seconds: latency.get_or_create_owned(&label),
                };
                (feed.to_string(), series)
            })
            .collect();
        Metrics {
            registry: root,
            process,
            requests,
            feeds,
            syncs,
            store_bytes,
            consumers,
            lag_transactions,
            lag_seconds,
            scrape: Mutex::new(()),
            limits,
            immediate,
            content,
        }
    }

    /// One HTTP request answered (`route` is a fixed label, e.g. `feed`).
    pub fn request(&self, route: &'static str, status: u16) {
        self.requests.record(route, status);
    }

    /// The read series of `feed`, for the read path to hold.
    pub fn feed_reads(&self, feed: &str) -> Option<FeedReads> {
        self.feeds.get(feed).map(|s| s.reads.clone())
    }

    /// The write series of `feed`, for its writers to hold.
    pub fn feed_writes(&self, feed: &str) -> Option<FeedWrites> {
        self.feeds.get(feed).map(|s| FeedWrites {
            appended: s.appended.clone(),
            append_seconds: s.append_seconds.clone(),
        })
    }

    /// One upstream sync of `feed` ended with `outcome` (a short fixed word
    /// such as `updated`, `not_modified`, `failed`: it becomes a label value).
    pub fn record_sync(&self, feed: &str, outcome: &str) {
        self.syncs
            .get_or_create(&SyncLabels {
                feed: feed.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// The scrape: the scrape-time values (store size, consumers and their
    /// lag) are set first, then everything is encoded.
    pub fn render<'a>(
        &self,
        store_bytes: Option<u64>,
        consumers: impl IntoIterator<Item = ConsumerLag<'a>>,
    ) -> String {
        let _one_at_a_time = crate::sync::lock(&self.scrape);
        self.process.update(&process::read());
        if let Some(bytes) = store_bytes {
            self.store_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        self.lag_transactions.clear();
        self.lag_seconds.clear();
        for feed in self.feeds.keys() {
            self.consumers
                .get_or_create(&FeedLabel { feed: feed.clone() })
                .set(0);
        }
        for c in consumers {
            self.consumers
                .get_or_create(&FeedLabel {
                    feed: c.feed.to_string(),
                })
                .inc();
            let labels = ConsumerLabels {
                feed: c.feed.to_string(),
                consumer: c.consumer.to_string(),
            };
            self.lag_transactions
                .get_or_create(&labels)
                .set(i64::try_from(c.transactions).unwrap_or(i64::MAX));
            self.lag_seconds.get_or_create(&labels).set(c.seconds);
        }
        let mut out = String::with_capacity(8 * 1024);
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests;
