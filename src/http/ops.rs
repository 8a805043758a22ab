//! Operations endpoints: `/healthz` (process alive), `/readyz` (store open and
//! writable, and the store's own conditions, `Backend::health`), `/metrics` (Prometheus text), `GET /feeds` (the feeds with head
//! position and counts), `GET /feeds/{feed}/consumers` (the consumer report).

use super::Body;
use super::{feed, http_date, json, Res};
use crate::app::App;
use crate::error::ApiError;
use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::json;

/// The API's OpenAPI 3.1 description, as kept in the repository
/// (`docs/openapi.json`): the same bytes for everyone, so caches may keep
/// it for a minute.
pub fn openapi() -> Res {
    static DOC: &[u8] = include_bytes!("../../docs/openapi.json");
    let mut res = Response::new(Body::full(Bytes::from_static(DOC)));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    res
}

pub fn healthz() -> Res {
    let mut res = Response::new(Body::full(Bytes::from_static(b"ok\n")));
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// Ready when the store is writable. Upstream origins do not make the
/// gateway unready (an upstream feed whose origin fails is still served from
/// its log); they are counted, and shown one by one (state, last sync, last
/// error) only for the feeds `detail` allows: the probe is open, and an
/// origin's errors are for the feed's admins (`http::probe_detail`).
pub async fn readyz(app: &App, detail: impl Fn(&str) -> bool) -> Res {
    match app.store().check_writable().await {
        Ok(()) => {
            let mut body = json!({"status": "ready"});
            // Degraded but ready (e.g. PostgreSQL notifications reconnecting).
            for (key, state) in app.store().health() {
                body[key] = state.into();
            }
            let upstreams = app.upstreams().statuses();
            if !upstreams.is_empty() {
                let failing = upstreams
                    .iter()
                    .filter(|(_, s)| s.state == "failing")
                    .count();
                body["upstreams_total"] = upstreams.len().into();
                body["upstreams_failing"] = failing.into();
                let shown: serde_json::Map<_, _> = upstreams
                    .into_iter()
                    .filter(|(name, _)| detail(name))
                    .map(|(name, s)| {
                        let v = json!({
                            "state": s.state,
                            "last_sync": s.last_sync,
                            "last_outcome": s.last_outcome,
                            "consecutive_failures": s.consecutive_failures,
                            "last_error": s.last_error,
                        });
                        (name.to_string(), v)
                    })
                    .collect();
                if !shown.is_empty() {
                    body["upstreams"] = shown.into();
                }
                body["note"] = "upstream failures do not affect readiness: those feeds are served from their logs".into();
            }
            json(StatusCode::OK, &body)
        }
        Err(e) => ApiError::StoreUnavailable(e.to_string()).into_response(),
    }
}

/// The feeds `who` may read (all of them without authorization).
pub fn list_feeds(app: &App, who: Option<&crate::auth::Credential>) -> Res {
    let feeds: Vec<_> = app
        .feeds()
        .into_iter()
        .filter(|feed| app.auth().can_read(who, feed.name()))
        .map(|feed| {
            let (log, info) = (feed.log(), feed.info());
            let head = log.published();
            let upstream = feed.upstream().map(|s| s.status());
            json!({
                "name": feed.name(),
                "title": info.title,
                "kind": if info.upstream { "upstream" } else { "push" },
                "epoch": log.epoch(),
                "head": head.seq,
                "etag": format!("{}.{}", log.epoch(), head.seq),
                "last_modified": (head.seq > 0).then(|| http_date(head.stamp)),
                "transactions": head.seq,
                "items": head.live,
                "upstream": upstream,
                "content": app.mirror().and_then(|m| m.state(feed.name())),
            })
        })
        .collect();
    json(StatusCode::OK, &json!({ "feeds": feeds }))
}

/// The Prometheus scrape, with store size and consumer lag computed now.
pub async fn metrics(app: &App) -> Res {
    let store_bytes = app
        .store()
        .size_on_disk()
        .await
        .map_err(|e| tracing::warn!(error = %e, "cannot read the store size"))
        .ok();
    let mut reports = Vec::new();
    for feed in app.feeds() {
        match app.consumers().report(feed.log()).await {
            Ok(rows) => reports.push((feed.name(), rows)),
            Err(e) => {
                tracing::warn!(feed = feed.name(), error = %e, "cannot compute consumer lag");
            }
        }
    }
    let lags = reports.iter().flat_map(|(feed, rows)| {
        rows.iter().map(move |r| crate::metrics::ConsumerLag {
            feed,
            consumer: &r.name,
            transactions: r.lag_transactions,
            seconds: r.lag_ms as f64 / 1000.0,
        })
    });
    let mut res = Response::new(Body::full(Bytes::from(
        app.metrics().render(store_bytes, lags),
    )));
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    res
}

/// Each consumer of the feed: position, last poll and lag, sorted by name.
pub async fn consumers(app: &App, name: &str) -> Result<Res, ApiError> {
    let log = feed(app, name)?.log();
    let head = log.published();
    let consumers: Vec<_> = app
        .consumers()
        .report(log)
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "name": r.name,
                "position": format!("{}.{}", r.epoch, r.position),
                "last_poll": http_date(r.polled_ms),
                "last_poll_rfc3339": crate::clock::rfc3339_ms(r.polled_ms),
                "lag_transactions": r.lag_transactions,
                "lag_seconds": r.lag_ms as f64 / 1000.0,
            })
        })
        .collect();
    let subscribers: Vec<_> = app
        .hub()
        .subscribers(app, name)
        .await?
        .into_iter()
        .map(|s| {
            let lag = s.lag(log.epoch(), head.seq);
            let state = s.state.as_ref();
            json!({
                "callback": s.sub.callback,
                "topic": s.sub.topic,
                "format": s.sub.format,
                "position": format!("{}.{}", s.sub.epoch, s.sub.position),
                "lag_transactions": lag,
                "lease_expires": http_date(s.sub.lease_until_ms),
                "state": s.delivery_state(lag),
                "failures": state.map_or(0, |st| st.failures),
                "last_error": state.and_then(|st| st.last_error.clone()),
                "last_delivery": state.and_then(|st| st.delivered_ms).map(http_date),
            })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({
            "feed": name,
            "head": format!("{}.{}", log.epoch(), head.seq),
            "consumers": consumers,
            "subscribers": subscribers,
        }),
    ))
}
