//! Operations endpoints: `/healthz` (process alive), `/readyz` (store open and
//! writable), `GET /feeds` (the feeds with head position and counts).

use super::{http_date, json, Res};
use crate::app::App;
use crate::error::ApiError;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::json;

pub fn healthz() -> Res {
    let mut res = Response::new(Full::new(Bytes::from_static(b"ok\n")));
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

pub fn readyz(app: &App) -> Res {
    match app.store.check_writable() {
        Ok(()) => json(StatusCode::OK, &json!({"status": "ready"})),
        Err(e) => ApiError::StoreUnavailable(e.to_string()).into_response(),
    }
}

/// The feeds `who` may read (all of them without authorization).
pub fn list_feeds(app: &App, who: Option<&crate::auth::Credential>) -> Res {
    let feeds: Vec<_> = app
        .store
        .feeds()
        .into_iter()
        .filter(|log| app.auth.can_read(who, log.name()))
        .map(|log| {
            let head = log.published();
            let info = app.feeds.get(log.name());
            json!({
                "name": log.name(),
                "title": info.map(|i| i.title.as_str()),
                "kind": if info.is_some_and(|i| i.upstream) { "upstream" } else { "push" },
                "epoch": log.epoch(),
                "head": head.seq,
                "etag": format!("{}.{}", log.epoch(), head.seq),
                "last_modified": (head.seq > 0).then(|| http_date(head.stamp)),
                "transactions": head.seq,
                "items": head.live,
            })
        })
        .collect();
    json(StatusCode::OK, &json!({ "feeds": feeds }))
}
