//! `feedgate_http_requests_total`: HTTP requests answered, by route and
//! status, recorded by the HTTP edge. The common route/status pairs keep a
//! handle at hand, so a poll costs an atomic add rather than a lock and a
//! hash of its labels; other pairs go through the family.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

/// The `route` labels and statuses whose counters are kept at hand.
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

pub struct Requests {
    family: Family<RequestLabels, Counter>,
    /// Handles into `family`, filled on first use (so a series still
    /// appears only once counted).
    hot: [[OnceLock<Counter>; HOT_STATUSES.len()]; HOT_ROUTES.len()],
}

impl Requests {
    /// The series, registered in `registry` (each appears once counted).
    pub fn register(registry: &mut Registry) -> Requests {
        let family = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            family.clone(),
        );
        Requests {
            family,
            hot: Default::default(),
        }
    }

    /// One request answered (`route` is a fixed label, e.g. `feed`).
    pub fn record(&self, route: &'static str, status: u16) {
        let labels = RequestLabels { route, status };
        let hot = HOT_ROUTES.iter().position(|r| *r == route).and_then(|r| {
            let s = HOT_STATUSES.iter().position(|s| *s == status)?;
            Some(&self.hot[r][s])
        });
        match hot {
            Some(slot) => slot
                .get_or_init(|| self.family.get_or_create_owned(&labels))
                .inc(),
            None => self.family.get_or_create(&labels).inc(),
        };
    }
}
