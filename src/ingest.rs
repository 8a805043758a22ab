//! Reading the push API's JSON (PROTOCOL §5) into store operations: one item
//! for a PUT, an array of items and deletions for a batch. Everything is
//! validated here, before anything is written. A batch is parsed element by
//! element straight into its operations (no intermediate array of inputs),
//! and `budget` bounds the memory of the writes in progress.

pub mod budget;
pub use budget::Budget;

use crate::error::ApiError;
use crate::model::{valid_item_id, Enclosure, Payload, MAX_ID_BYTES};
use crate::store::Op;
use serde::Deserialize;

/// An item as producers send it: the payload fields, plus `id` (required in a
/// batch, optional in a PUT) and `deleted` (batches only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemInput {
    id: Option<String>,
    deleted: Option<bool>,
    title: Option<String>,
    link: Option<String>,
    summary: Option<String>,
    content: Option<String>,
    content_type: Option<String>,
    author: Option<String>,
    categories: Option<Vec<String>>,
    enclosures: Option<Vec<EnclosureInput>>,
    published: Option<String>,
}

/// An enclosure as producers send it (`model::Enclosure`, with a `length`
/// that may be any JSON number of whole value: see [`whole_number`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnclosureInput {
    url: String,
    #[serde(default, deserialize_with = "whole_number")]
    length: u64,
    #[serde(rename = "type")]
    mime: String,
    /// Where a mirrored file came from (as `GET` of an item shows it, so
    /// that an item read and written back keeps it).
    #[serde(default)]
    via: Option<String>,
}

/// A `u64` written as any JSON number whose value is whole: `12`, and also
/// `12.0` or `1.2e1` (JSON does not tell them apart, JSON Schema's
/// `integer` takes them all, and a Python producer's `float` is written so).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    // 2^64, exactly: the first f64 above u64::MAX.
    const LIMIT: f64 = 18_446_744_073_709_551_616.0;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..LIMIT).contains(f))
                .map(|f| f as u64)
        })
        .ok_or_else(|| {
            serde::de::Error::custom(format!("invalid length {n}, expected a whole number >= 0"))
        })
}

/// The body of `PUT /feeds/{feed}/items/{id}`.
pub fn parse_put(body: &[u8], path_id: &str) -> Result<Payload, ApiError> {
    check_id(path_id)?;
    let input: ItemInput = serde_json::from_slice(body).map_err(|e| invalid(format!("{e}")))?;
    if let Some(id) = &input.id {
        if id != path_id {
            return Err(invalid(format!(
                "body id {id:?} differs from the id in the path {path_id:?}"
            )));
        }
    }
    if input.deleted.is_some() {
        return Err(invalid(
            "`deleted` is for batches; use DELETE to delete an item".into(),
        ));
    }
    payload(input)
}

/// The body of `POST /feeds/{feed}/items`: a JSON array of items.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Op>, ApiError> {
    parse_batch_counted(body, budget::count_items(body))
}

/// [`parse_batch`] of a body holding `items` items ([`budget::count_items`]):
/// each element becomes its operation as soon as it is read, into a vector
/// of that size.
pub fn parse_batch_counted(body: &[u8], items: usize) -> Result<Vec<Op>, ApiError> {
    let mut refused = None;
    let visitor = BatchVisitor {
        items,
        refused: &mut refused,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = serde::Deserializer::deserialize_seq(&mut de, visitor).and_then(|ops| {
        de.end()?;
        Ok(ops)
    });
    match (parsed, refused) {
        (_, Some(e)) => Err(e),
        (Ok(ops), None) => Ok(ops),
        (Err(e), None) => Err(invalid(format!("{e}"))),
    }
}

/// Reads a batch array into operations; an element that is valid JSON but
/// not a valid item stops it, its error kept in `refused`.
struct BatchVisitor<'r> {
    items: usize,
    refused: &'r mut Option<ApiError>,
}

