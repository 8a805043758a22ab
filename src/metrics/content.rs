//! The series of content mirroring (`crate::content`): download attempts by
//! outcome, bytes received, and the files and bytes stored per feed.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    feed: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabel {
    feed: String,
}

#[derive(Debug, Default)]
pub struct Content {
    downloads: Family<OutcomeLabels, Counter>,
    received: Family<FeedLabel, Counter>,
    files: Family<FeedLabel, Gauge>,
    bytes: Family<FeedLabel, Gauge>,
}

impl Content {
    pub fn register(registry: &mut Registry) -> Content {
        let m = Content::default();
        registry.register(
            "content_downloads",
            "Content download attempts, by feed and outcome (stored, failed, given_up)",
            m.downloads.clone(),
        );
        registry.register(
            "content_received_bytes",
            "Bytes of content received from origins, by feed",
            m.received.clone(),
        );
        registry.register(
            "content_files",
            "Mirrored files the feed's items point at (set by each collection)",
            m.files.clone(),
        );
        registry.register(
            "content_stored_bytes",
            "Bytes of the mirrored files the feed's items point at (set by each collection)",
            m.bytes.clone(),
        );
        m
    }

    /// One download attempt of `feed` ended so (`stored`, `failed`: to be
    /// retried, `given_up`).
    pub fn attempt(&self, feed: &str, outcome: &'static str) {
        let labels = OutcomeLabels {
            feed: feed.to_string(),
            outcome,
        };
        self.downloads.get_or_create(&labels).inc();
    }

    pub fn received(&self, feed: &str, bytes: u64) {
        let label = FeedLabel {
            feed: feed.to_string(),
        };
        self.received.get_or_create(&label).inc_by(bytes);
    }

    /// What `feed`'s items point at now.
    pub fn stored(&self, feed: &str, files: u64, bytes: u64) {
        let label = FeedLabel {
            feed: feed.to_string(),
        };
        self.files
            .get_or_create(&label)
            .set(i64::try_from(files).unwrap_or(i64::MAX));
        self.bytes
            .get_or_create(&label)
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}
