//! The query string of a feed read: the parameters it understands (PROTOCOL
//! §3; the `limit` rule is `protocol::page_limit`). Pure, so it can be fuzzed.

use std::borrow::Cow;

/// The query parameters a feed read understands; others are ignored. A
/// repeated parameter keeps its last value. Pure, so it can be fuzzed.
#[derive(Debug, Default)]
pub struct Query<'a> {
    pub etag: Option<Cow<'a, str>>,
    pub last_mod: Option<Cow<'a, str>>,
    pub limit: Option<Cow<'a, str>>,
    pub format: Option<Cow<'a, str>>,
    /// Names the consumer for the consumer report when it has no credential.
    pub consumer: Option<Cow<'a, str>>,
    /// Seconds a long-poll may wait (PROTOCOL §9), as `Prefer: wait=N`.
    pub wait: Option<Cow<'a, str>>,
}

impl<'a> Query<'a> {
    /// Parse a query string (`a=b&c=d`, form-urlencoded, without the `?`).
    pub fn parse(q: &'a str) -> Query<'a> {
        let mut out = Query::default();
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            match &*k {
                "etag" => out.etag = Some(v),
                "lastMod" => out.last_mod = Some(v),
                "limit" => out.limit = Some(v),
                "format" => out.format = Some(v),
                "consumer" => out.consumer = Some(v),
                "wait" => out.wait = Some(v),
                _ => {}
            }
        }
        out
    }
}