impl<'de> serde::de::Visitor<'de> for BatchVisitor<'_> {
    type Value = Vec<Op>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of items")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Op>, A::Error> {
        let mut ops = Vec::with_capacity(self.items);
        while let Some(input) = seq.next_element::<ItemInput>()? {
            match batch_op(input) {
                Ok(op) => ops.push(op),
                Err(e) => {
                    let i = ops.len();
                    *self.refused = Some(invalid(format!("element {i}: {e}")));
                    return Err(serde::de::Error::custom("invalid element"));
                }
            }
        }
        Ok(ops)
    }
}

fn batch_op(mut input: ItemInput) -> Result<Op, ApiError> {
    let id = input
        .id
        .take()
        .ok_or_else(|| invalid("missing `id`".into()))?;
    check_id(&id)?;
    if input.deleted == Some(true) {
        let has_payload = input.title.is_some()
            || input.link.is_some()
            || input.summary.is_some()
            || input.content.is_some()
            || input.content_type.is_some()
            || input.author.is_some()
            || input.categories.is_some()
            || input.enclosures.is_some()
            || input.published.is_some();
        if has_payload {
            return Err(invalid("a deletion carries only `id` and `deleted`".into()));
        }
        return Ok(Op::Delete { id });
    }
    Ok(Op::Put {
        id,
        payload: payload(input)?,
    })
}

fn payload(input: ItemInput) -> Result<Payload, ApiError> {
    if let Some(ct) = &input.content_type {
        if !valid_content_type(ct) {
            return Err(invalid(format!(
                "content_type {ct:?} is not text, html, xhtml or a MIME type"
            )));
        }
    }
    let published = match input.published {
        Some(p) => Some(normalise_date(&p)?),
        None => None,
    };
    let mut enclosures = Vec::new();
    for e in input.enclosures.into_iter().flatten() {
        if e.url.is_empty() || !valid_content_type(&e.mime) {
            return Err(invalid("an enclosure needs a url and a MIME type".into()));
        }
        enclosures.push(Enclosure {
            url: e.url,
            length: e.length,
            mime: e.mime,
            via: e.via,
        });
    }
    Ok(Payload {
        title: input.title,
        link: input.link,
        summary: input.summary,
        content: input.content,
        content_type: input.content_type,
        author: input.author,
        categories: input.categories.unwrap_or_default(),
        enclosures,
        published,
    })
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if valid_item_id(id) {
        Ok(())
    } else {
        Err(invalid(format!(
            "item ids are 1 to {MAX_ID_BYTES} bytes of UTF-8 without control characters; got {} bytes",
            id.len()
        )))
    }
}

fn valid_content_type(ct: &str) -> bool {
    if matches!(ct, "text" | "html" | "xhtml") {
        return true;
    }
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    matches!(essence.split_once('/'), Some((t, s)) if token(t) && token(s))
}

