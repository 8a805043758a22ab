//! The series of immediate mode (PROTOCOL §9): requests waiting now (long
//! polls and event streams, by kind), how waits ended, and WebSub
//! deliveries and subscribers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabel {
    end: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    feed: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabel {
    feed: String,
}

/// What kind of request waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitKind {
    LongPoll,
    Stream,
}

impl WaitKind {
    fn as_str(self) -> &'static str {
        match self {
            WaitKind::LongPoll => "long_poll",
            WaitKind::Stream => "sse",
        }
    }
}

/// How a long-poll ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitEnd {
    /// A transaction beyond the cursor became visible: the page.
    Woken,
    /// The deadline: the 304.
    Deadline,
    /// The gateway is shutting down: the 304 at once.
    Shutdown,
    /// `max_waiting` was reached: answered at once, without waiting.
    OverCap,
}

impl WaitEnd {
    const ALL: [WaitEnd; 4] = [
        WaitEnd::Woken,
        WaitEnd::Deadline,
        WaitEnd::Shutdown,
        WaitEnd::OverCap,
    ];

    fn as_str(self) -> &'static str {
        match self {
            WaitEnd::Woken => "woken",
            WaitEnd::Deadline => "deadline",
            WaitEnd::Shutdown => "shutdown",
            WaitEnd::OverCap => "over_cap",
        }
    }
}

#[derive(Debug)]
pub struct Immediate {
    waiting: Family<KindLabel, Gauge>,
    ends: Family<EndLabel, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    subscribers: Family<FeedLabel, Gauge>,
}

impl Immediate {
    /// The series, registered (at zero) in `registry`.
    pub fn register(registry: &mut Registry) -> Immediate {
        let m = Immediate {
            waiting: Family::default(),
            ends: Family::default(),
            deliveries: Family::default(),
            subscribers: Family::default(),
        };
        for kind in [WaitKind::LongPoll, WaitKind::Stream] {
            let _ = m.waiting.get_or_create(&KindLabel {
                kind: kind.as_str(),
            });
        }
        for end in WaitEnd::ALL {
            let _ = m.ends.get_or_create(&EndLabel { end: end.as_str() });
        }
        registry.register(
            "waiting",
            "Requests waiting now for a feed's head to move (max_waiting), by kind (long_poll, sse)",
            m.waiting.clone(),
        );
        registry.register(
            "long_polls",
            "Long-polls answered, by how the wait ended (woken, deadline, shutdown, over_cap)",
            m.ends.clone(),
        );
        registry.register(
            "websub_deliveries",
            "WebSub content deliveries to subscribers' callbacks, by feed and outcome (delivered, failed)",
            m.deliveries.clone(),
        );
        registry.register(
            "websub_subscribers",
            "Verified WebSub subscriptions, by feed",
            m.subscribers.clone(),
        );
        m
    }

    /// One more (`up`) or one fewer request of `kind` waiting.
    pub fn waiting(&self, kind: WaitKind, up: bool) {
        let g = self.waiting.get_or_create(&KindLabel {
            kind: kind.as_str(),
        });
        if up {
            g.inc();
        } else {
            g.dec();
        }
    }

    /// Requests of `kind` waiting now.
    pub fn waiting_now(&self, kind: WaitKind) -> i64 {
        self.waiting
            .get_or_create(&KindLabel {
                kind: kind.as_str(),
            })
            .get()
    }

    pub fn long_poll_ended(&self, end: WaitEnd) {
        self.ends
            .get_or_create(&EndLabel { end: end.as_str() })
            .inc();
    }

    /// One delivery to a subscriber of `feed`: `ok` or failed.
    pub fn delivery(&self, feed: &str, ok: bool) {
        let outcome = if ok { "delivered" } else { "failed" };
        self.deliveries
            .get_or_create(&DeliveryLabels {
                feed: feed.to_string(),
                outcome,
            })
            .inc();
    }

    /// `feed` has `n` verified subscriptions now.
    pub fn subscribers(&self, feed: &str, n: usize) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.subscribers
            .get_or_create(&FeedLabel {
                feed: feed.to_string(),
            })
            .set(n);
    }
}
