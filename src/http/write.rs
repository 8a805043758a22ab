//! The push API (PROTOCOL §5): PUT, DELETE and GET of one item, atomic POST
//! batches. Input is checked completely before the store is touched.

use super::{etag_header, feed, http_date, json, json_body, Res};
use crate::app::App;
use crate::error::ApiError;
use crate::ingest;
use crate::store::{Appended, FeedLog, Op, Outcome};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ETAG, LAST_MODIFIED};
use hyper::{Request, StatusCode};
use serde_json::json;

/// The feed's log, if the push API may write it.
fn writable<'a>(app: &'a App, name: &str) -> Result<&'a FeedLog, ApiError> {
    let (log, info) = feed(app, name)?;
    if info.upstream {
        return Err(ApiError::ReadOnlyFeed(name.to_string()));
    }
    Ok(log)
}

pub async fn put_item(
    app: &App,
    req: Request<Incoming>,
    name: &str,
    id: &str,
) -> Result<Res, ApiError> {
    let log = writable(app, name)?;
    let body = json_body(app, req).await?;
    let payload = ingest::parse_put(&body, id)?;
    let put = [Op::Put {
        id: id.to_string(),
        payload,
    }];
    let done = app.metrics.append(log, &put).await?;
    let status = match done.applied.first().map(|a| a.outcome) {
        Some(Outcome::Add) => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok(single(log, status, &done))
}

pub async fn delete_item(app: &App, name: &str, id: &str) -> Result<Res, ApiError> {
    let log = writable(app, name)?;
    let delete = [Op::Delete { id: id.to_string() }];
    let done = app.metrics.append(log, &delete).await?;
    Ok(single(log, StatusCode::OK, &done))
}

pub async fn batch(app: &App, req: Request<Incoming>, name: &str) -> Result<Res, ApiError> {
    let log = writable(app, name)?;
    let body = json_body(app, req).await?;
    let ops = ingest::parse_batch(&body)?;
    let done = app.metrics.append(log, &ops).await?;
    let etag = format!("{}.{}", log.epoch(), done.head);
    let items: Vec<_> = done
        .applied
        .iter()
        .map(|a| json!({"id": a.id, "seq": a.seq, "etag": etag, "action": a.outcome.as_str()}))
        .collect();
    let mut res = json(
        StatusCode::OK,
        &json!({"etag": etag, "head": done.head, "items": items}),
    );
    res.headers_mut()
        .insert(ETAG, etag_header(log.epoch(), done.head));
    Ok(res)
}

pub async fn get_item(app: &App, name: &str, id: &str) -> Result<Res, ApiError> {
    if let Some(upstream) = app.upstreams.get(name) {
        // As for a feed read: a due sync runs first (bounded wait).
        upstream.before_read().await;
    }
    let (log, _) = feed(app, name)?;
    let state = log
        .item(id)
        .await?
        .ok_or_else(|| ApiError::ItemNotFound(id.to_string()))?;
    let mut res = json(StatusCode::OK, &ingest::item_json(id, &state.payload));
    if let Ok(v) = HeaderValue::from_str(&http_date(state.stamp)) {
        res.headers_mut().insert(LAST_MODIFIED, v);
    }
    Ok(res)
}

/// `{seq, etag, action}` for a one-item write, with the head `ETag`.
fn single(log: &FeedLog, status: StatusCode, done: &Appended) -> Res {
    let (seq, action) = done
        .applied
        .first()
        .map_or((done.head, "unchanged"), |a| (a.seq, a.outcome.as_str()));
    let etag = format!("{}.{}", log.epoch(), done.head);
    let mut res = json(status, &json!({"seq": seq, "etag": etag, "action": action}));
    res.headers_mut()
        .insert(ETAG, etag_header(log.epoch(), done.head));
    res
}
