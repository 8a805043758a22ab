//! Reading an origin's document into a [`Snapshot`] of its current items:
//! `json` (an array of objects, or one under `items_key`, with a configurable
//! id field and field mapping), `rss` (guid, else link, is the id) and `atom`
//! (id is the id; feedgate's `urn:feedgate:` ids are decoded).
//!
//! Every item goes through the push API's own validation
//! ([`crate::ingest::parse_put`]), so an upstream item is exactly what a
//! producer could have PUT. An item with an unusable id is skipped; an item
//! with a usable id but an invalid payload is *kept* (its current state is
//! left alone, never deleted). A document that does not parse as a whole is
//! an error, and the sync changes nothing.
//!
//! RSS and Atom list the newest item first, so their items are taken in
//! reverse document order: a first import gives the oldest item the lowest
//! seq. JSON lists keep their order. The first of two items with one id wins.

use super::config::UpstreamConfig;
use super::diff::Snapshot;
use super::SyncError;
use crate::model::{valid_item_id, Payload};
use serde_json::{Map, Value};
use std::collections::HashSet;

fn error(format: &'static str, message: impl std::fmt::Display) -> SyncError {
    SyncError::Parse {
        format,
        message: message.to_string(),
    }
}

/// Collects items into a snapshot: id rules, first-wins duplicates, validation.
#[derive(Default)]
pub(super) struct Builder {
    seen: HashSet<String>,
    snap: Snapshot,
}

impl Builder {
    pub fn push(&mut self, id: &str, fields: Map<String, Value>) {
        let id = id.trim();
        if !valid_item_id(id) || !self.seen.insert(id.to_string()) {
            self.snap.skipped += 1;
            return;
        }
        match validated(id, fields) {
            Ok(p) => self.snap.items.push((id.to_string(), p)),
            Err(e) => {
                tracing::debug!(id, error = %e, "upstream item kept as it is: invalid payload");
                self.snap.kept.insert(id.to_string());
            }
        }
    }

    pub fn finish(mut self, newest_first: bool) -> Snapshot {
        if newest_first {
            self.snap.items.reverse();
        }
        self.snap
    }
}

/// The payload the push API would make of `fields`.
pub(super) fn validated(id: &str, fields: Map<String, Value>) -> Result<Payload, String> {
    let body = Value::Object(fields).to_string();
    crate::ingest::parse_put(body.as_bytes(), id).map_err(|e| e.to_string())
}

/// A JSON origin.
pub fn json(body: &[u8], cfg: &UpstreamConfig) -> Result<Snapshot, SyncError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| error("json", e))?;
    let list = match &doc {
        Value::Array(list) => list,
        Value::Object(_) => {
            let key = cfg.items_key.as_deref().unwrap_or("items");
            lookup(&doc, key)
                .and_then(Value::as_array)
                .ok_or_else(|| error("json", format!("the object has no array under {key:?}")))?
        }
        _ => return Err(error("json", "neither an array nor an object")),
    };
    let id_field = cfg.id_field.as_deref().unwrap_or("id");
    let mut b = Builder::default();
    for el in list {
        let id = match lookup(el, id_field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                b.snap.skipped += 1;
                continue;
            }
        };
        let mut fields = Map::new();
        for (field, path) in cfg.fields.pairs() {
            if let Some(v) = lookup(el, path).and_then(|v| json_field(field, v)) {
                fields.insert(field.to_string(), v);
            }
        }
        b.push(&id, fields);
    }
    Ok(b.finish(false))
}

/// `a.b.c` in nested objects.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

