//! Server-sent events (PROTOCOL §9): `GET /feeds/{feed}` with `Accept:
//! text/event-stream` streams one event per transaction as it becomes
//! visible: `id:` its position `EPOCH.SEQ`, `event:` its action, `data:`
//! the item as the push API's `GET` returns it (`{"id": …}` for a delete).
//!
//! - The cursor: `Last-Event-ID` (what a reconnecting `EventSource`
//!   sends) first, else the validators of PROTOCOL §3; the start is where
//!   `protocol::plan` puts a read with that cursor, so a client that
//!   reconnects is replayed exactly what it missed. A client whose
//!   position the log cannot continue (another epoch, a dropped
//!   tombstone after it) gets `event: reset` and the log from its start.
//! - The action of each event is relative to the client's position, as in
//!   documents (`protocol::collapse` of one transaction): a delete of an
//!   item the client never held is not sent, though its position is.
//! - Backlog first, then live: the stream waits on the feed's head
//!   (`Log::watch_head`) in a place of `max_waiting`; over the cap it
//!   sends the backlog and ends. A comment every `sse_heartbeat` when
//!   nothing else was sent, `retry:` first, the end after `sse_lifetime`
//!   or at shutdown (the client reconnects and resumes).
//! - The response is `Cache-Control: no-store` and `Connection: close`: a
//!   stream holds its connection until it ends.

use super::{Body, Res};
use crate::app::App;
use crate::cursor::{self, Cursor, Validators};
use crate::error::ApiError;
use crate::feed::Feed;
use crate::metrics::WaitKind;
use crate::model::Action;
use crate::protocol::{self, Limits, Plan};
use crate::store::LogRef;
use crate::waiting::Waiter;
use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
/// Transactions read (and sent as one chunk) at a time.
const BATCH: usize = 100;

/// Where a stream starts: after `position`; `reset` when the client named
/// a position the log cannot continue from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Start {
    position: u64,
    reset: bool,
}

/// The event stream of `feed` for a request with `headers` and the
/// query's validators `etag` / `last_mod`.
pub async fn stream(
    app: &Arc<App>,
    feed: &Feed,
    headers: &HeaderMap,
    etag: Option<&str>,
    last_mod: Option<&str>,
) -> Result<Res, ApiError> {
    let text = |name| {
        headers
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or(""))
    };
    let log = feed.log_ref();
    let now = app.clock().now_ms();
    let start = match text(LAST_EVENT_ID) {
        // An id, not a tag: the position it names.
        Some(id) => {
            start_at(
                app,
                &log,
                Validators {
                    if_none_match: Some(&format!("\"{}\"", id.trim())),
                    ..Validators::default()
                },
                now,
            )
            .await?
        }
        None => {
            let inm: Vec<&str> = headers
                .get_all(header::IF_NONE_MATCH)
                .iter()
                .map(|v| v.to_str().unwrap_or(""))
                .collect();
            let inm = inm.join(", ");
            let v = Validators {
                if_none_match: (!inm.is_empty()).then_some(inm.as_str()),
                etag,
                if_modified_since: text(header::IF_MODIFIED_SINCE),
                last_mod,
            };
            start_at(app, &log, v, now).await?
        }
    };
    let waiter = app.waiting().enter(WaitKind::Stream);
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(run(app.clone(), log.clone(), start, waiter, tx));
    let mut res = Response::new(Body::Stream(rx));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    // nginx passes the events on as they come.
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}

/// The start for `validators`: where a read with them would begin.
async fn start_at(app: &App, log: &LogRef, v: Validators<'_>, now: u64) -> Result<Start, ApiError> {
    let named = v.if_none_match.is_some()
        || v.etag.is_some()
        || v.if_modified_since.is_some()
        || v.last_mod.is_some();
    let head = log.head();
    let cursor = cursor::resolve(&v, log.epoch(), head, now / 1000);
    let limits = limits(app, 1);
    let position = match protocol::plan(log.as_ref(), cursor, now, limits).await? {
        Plan::NotModified { position, .. } => position,
        Plan::Page(page) => page.after,
    };
    let lost = match cursor {
        Cursor::CatchUp => named,
        Cursor::Seq(p) => p > 0 && position == 0,
        Cursor::Star | Cursor::Date(_) => false,
    };
    Ok(Start {
        position,
        reset: lost,
    })
}

