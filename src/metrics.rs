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

use crate::protocol::Plan;
use crate::render::Format;
use crate::store::{Appended, Outcome};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Instant;

mod limits;
pub use limits::{Limits, Rejection};

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the entries-per-page histogram.
const PAGE_BUCKETS: [f64; 11] = [
    0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
];

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadLabels {
    feed: String,
    format: &'static str,
    outcome: &'static str,
}

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

/// One feed's write series: every write path times its append through
/// [`FeedWrites::timed`] (the time includes the durable flush).
#[derive(Clone, Debug)]
pub struct FeedWrites {
    /// By action: add, update, delete.
    appended: [Counter; 3],
    append_seconds: Histogram,
}

impl FeedWrites {
    /// Series of a feed `/metrics` does not show (tests).
    pub fn detached() -> FeedWrites {
        FeedWrites {
            appended: Default::default(),
            append_seconds: latency_histogram(),
        }
    }

    /// Await `append`, then record its time and its transactions by action.
    pub async fn timed<E>(
        &self,
        append: impl std::future::Future<Output = Result<Appended, E>>,
    ) -> Result<Appended, E> {
        let started = Instant::now();
        let result = append.await;
        self.append_seconds.observe(started.elapsed().as_secs_f64());
        if let Ok(done) = &result {
            for a in &done.applied {
                match a.outcome {
                    Outcome::Add => self.appended[0].inc(),
                    Outcome::Update => self.appended[1].inc(),
                    Outcome::Delete => self.appended[2].inc(),
                    Outcome::Unchanged => 0,
                };
            }
        }
        result
    }
}

/// One feed's read series. The read path holds a clone per feed
/// (`http::ReadCache`), so recording a read is an atomic add or two, with
/// no lookup by name.
#[derive(Clone, Debug)]
pub struct FeedReads {
    /// `[format][outcome]`: format rss, atom; outcome not_modified, page.
    reads: [[Counter; 2]; 2],
    page_entries: Histogram,
}

impl FeedReads {
    /// Series of a feed `/metrics` does not show (none: every configured feed has its own).
    pub fn detached() -> FeedReads {
        FeedReads {
            reads: Default::default(),
            page_entries: page_histogram(),
        }
    }

    /// One read decided: 304 or a page (and its number of entries).
    pub fn plan(&self, format: Format, plan: &Plan) {
        match plan {
            Plan::NotModified { .. } => self.outcome(format, None),
            Plan::Page(page) => self.outcome(format, Some(page.entries.len())),
        }
    }

    /// One read answered with a page of `entries` entries rendered before
    /// (the read path's page cache: no [`Plan`] at hand).
    pub fn page(&self, format: Format, entries: usize) {
        self.outcome(format, Some(entries));
    }

    /// A 304 (`None`) or a page of so many entries.
    fn outcome(&self, format: Format, page_entries: Option<usize>) {
        let f = match format {
            Format::Rss => 0,
            Format::Atom => 1,
        };
        match page_entries {
            None => {
                self.reads[f][0].inc();
            }
            Some(n) => {
                self.reads[f][1].inc();
                self.page_entries.observe(n as f64);
            }
        }
    }
}

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

/// The `route` labels and statuses whose request counters are kept at hand
/// ([`Metrics::request`]'s fast path); others go through the family.
const HOT_ROUTES: [&str; 9] = [
    "feed",
    "item",
    "items",
    "feeds",
    "consumers",
    "healthz",
    "readyz",
    "metrics",
    "unknown",
];
const HOT_STATUSES: [u16; 8] = [200, 201, 226, 304, 400, 401, 403, 404];

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    /// Handles into `requests`, filled on first use (so a series still
    /// appears only once counted): a poll costs an atomic add, not a
    /// lock and a hash of its labels.
    hot_requests: [[std::sync::OnceLock<Counter>; HOT_STATUSES.len()]; HOT_ROUTES.len()],
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
}

fn page_histogram() -> Histogram {
    Histogram::new(PAGE_BUCKETS)
}

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~4 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Metrics {
    /// The registry with every series of `feeds` created (at zero).
    pub fn new<'a>(feeds: impl IntoIterator<Item = &'a str>) -> Metrics {
        let mut registry = Registry::with_prefix("feedgate");
        let requests = Family::<RequestLabels, Counter>::default();
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
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
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
        let limits = Limits::register(&mut registry);
        let feeds = feeds
            .into_iter()
            .map(|feed| {
                let read = |format, outcome| {
                    reads.get_or_create_owned(&ReadLabels {
                        feed: feed.to_string(),
                        format,
                        outcome,
                    })
                };
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
                    reads: FeedReads {
                        reads: [
                            [read("rss", "not_modified"), read("rss", "page")],
                            [read("atom", "not_modified"), read("atom", "page")],
                        ],
                        page_entries: pages.get_or_create_owned(&label),
                    },
                    appended: [action("add"), action("update"), action("delete")],
                    append_seconds: latency.get_or_create_owned(&label),
                };
                (feed.to_string(), series)
            })
            .collect();
        Metrics {
            registry,
            requests,
            hot_requests: Default::default(),
            feeds,
            syncs,
            store_bytes,
            consumers,
            lag_transactions,
            lag_seconds,
            scrape: Mutex::new(()),
            limits,
        }
    }

    /// One HTTP request answered (`route` is a fixed label, e.g. `feed`).
    pub fn request(&self, route: &'static str, status: u16) {
        let labels = RequestLabels { route, status };
        let hot = HOT_ROUTES.iter().position(|r| *r == route).and_then(|r| {
            let s = HOT_STATUSES.iter().position(|s| *s == status)?;
            Some(&self.hot_requests[r][s])
        });
        match hot {
            Some(slot) => slot
                .get_or_init(|| self.requests.get_or_create_owned(&labels))
                .inc(),
            None => self.requests.get_or_create(&labels).inc(),
        };
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
