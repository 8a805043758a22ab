//! The deliveries of one subscription (WebSub §7): the document of the
//! transactions after its stored position, in the topic's format,
//! `POST`ed to the callback with `Link` headers (hub, self) and, with a
//! secret, `X-Hub-Signature: sha256=…` (HMAC-SHA256 of the body).
//!
//! A page at a time, in order: the position moves (and is stored) only
//! once the callback answered 2xx, so a failed delivery is sent again,
//! with the transactions that came meanwhile, after a backoff that doubles
//! from `retry_min` to `retry_max`. A `410 Gone` ends the subscription, as
//! does the end of its lease. Waiting for news is a registration on the
//! feed's head, as for long-polls.

use super::{Active, Subscription};
use crate::app::App;
use crate::cursor::Cursor;
use crate::protocol::{self, Limits, LogNow, Outcome, ReadRequest};
use crate::render::{self, Document};
use crate::store::StoreError;
use crate::sync::lock;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What comes next for a subscription at a position.
enum Next {
    /// Nothing to send; the position to hold (it may move past
    /// transactions the subscriber has nothing to see of).
    Nothing(u64),
    /// This document, which brings the subscriber to `last`.
    Document { body: Vec<u8>, last: u64 },
}

/// Deliver to `active` until it is cancelled, its lease ends, its callback
/// is gone, or the gateway stops.
pub(super) async fn run(app: Arc<App>, active: Arc<Active>, mut cancel: watch::Receiver<bool>) {
    let key = lock(&active.sub).key();
    let Some(feed) = app.feed(&lock(&active.sub).feed) else {
        return;
    };
    let log = feed.log_ref();
    let mut head = log.watch_head();
    let config = app.hub().config();
    let mut backoff = config.retry_min;
    loop {
        head.borrow_and_update();
        let sub = lock(&active.sub).clone();
        let now = app.clock().now_ms();
        if now >= sub.lease_until_ms {
            tracing::info!(callback = %sub.callback, feed = %sub.feed, "WebSub: lease ended");
            end(&app, &key).await;
            return;
        }
        let lease_left = Duration::from_millis(sub.lease_until_ms - now);
        let wait = match next(&app, &sub).await {
            Ok(Next::Nothing(position)) => {
                if position != sub.position || sub.epoch != log.epoch() {
                    hold(&app, &active, log.epoch(), position).await;
                }
                None
            }
            Ok(Next::Document { body, last }) => match post(&app, &sub, body).await {
                Ok(()) => {
                    app.metrics().immediate.delivery(&sub.feed, true);
                    *lock(&active.state) = super::State {
                        failures: 0,
                        last_error: None,
                        delivered_ms: Some(app.clock().now_ms()),
                    };
                    hold(&app, &active, log.epoch(), last).await;
                    backoff = config.retry_min;
                    continue;
                }
                Err(Failure::Gone) => {
                    tracing::info!(callback = %sub.callback, "WebSub: callback answered 410 Gone; subscription ended");
                    end(&app, &key).await;
                    return;
                }
                Err(Failure::Retry(why)) => {
                    app.metrics().immediate.delivery(&sub.feed, false);
                    let mut state = lock(&active.state);
                    state.failures += 1;
                    tracing::debug!(callback = %sub.callback, failures = state.failures, %why, "WebSub: delivery failed");
                    state.last_error = Some(why);
                    let wait = backoff;
                    backoff = (backoff * 2).min(config.retry_max);
                    Some(wait)
                }
            },
            Err(e) => {
                tracing::warn!(feed = %sub.feed, error = %e, "WebSub: cannot read the log");
                Some(config.retry_max)
            }
        };
        let news = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => {
                    let _ = head.changed().await;
                }
            }
        };
        tokio::select! {
            () = app.waiting().stopped() => return,
            _ = cancel.wait_for(|c| *c) => return,
            () = news => {}
            () = tokio::time::sleep(lease_left) => {}
        }
    }
}

/// The subscription took everything up to `position` (of `epoch`): keep
/// it, here and in the store.
async fn hold(app: &App, active: &Active, epoch: &str, position: u64) {
    let (key, bytes) = {
        let mut sub = lock(&active.sub);
        sub.position = position;
        epoch.clone_into(&mut sub.epoch);
        (sub.key(), sub.to_bytes())
    };
    if let Err(e) = app.store().save_hub_record(&key, Some(&bytes)).await {
        // Kept here; a restart before it is stored delivers again.
        tracing::warn!(error = %e, "WebSub: cannot store a subscription's position");
    }
}

