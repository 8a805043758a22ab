//! The operator's status page, `GET /`: every feed (head, last write,
//! transactions in the last minute, items), its consumers with their lag
//! (the one furthest behind marked), the upstream feeds' sync state and
//! the WebSub subscribers' delivery state.
//!
//! This module gathers a [`Snapshot`] (plain data, read from the app at one
//! moment); `render` turns it into one self-contained HTML document (no
//! external assets; the inline style and script are allowed by their hashes
//! in the `Content-Security-Policy`). The page works without JavaScript; with
//! it, the script fetches the page again every few seconds and swaps its
//! `<main>`, so there is one renderer, not one in Rust and one in JS.

mod render;

use super::{Body, Res};
use crate::app::App;
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::Response;

/// The state the page shows, read at `now_ms`.
pub struct Snapshot {
    pub now_ms: u64,
    pub version: &'static str,
    pub backend: &'static str,
    pub feeds: Vec<FeedRow>,
    pub upstreams: Vec<UpstreamRow>,
    pub subscribers: Vec<SubscriberRow>,
    /// Per mirrored feed, its content state.
    pub content: Vec<(String, crate::content::mirror::FeedState)>,
}

pub struct FeedRow {
    pub name: String,
    pub title: String,
    pub upstream: bool,
    pub etag: String,
    /// Stamp of the head's transaction (`None`: an empty log).
    pub last_write_ms: Option<u64>,
    /// Transactions stamped in the last 60 seconds.
    pub per_minute: u64,
    pub items: u64,
    /// Sorted by lag, the furthest behind first.
    pub consumers: Vec<ConsumerRow>,
    /// Why the consumers could not be read, if they could not.
    pub consumers_error: Option<String>,
}

pub struct ConsumerRow {
    pub name: String,
    pub position: String,
    pub lag_transactions: u64,
    pub lag_ms: u64,
    pub polled_ms: u64,
}

pub struct UpstreamRow {
    pub feed: String,
    pub url: String,
    pub format: &'static str,
    /// `never`, `ok` or `failing`.
    pub state: &'static str,
    /// When the last sync ended and the last one that succeeded (ms).
    pub last_sync_ms: Option<u64>,
    pub last_success_ms: Option<u64>,
    pub last_error: Option<String>,
    pub consecutive_failures: u64,
    pub next_sync_ms: u64,
    /// Whether the next sync runs by itself (`interval`) or on a read.
    pub scheduled: bool,
}

pub struct SubscriberRow {
    pub feed: String,
    pub callback: String,
    /// `up_to_date`, `delivering`, `failing` or `delivered_elsewhere`.
    pub state: &'static str,
    pub lag_transactions: u64,
    pub failures: u32,
    pub last_error: Option<String>,
    pub last_delivery_ms: Option<u64>,
    pub lease_until_ms: u64,
}

/// `GET /`: the page, gathered now.
pub async fn page(app: &App) -> Res {
    let snapshot = gather(app).await;
    let mut res = Response::new(Body::full(Bytes::from(render::page(&snapshot))));
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(&render::content_security_policy()) {
        h.insert(HeaderName::from_static("content-security-policy"), csp);
    }
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// The page's 401 for people: a browser offers its login only for a Basic
/// challenge on a `WWW-Authenticate` line of its own (Chromium reads a line's
/// first challenge), so the page's challenges are two lines, Basic first;
/// the list they form is the one every other 401 sends in one line.
pub fn login(mut res: Res) -> Res {
    let h = res.headers_mut();
    if h.remove(WWW_AUTHENTICATE).is_some() {
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"feedgate\", charset=\"UTF-8\""),
        );
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"feedgate\""),
        );
    }
    res
}

/// Read everything the page shows. A feed whose consumers or subscribers
/// cannot be read (a store error) is still shown, with the error.
pub async fn gather(app: &App) -> Snapshot {
    let now_ms = app.clock().now_ms();
    let mut feeds = Vec::new();
    let mut subscribers = Vec::new();
    for feed in app.feeds() {
        let log = feed.log();
        let head = log.published();
        let since = (now_ms / 1000).saturating_sub(60);
        let per_minute = match log.first_seq_from_second(since).await {
            Ok(Some(first)) if first <= head.seq => head.seq - first + 1,
            _ => 0,
        };
        let (mut consumers, consumers_error) = match app.consumers().report(log).await {
            Ok(rows) => (rows, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        consumers.sort_by(|a, b| {
            (b.lag_transactions, b.lag_ms, &a.name).cmp(&(a.lag_transactions, a.lag_ms, &b.name))
        });
        let consumers = consumers
            .into_iter()
            .map(|r| ConsumerRow {
                position: format!("{}.{}", r.epoch, r.position),
                name: r.name,
                lag_transactions: r.lag_transactions,
                lag_ms: r.lag_ms,
                polled_ms: r.polled_ms,
            })
            .collect();
        if let Ok(subs) = app.hub().subscribers(app, feed.name()).await {
            for s in subs {
                let lag = s.lag(log.epoch(), head.seq);
                let st = s.state.as_ref();
                subscribers.push(SubscriberRow {
                    feed: feed.name().to_string(),
                    state: s.delivery_state(lag),
                    failures: st.map_or(0, |st| st.failures),
                    last_error: st.and_then(|st| st.last_error.clone()),
                    last_delivery_ms: st.and_then(|st| st.delivered_ms),
                    lease_until_ms: s.sub.lease_until_ms,
                    lag_transactions: lag,
                    callback: s.sub.callback,
                });
            }
        }
        feeds.push(FeedRow {
            name: feed.name().to_string(),
            title: feed.info().title.clone(),
            upstream: feed.info().upstream,
            etag: format!("{}.{}", log.epoch(), head.seq),
            last_write_ms: (head.seq > 0).then_some(head.stamp),
            per_minute,
            items: head.live,
            consumers,
            consumers_error,
        });
    }
    let upstreams = app
        .feeds()
        .into_iter()
        .filter_map(|feed| {
            let syncer = feed.upstream()?;
            let s = syncer.status();
            let (next_sync_ms, scheduled) = syncer.next_sync();
            Some(UpstreamRow {
                feed: feed.name().to_string(),
                url: s.url,
                format: s.format,
                state: s.state,
                last_sync_ms: s.last_sync.as_deref().and_then(ms_of),
                last_success_ms: s.last_success.as_deref().and_then(ms_of),
                last_error: s.last_error,
                consecutive_failures: s.consecutive_failures,
                next_sync_ms,
                scheduled,
            })
        })
        .collect();
    let content = app.mirror().map_or_else(Vec::new, |m| {
        app.feeds()
            .into_iter()
            .filter_map(|f| Some((f.name().to_string(), m.state(f.name())?)))
            .collect()
    });
    Snapshot {
        content,
        now_ms,
        version: env!("CARGO_PKG_VERSION"),
        backend: if app.store().shared() {
            "PostgreSQL"
        } else {
            "embedded (sled)"
        },
        feeds,
        upstreams,
        subscribers,
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp.
fn ms_of(rfc3339: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    u64::try_from(t.timestamp_millis()).ok()
}
