//! One feed's write series: append latency (the durable flush included)
//! and transactions by action.

use crate::store::{Appended, Outcome};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use std::time::Instant;

/// One feed's write series: every write path (the push API, seeds, upstream
/// syncs) times its append through [`FeedWrites::timed`].
#[derive(Clone, Debug)]
pub struct FeedWrites {
    /// By action: add, update, delete.
    pub(super) appended: [Counter; 3],
    pub(super) append_seconds: Histogram,
}

impl FeedWrites {
    /// Series of a feed `/metrics` does not show (tests).
    pub fn detached() -> FeedWrites {
        FeedWrites {
            appended: Default::default(),
            append_seconds: super::latency_histogram(),
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
