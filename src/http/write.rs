//! The push API's writes (PROTOCOL §5): PUT and DELETE of one item, atomic
//! POST batches (`item.rs` has the GET). Input is checked completely before the store is touched.

use super::{etag_header, feed, json, json_body, Res};
use crate::app::App;
use crate::error::ApiError;
use crate::ingest;
use crate::store::{Appended, FeedLog, Op, Outcome};
use hyper::body::Incoming;
use hyper::header::ETAG;
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
    let body = json_body(req, app.config.max_body_bytes).await?;
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
    check_id(id)?;
    let delete = [Op::Delete { id: id.to_string() }];
    let done = app.metrics.append(log, &delete).await?;
    Ok(single(log, StatusCode::OK, &done))
}

pub async fn batch(app: &App, req: Request<Incoming>, name: &str) -> Result<Res, ApiError> {
    let log = writable(app, name)?;
    let body = json_body(req, app.config.max_body_bytes).await?;
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

/// An id in the path that no item can have is a bad request, not a missing item.
pub(super) fn check_id(id: &str) -> Result<(), ApiError> {
    if crate::model::valid_item_id(id) {
        return Ok(());
    }
    Err(ApiError::InvalidParameter(format!(
        "item id: 1 to {} bytes of UTF-8 without control characters; got {} bytes",
        crate::model::MAX_ID_BYTES,
        id.len()
    )))
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
