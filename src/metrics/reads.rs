//! The read side of `/metrics`: one feed's read series ([`FeedReads`]),
//! created at start by [`super::Metrics::new`] and held by the read path
//! beside the feed's log, so recording a read is an atomic add or two.

use crate::protocol::Plan;
use crate::render::Format;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// Upper bounds of the entries-per-page histogram.
const PAGE_BUCKETS: [f64; 11] = [
    0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReadLabels {
    feed: String,
    format: &'static str,
    outcome: &'static str,
}

pub(super) fn page_histogram() -> Histogram {
    Histogram::new(PAGE_BUCKETS)
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
    /// `feed`'s series in `reads` (by format and outcome), and its histogram
    /// of entries per page.
    pub(super) fn new(
        feed: &str,
        reads: &Family<ReadLabels, Counter>,
        page_entries: Histogram,
    ) -> FeedReads {
        let read = |format, outcome| {
            reads.get_or_create_owned(&ReadLabels {
                feed: feed.to_string(),
                format,
                outcome,
            })
        };
        FeedReads {
            reads: [
                [read("rss", "not_modified"), read("rss", "page")],
                [read("atom", "not_modified"), read("atom", "page")],
            ],
            page_entries,
        }
    }

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