fn limits(app: &App, entries: usize) -> Limits {
    let c = app.config();
    Limits {
        max_entries: entries,
        max_bytes: c.max_page_bytes,
        second_entries: c.max_second_entries,
        second_bytes: c.max_second_bytes,
    }
}

/// Send the stream from `start`: backlog, then live until the lifetime
/// ends, the gateway stops, or the client goes.
async fn run(
    app: Arc<App>,
    log: LogRef,
    start: Start,
    waiter: Option<Waiter>,
    tx: mpsc::Sender<Bytes>,
) {
    let config = app.config();
    // Every wait below, a slow client's included, ends with these.
    let ended = async {
        tokio::select! {
            () = app.waiting().stopped() => {}
            () = tokio::time::sleep(config.sse_lifetime) => {}
        }
    };
    tokio::pin!(ended);
    let mut head = log.watch_head();
    let mut pos = start.position;
    let mut out = format!("retry: {}\n\n", config.sse_retry.as_millis());
    if start.reset {
        out.push_str(RESET);
    }
    loop {
        head.borrow_and_update();
        if pos < log.dropped() {
            // Compaction dropped a tombstone the client had not seen.
            out.push_str(RESET);
            pos = 0;
        }
        let visible = log.head();
        let txns = match log.scan(pos, visible, BATCH, config.max_page_bytes).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(feed = log.name(), error = %e, "event stream ended: cannot read the log");
                return;
            }
        };
        for t in txns {
            let seq = t.seq;
            if let Some(e) = protocol::collapse(vec![t], pos).first() {
                event(&mut out, log.epoch(), e);
            }
            pos = seq;
        }
        if !out.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut out));
            tokio::select! {
                sent = tx.send(chunk) => if sent.is_err() { return },
                () = &mut ended => return,
            }
        }
        if pos < visible {
            continue;
        }
        if waiter.is_none() {
            // Over `max_waiting`: the backlog only.
            return;
        }
        let beat = Instant::now() + config.sse_heartbeat;
        tokio::select! {
            biased;
            () = &mut ended => return,
            () = tx.closed() => return,
            changed = head.changed() => if changed.is_err() { return },
            () = sleep_until(beat) => out.push_str(": heartbeat\n\n"),
        }
    }
}

const RESET: &str = "event: reset\ndata: {}\n\n";

/// Append the event of `e` to `out`.
fn event(out: &mut String, epoch: &str, e: &crate::model::Entry) {
    let data = match (&e.payload, e.action) {
        (Some(p), a) if a != Action::Delete => crate::ingest::item_json(&e.id, p),
        _ => serde_json::json!({ "id": e.id }),
    };
    let _ = write!(
        out,
        "id: {epoch}.{}\nevent: {}\ndata: {data}\n\n",
        e.seq,
        e.action.as_str()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, Payload};

    #[test]
    fn an_event_is_id_action_and_the_item_json() {
        let mut out = String::new();
        let payload = Payload {
            title: Some("line\nbreak".into()),
            ..Payload::default()
        };
        let add = Entry {
            seq: 7,
            id: "a".into(),
            action: Action::Add,
            stamp: 0,
            payload: Some(payload),
        };
        event(&mut out, "ep", &add);
        let del = Entry {
            seq: 8,
            id: "a".into(),
            action: Action::Delete,
            stamp: 0,
            payload: None,
        };
        event(&mut out, "ep", &del);
        assert_eq!(
            out,
            "id: ep.7\nevent: add\ndata: {\"id\":\"a\",\"title\":\"line\\nbreak\"}\n\n\
             id: ep.8\nevent: delete\ndata: {\"id\":\"a\"}\n\n"
        );
    }
}