/// A source value as the payload field wants it; `None` leaves the field out.
/// Values of the wrong shape go through unchanged, for validation to reject.
fn json_field(field: &str, v: &Value) -> Option<Value> {
    match (field, v) {
        (_, Value::Null) => None,
        ("categories", Value::String(s)) => Some(Value::Array(vec![s.as_str().into()])),
        ("categories", Value::Array(a)) => Some(Value::Array(
            a.iter()
                .filter_map(|c| scalar(c).map(Value::String))
                .collect(),
        )),
        ("enclosures", Value::Array(a)) => Some(Value::Array(a.iter().map(enclosure).collect())),
        ("published", v) => scalar(v).and_then(|s| published(&s)).map(Value::String),
        ("categories" | "enclosures", v) => Some(v.clone()),
        (_, v) => Some(scalar(v).map_or_else(|| v.clone(), Value::String)),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `{url, length, type}` of an enclosure object (other keys ignored).
fn enclosure(v: &Value) -> Value {
    let mut e = Map::new();
    for key in ["url", "type"] {
        if let Some(s) = v.get(key).and_then(scalar) {
            e.insert(key.into(), s.into());
        }
    }
    let length = match v.get("length") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    e.insert("length".into(), length.unwrap_or(0).into());
    Value::Object(e)
}

/// An RFC 3339 or RFC 2822 date as RFC 3339 UTC; `None` (the field is left
/// out) for anything else: a bad date is not worth losing the item.
pub(super) fn published(s: &str) -> Option<String> {
    let s = s.trim();
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_rfc2822(s))
        .ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}

/// An RSS 2.0 origin.
pub fn rss(body: &[u8]) -> Result<Snapshot, SyncError> {
    let channel = rss::Channel::read_from(body).map_err(|e| error("rss", e))?;
    let mut b = Builder::default();
    for item in channel.items() {
        let id = item
            .guid
            .as_ref()
            .map(|g| g.value.trim())
            .filter(|g| !g.is_empty())
            .or(item.link.as_deref());
        let Some(id) = id else {
            b.snap.skipped += 1;
            continue;
        };
        b.push(id, rss_fields(item));
    }
    Ok(b.finish(true))
}

fn rss_fields(item: &rss::Item) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            m.insert(k.into(), v.into());
        }
    };
    let dc = item.dublin_core_ext.as_ref();
    put("title", item.title.as_deref());
    put("link", item.link.as_deref());
    put("summary", item.description.as_deref());
    put("content", item.content.as_deref());
    put("content_type", item.content.as_ref().map(|_| "html"));
    let creator = dc.and_then(|d| d.creators.first()).map(String::as_str);
    put("author", item.author.as_deref().or(creator));
    let date = dc.and_then(|d| d.dates.first()).or(item.pub_date.as_ref());
    put("published", date.and_then(|d| published(d)).as_deref());
    let cats: Vec<Value> = item
        .categories
        .iter()
        .map(|c| c.name.as_str().into())
        .collect();
    if !cats.is_empty() {
        m.insert("categories".into(), cats.into());
    }
    let mut encs: Vec<Value> = item
        .enclosure
        .iter()
        .map(|e| enclosure_of(&e.url, Some(&e.length), Some(&e.mime_type)))
        .collect();
    let extra = item.atom_ext.iter().flat_map(|a| a.links.iter());
    encs.extend(
        extra
            .filter(|l| l.rel == "enclosure")
            .map(|l| enclosure_of(&l.href, l.length.as_deref(), l.mime_type.as_deref())),
    );
    if !encs.is_empty() {
        m.insert("enclosures".into(), encs.into());
    }
    m
}

fn enclosure_of(url: &str, length: Option<&str>, mime: Option<&str>) -> Value {
    let length: u64 = length.and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    let mime = mime
        .filter(|m| !m.trim().is_empty())
        .unwrap_or("application/octet-stream");
    serde_json::json!({"url": url, "length": length, "type": mime})
}

/// An Atom 1.0 origin.
pub fn atom(body: &[u8]) -> Result<Snapshot, SyncError> {
    let feed = atom_syndication::Feed::read_from(body).map_err(|e| error("atom", e))?;
    let mut b = Builder::default();
    for entry in &feed.entries {
        match crate::render::item_id_from_atom(entry.id.trim()) {
            Some(id) => b.push(&id, atom_fields(entry)),
            None => b.snap.skipped += 1,
        }
    }
    Ok(b.finish(true))
}

/// The payload fields of an Atom entry. The inverse of feedgate's own Atom
/// rendering wherever Atom keeps the information: an empty title or summary
/// is none, `type="text"` content has no content type, Base64 content of a
/// binary MIME type is decoded.
pub(super) fn atom_fields(e: &atom_syndication::Entry) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            m.insert(k.into(), v.into());
        }
    };
    put("title", Some(e.title.value.as_str()));
    let alternate = e
        .links
        .iter()
        .find(|l| l.rel == "alternate" || l.rel.is_empty());
    put("link", alternate.map(|l| l.href.as_str()));
    put("summary", e.summary.as_ref().map(|s| s.value.as_str()));
    put("author", e.authors.first().map(|a| a.name.as_str()));
    let published = e.published.map(|t| {
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    });
    put("published", published.as_deref());
    if let Some(c) = e.content.as_ref().filter(|c| c.src.is_none()) {
        let ty = c.content_type.as_deref().unwrap_or("text").trim();
        let value = c.value.as_deref().unwrap_or("");
        let value = if binary_mime(ty) {
            base64_decode(value).and_then(|b| String::from_utf8(b).ok())
        } else {
            Some(value.to_string())
        };
        put("content", value.as_deref());
        put("content_type", (ty != "text").then_some(ty));
    }
    let cats: Vec<Value> = e
        .categories
        .iter()
        .map(|c| c.term.as_str().into())
        .collect();
    if !cats.is_empty() {
        m.insert("categories".into(), cats.into());
    }
    let encs: Vec<Value> = e
        .links
        .iter()
        .filter(|l| l.rel == "enclosure")
        .map(|l| enclosure_of(&l.href, l.length.as_deref(), l.mime_type.as_deref()))
        .collect();
    if !encs.is_empty() {
        m.insert("enclosures".into(), encs.into());
    }
    m
}

/// Atom content of this type is Base64 (RFC 4287 §4.1.3.3): a MIME type that
/// is neither text, XML nor HTML.
fn binary_mime(ty: &str) -> bool {
    let essence = ty
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((top, sub)) = essence.split_once('/') else {
        return false;
    };
    !(top == "text" || sub == "xml" || sub.ends_with("+xml"))
}

/// Base64 Atom content (the crate's one decoding policy) that may be wrapped
/// over lines: whitespace is removed first. `None` if malformed.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let packed: String = s.split_ascii_whitespace().collect();
    crate::codec::base64_decode(&packed)
}

#[cfg(test)]
mod tests;