/// Remove the subscription `key` for good.
async fn end(app: &App, key: &str) {
    if let Err(e) = app.store().save_hub_record(key, None).await {
        tracing::warn!(error = %e, "WebSub: cannot remove an ended subscription");
    }
    app.hub().forget(key);
}

/// The page after `sub`'s position, as a delivery document.
async fn next(app: &App, sub: &Subscription) -> Result<Next, StoreError> {
    let Some(feed) = app.feed(&sub.feed) else {
        return Ok(Next::Nothing(sub.position));
    };
    let log = feed.log();
    // A position of another epoch means nothing in this log: start again.
    let cursor = if sub.epoch == log.epoch() {
        Cursor::Seq(sub.position)
    } else {
        Cursor::CatchUp
    };
    if cursor == Cursor::Seq(log.head()) {
        return Ok(Next::Nothing(sub.position));
    }
    let c = app.config();
    let limits = Limits {
        max_entries: c.default_limit,
        max_bytes: c.max_page_bytes,
        second_entries: c.max_second_entries,
        second_bytes: c.max_second_bytes,
    };
    let plan = protocol::plan(log, cursor, app.clock().now_ms(), limits).await?;
    let request = ReadRequest {
        cursor,
        conditional: false,
        representation: false,
        if_modified_since: None,
        slot: None,
    };
    let head = log.published();
    let now = LogNow {
        head: head.seq,
        head_stamp: head.stamp,
        dropped: log.dropped(),
    };
    let out = match protocol::outcome(plan, &request, now) {
        Outcome::NotModified { position, .. } => return Ok(Next::Nothing(position)),
        Outcome::Page(out) => out,
    };
    if out.page.entries.is_empty() {
        return Ok(Next::Nothing(out.page.last));
    }
    let base = base(app, sub);
    let feed_url = format!("{base}/feeds/{}", sub.feed);
    let hub_url = format!("{base}/websub");
    let epoch = log.epoch();
    let next_url = out.next.map(|p| format!("{feed_url}?etag={epoch}.{p}"));
    let info = feed.info();
    let doc = Document {
        title: &info.title,
        link: &info.link,
        description: &info.description,
        feed_url: &feed_url,
        self_url: &sub.topic,
        next_url: next_url.as_deref(),
        hub_url: Some(&hub_url),
        etag: &format!("{epoch}.{}", out.page.last),
        last_modified: Some(out.page.last_modified * 1000),
        sync_mode: out.sync_mode,
        head_tick: out.digest_tick,
        head_stamp: out.digest_stamp,
        entries: &out.page.entries,
        // Pushed content, not a poll: the notice is for readers (`/feeds`).
        upstream: None,
    };
    Ok(Next::Document {
        body: render::render(sub.format(), &doc),
        last: out.page.last,
    })
}

/// The base of a delivery's links: `base_url`, else the origin the
/// subscriber named the topic by.
fn base(app: &App, sub: &Subscription) -> String {
    app.config()
        .base_url
        .clone()
        .or_else(|| super::origin_of(&sub.topic))
        .unwrap_or_default()
}

/// Why a delivery did not take.
enum Failure {
    /// `410 Gone`: the subscriber is gone for good.
    Gone,
    Retry(String),
}

/// `POST` `body` to `sub`'s callback.
async fn post(app: &App, sub: &Subscription, body: Vec<u8>) -> Result<(), Failure> {
    let Some(client) = &app.hub().client else {
        return Err(Failure::Retry("no HTTP client".into()));
    };
    let base = base(app, sub);
    let links = format!(
        "<{base}/websub>; rel=\"hub\", <{}>; rel=\"self\"",
        sub.topic
    );
    let mut req = client
        .post(&sub.callback)
        .header(reqwest::header::CONTENT_TYPE, sub.format().content_type())
        .header(reqwest::header::LINK, links);
    if let Some(secret) = &sub.secret {
        req = req.header(
            "X-Hub-Signature",
            format!("sha256={}", signature(secret, &body)),
        );
    }
    let res = req
        .body(body)
        .send()
        .await
        .map_err(|e| Failure::Retry(format!("callback unreachable: {e}")))?;
    match res.status() {
        s if s.is_success() => Ok(()),
        reqwest::StatusCode::GONE => Err(Failure::Gone),
        s => Err(Failure::Retry(format!("callback answered {s}"))),
    }
}

/// Lowercase hex of HMAC-SHA256(`secret`, `body`).
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: the error cannot happen.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
