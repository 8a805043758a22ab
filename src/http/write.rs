//! The push API's writes (PROTOCOL §5): PUT and DELETE of one item, atomic
//! POST batches (`item.rs` has the GET). Input is checked completely before
//! the store is touched. A body is parsed and applied within its share of
//! the ingest budget (`ingest::budget`), and a batch's answer is written
//! straight into its buffer (one `serde_json::Value` per item cost more than
//! the item).

use super::body::{json_body, over_budget};
use super::Body;
use super::{etag_header, feed, json, Res};
use crate::app::App;
use crate::error::ApiError;
use crate::feed::Feed;
use crate::ingest::{self, budget};
use crate::store::{Appended, Log, Op, Outcome};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, ETAG};
use hyper::Response;
use hyper::{Request, StatusCode};
use serde_json::json;

/// The feed, if the push API may write it.
fn writable<'a>(app: &'a App, name: &str) -> Result<&'a Feed, ApiError> {
    let feed = feed(app, name)?;
    if feed.info().upstream {
        return Err(ApiError::ReadOnlyFeed(name.to_string()));
    }
    Ok(feed)
}

pub async fn put_item(
    app: &App,
    req: Request<Incoming>,
    name: &str,
    id: &str,
) -> Result<Res, ApiError> {
    let feed = writable(app, name)?;
    let (body, receiving) = json_body(app, req).await?;
    let _working = work(app, body.len(), 1).await?;
    drop(receiving);
    let payload = ingest::parse_put(&body, id)?;
    drop(body);
    let mut put = [Op::Put {
        id: id.to_string(),
        payload,
    }];
    if let Some(m) = app.mirror() {
        m.known(name, &mut put);
    }
    let done = feed.append(&put).await?;
    let status = match done.applied.first().map(|a| a.outcome) {
        Some(Outcome::Add) => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok(single(feed.log(), status, &done))
}

pub async fn delete_item(app: &App, name: &str, id: &str) -> Result<Res, ApiError> {
    let feed = writable(app, name)?;
    check_id(id)?;
    let delete = [Op::Delete { id: id.to_string() }];
    let done = feed.append(&delete).await?;
    Ok(single(feed.log(), StatusCode::OK, &done))
}

pub async fn batch(app: &App, req: Request<Incoming>, name: &str) -> Result<Res, ApiError> {
    let feed = writable(app, name)?;
    let (body, receiving) = json_body(app, req).await?;
    let items = budget::count_items(&body);
    let _working = work(app, body.len(), items).await?;
    drop(receiving);
    let mut ops = ingest::parse_batch_counted(&body, items)?;
    drop(body);
    if let Some(m) = app.mirror() {
        m.known(name, &mut ops);
    }
    let done = feed.append(&ops).await?;
    drop(ops);
    let epoch = feed.log().epoch();
    let etag = format!("{epoch}.{}", done.head);
    let mut res = Response::new(Body::full(Bytes::from(batch_answer(&etag, &done))));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut()
        .insert(ETAG, etag_header(epoch, done.head));
    Ok(res)
}

/// The share of the ingest budget for a write of `body` bytes and `items` items.
async fn work(app: &App, body: usize, items: usize) -> Result<budget::Share, ApiError> {
    let cost = budget::cost(body, items);
    let waited = || app.metrics().limits.ingest_waited();
    app.ingest().work(cost, waited).await.map_err(over_budget)
}

/// `{"etag", "head", "items": [{"action", "etag", "id", "seq"}, …]}`, as
/// `serde_json` would write it (keys in order), without a value per item.
fn batch_answer(etag: &str, done: &Appended) -> Vec<u8> {
    use std::io::Write;
    // `etag` is EPOCH.SEQ: no character JSON would escape.
    let mut out = Vec::with_capacity(64 + done.applied.len() * (48 + etag.len()));
    let _ = write!(out, r#"{{"etag":"{etag}","head":{},"items":["#, done.head);
    for (i, a) in done.applied.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(
            out,
            r#"{{"action":"{}","etag":"{etag}","id":"#,
            a.outcome.as_str()
        );
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &a.id);
        let _ = write!(out, r#","seq":{}}}"#, a.seq);
    }
    out.extend_from_slice(b"]}");
    out
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
fn single(log: &dyn Log, status: StatusCode, done: &Appended) -> Res {
    let (seq, action) = done
        .applied
        .first()
        .map_or((done.head, "unchanged"), |a| (a.seq, a.outcome.as_str()));
    let epoch = log.epoch();
    let etag = format!("{epoch}.{}", done.head);
    let mut res = json(status, &json!({"seq": seq, "etag": etag, "action": action}));
    res.headers_mut()
        .insert(ETAG, etag_header(epoch, done.head));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Applied, Outcome};

    #[test]
    fn the_batch_answer_is_what_serde_json_writes() {
        let done = Appended {
            applied: vec![
                Applied {
                    id: "a \"quoted\" id/ü".into(),
                    outcome: Outcome::Add,
                    seq: 7,
                },
                Applied {
                    id: "b".into(),
                    outcome: Outcome::Unchanged,
                    seq: 3,
                },
            ],
            head: 7,
        };
        let etag = "e9.7";
        let items: Vec<_> = done
            .applied
            .iter()
            .map(|a| json!({"id": a.id, "seq": a.seq, "etag": etag, "action": a.outcome.as_str()}))
            .collect();
        let want = json!({"etag": etag, "head": done.head, "items": items}).to_string();
        assert_eq!(String::from_utf8(batch_answer(etag, &done)).unwrap(), want);
        let empty = Appended {
            applied: vec![],
            head: 0,
        };
        assert_eq!(
            batch_answer("e.0", &empty),
            br#"{"etag":"e.0","head":0,"items":[]}"#
        );
    }
}
