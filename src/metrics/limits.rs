//! The series of feedgate's protective limits, so load that is shed is seen:
//! connections refused or closed at `max_connections` (`server`), request
//! bodies that did not arrive within `body_read_timeout`, and push requests
//! that had to wait for the ingest memory budget (`ingest::budget`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Every slot taken and none idle: answered `503 overloaded`.
    Overloaded,
    /// Not even the reserve for such answers was free: closed unanswered.
    Dropped,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Overloaded => "overloaded",
            Rejection::Dropped => "dropped",
        }
    }
}

#[derive(Debug)]
pub struct Limits {
    rejected: Family<ReasonLabel, Counter>,
    evicted: Counter,
    body_timeouts: Counter,
    ingest_waits: Counter,
}

impl Limits {
    /// The series, registered (at zero) in `registry`.
    pub fn register(registry: &mut Registry) -> Limits {
        let limits = Limits {
            rejected: Family::default(),
            evicted: Counter::default(),
            body_timeouts: Counter::default(),
            ingest_waits: Counter::default(),
        };
        for r in [Rejection::Overloaded, Rejection::Dropped] {
            let _ = limits
                .rejected
                .get_or_create(&ReasonLabel { reason: r.as_str() });
        }
        registry.register(
            "connections_rejected",
            "Connections refused at max_connections, by reason (overloaded: answered 503; dropped: closed unanswered)",
            limits.rejected.clone(),
        );
        registry.register(
            "connections_evicted",
            "Idle keep-alive connections closed to make room for a new connection at max_connections",
            limits.evicted.clone(),
        );
        registry.register(
            "body_read_timeouts",
            "Requests whose body did not arrive within body_read_timeout (answered 408)",
            limits.body_timeouts.clone(),
        );
        registry.register(
            "ingest_waits",
            "Push API requests that waited for the ingest memory budget",
            limits.ingest_waits.clone(),
        );
        limits
    }

    pub fn rejected(&self, why: Rejection) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: why.as_str(),
            })
            .inc();
    }

    pub fn evicted(&self) {
        self.evicted.inc();
    }

    pub fn body_timeout(&self) {
        self.body_timeouts.inc();
    }

    pub fn ingest_waited(&self) {
        self.ingest_waits.inc();
    }
}