/// RFC 3339, normalised to UTC (`2024-05-01T10:00:00Z`, fractions kept).
fn normalise_date(s: &str) -> Result<String, ApiError> {
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| invalid(format!("published {s:?} is not an RFC 3339 date: {e}")))?;
    Ok(t.with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

fn invalid(message: String) -> ApiError {
    ApiError::InvalidItem(message)
}

/// The item as `GET /feeds/{feed}/items/{id}` shows it: a valid PUT body.
pub fn item_json(id: &str, payload: &Payload) -> serde_json::Value {
    let mut v = serde_json::to_value(payload).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.insert("id".into(), id.into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<impl std::fmt::Debug, ApiError>) -> String {
        let e = r.unwrap_err();
        format!("{}: {e}", e.code())
    }

    #[test]
    fn a_full_item() {
        let p = parse_put(
            br#"{"id":"a","title":"T","link":"https://x/a","summary":"S","content":"<p>c</p>",
                "content_type":"html","author":"Ann","categories":["x","y"],
                "enclosures":[{"url":"https://x/a.mp3","length":12,"type":"audio/mpeg"}],
                "published":"2024-05-01T12:00:00.5+02:00"}"#,
            "a",
        )
        .unwrap();
        assert_eq!(p.title.as_deref(), Some("T"));
        assert_eq!(p.categories, ["x", "y"]);
        assert_eq!(p.enclosures[0].length, 12);
        assert_eq!(p.published.as_deref(), Some("2024-05-01T10:00:00.500Z"));
        let back = item_json("a", &p);
        assert_eq!(parse_put(back.to_string().as_bytes(), "a").unwrap(), p);
    }

    #[test]
    fn an_enclosure_length_is_any_whole_number() {
        let length = |l: &str| {
            let body = format!(r#"{{"enclosures":[{{"url":"u","type":"a/b","length":{l}}}]}}"#);
            parse_put(body.as_bytes(), "a").map(|p| p.enclosures[0].length)
        };
        assert_eq!(length("12").unwrap(), 12);
        assert_eq!(length("12.0").unwrap(), 12);
        assert_eq!(length("1.2e1").unwrap(), 12);
        assert_eq!(length("379270718567.0").unwrap(), 379_270_718_567);
        assert_eq!(length("18446744073709551615").unwrap(), u64::MAX);
        for bad in [
            "1.5",
            "-1",
            "-1.0",
            "18446744073709551616",
            "1e20",
            "null",
            "\"1\"",
        ] {
            assert!(code(length(bad)).starts_with("invalid_item"), "{bad}");
        }
    }

    #[test]
    fn bad_items_are_rejected_with_a_reason() {
        assert!(code(parse_put(b"{", "a")).starts_with("invalid_item"));
        assert!(code(parse_put(br#"{"title": 5}"#, "a")).contains("invalid type"));
        assert!(code(parse_put(br#"{"categories": "x"}"#, "a")).contains("invalid type"));
        assert!(code(parse_put(br#"{"colour": "red"}"#, "a")).contains("colour"));
        assert!(code(parse_put(br#"{"id": "b"}"#, "a")).contains("differs"));
        assert!(code(parse_put(br#"{"deleted": true}"#, "a")).contains("DELETE"));
        assert!(code(parse_put(br#"{"content_type": "bogus"}"#, "a")).contains("content_type"));
        assert!(code(parse_put(br#"{"published": "yesterday"}"#, "a")).contains("RFC 3339"));
        assert!(code(parse_put(b"{}", &"x".repeat(257))).contains("257 bytes"));
        assert!(code(parse_put(b"{}", "")).contains("0 bytes"));
        assert!(code(parse_put(b"[]", "a")).starts_with("invalid_item"));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(code(parse_batch(deep.as_bytes())).starts_with("invalid_item"));
        assert!(parse_put(&[b'"', 0xff, b'"'], "a").is_err());
        assert!(parse_put(b"{}", &"x".repeat(256)).is_ok());
    }

    #[test]
    fn batches() {
        let ops = parse_batch(
            br#"[{"id":"a","title":"A"},{"id":"b","deleted":true},{"id":"c","deleted":false}]"#,
        )
        .unwrap();
        assert_eq!(ops.len(), 3);
        assert!(
            matches!(&ops[0], Op::Put { id, payload } if id == "a" && payload.title.as_deref() == Some("A"))
        );
        assert_eq!(ops[1], Op::Delete { id: "b".into() });
        assert!(matches!(&ops[2], Op::Put { id, .. } if id == "c"));
        assert!(code(parse_batch(br#"[{"title":"A"}]"#)).contains("element 0: missing `id`"));
        assert!(code(parse_batch(
            br#"[{"id":"a"},{"id":"b","deleted":true,"title":"x"}]"#
        ))
        .contains("element 1"));
        assert!(code(parse_batch(br#"{"id":"a"}"#)).starts_with("invalid_item"));
        assert_eq!(parse_batch(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn content_types() {
        for ok in [
            "text",
            "html",
            "xhtml",
            "text/plain",
            "application/json; charset=utf-8",
            "image/svg+xml",
        ] {
            assert!(valid_content_type(ok), "{ok}");
        }
        for bad in ["", "plain", "text/", "/x", "a b/c", "html5"] {
            assert!(!valid_content_type(bad), "{bad}");
        }
    }
}
