//! The request headers a feed read looks at: validators, `Accept` (content
//! negotiation), `A-IM`, `Prefer` and `From`, read in one pass.

use crate::render::Format;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::borrow::Cow;

const A_IM: HeaderName = HeaderName::from_static("a-im");
const PREFER: HeaderName = HeaderName::from_static("prefer");

/// The request headers a feed read looks at, found in one pass over the
/// request's headers instead of one lookup each: the first value of each
/// (as `HeaderMap::get` gives it), all `If-None-Match` lines as one list
/// (RFC 9110 §5.3), whether any `A-IM` asks for `feed`, and whether any
/// `Prefer` asks for `return=representation`.
#[derive(Default)]
pub struct ReadHeaders<'a> {
    pub accept: Option<&'a HeaderValue>,
    /// Text that is not visible ASCII counts as an empty line.
    pub if_none_match: Option<Cow<'a, str>>,
    pub if_modified_since: Option<&'a HeaderValue>,
    pub from: Option<&'a HeaderValue>,
    /// `A-IM: feed` (RFC 3229+feed).
    pub im: bool,
    /// `Prefer: return=representation` (RFC 7240): no 304 to an
    /// unconditional request (see `caching`).
    pub representation: bool,
    /// `Prefer: wait=N` (RFC 7240 §4.3): seconds a long-poll may wait.
    pub wait: Option<u64>,
    /// `Accept: text/event-stream`: an event stream, not a document.
    pub event_stream: bool,
    /// `Accept-Encoding` takes `gzip` (`encoding`).
    pub gzip: bool,
}

impl<'a> ReadHeaders<'a> {
    pub fn of(headers: &'a HeaderMap) -> ReadHeaders<'a> {
        let mut h = ReadHeaders::default();
        for (name, value) in headers {
            let first = if name == header::IF_NONE_MATCH {
                let line = value.to_str().unwrap_or("");
                h.if_none_match = Some(match h.if_none_match.take() {
                    None => Cow::Borrowed(line),
                    Some(list) => Cow::Owned(format!("{list}, {line}")),
                });
                continue;
            } else if name == header::ACCEPT {
                h.event_stream = h.event_stream || accepts_event_stream(value);
                &mut h.accept
            } else if name == header::IF_MODIFIED_SINCE {
                &mut h.if_modified_since
            } else if name == header::FROM {
                &mut h.from
            } else {
                if name == header::ACCEPT_ENCODING {
                    h.gzip = h.gzip || super::encoding::accepts_gzip(value);
                } else if name == A_IM {
                    h.im = h.im || im_feed(value);
                } else if name == PREFER {
                    h.representation =
                        h.representation || super::caching::prefers_representation(value);
                    h.wait = h.wait.or_else(|| super::wait::preferred_wait(value));
                }
                continue;
            };
            first.get_or_insert(value);
        }
        h
    }
}

/// The members of a weighted list (`Accept`, `Accept-Encoding`): each
/// name (trimmed) with its `q` (1 when absent). Text that is not visible
/// ASCII is an empty list.
pub fn weighted(value: &HeaderValue) -> impl Iterator<Item = (&str, f32)> {
    value.to_str().unwrap_or("").split(',').map(|member| {
        let mut parts = member.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        (name, q)
    })
}

/// Does an `Accept` value name `text/event-stream` (with a non-zero q)?
fn accepts_event_stream(value: &HeaderValue) -> bool {
    weighted(value).any(|(media, q)| media.eq_ignore_ascii_case("text/event-stream") && q > 0.0)
}

/// Does an `A-IM` value list `feed`?
fn im_feed(value: &HeaderValue) -> bool {
    value.to_str().is_ok_and(|v| {
        v.split(',').any(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("feed")
        })
    })
}

/// Atom when the client prefers `application/atom+xml` to every RSS-ish type; RSS otherwise.
pub fn negotiate(accept: Option<&HeaderValue>) -> Format {
    let Some(accept) = accept else {
        return Format::Rss;
    };
    let (mut atom, mut rss) = (0.0f32, 0.0f32);
    for (media, q) in weighted(accept) {
        match media.to_ascii_lowercase().as_str() {
            "application/atom+xml" => atom = atom.max(q),
            "application/rss+xml"
            | "application/xml"
            | "text/xml"
            | "*/*"
            | "application/*"
            | "text/*" => rss = rss.max(q),
            _ => {}
        }
    }
    if atom > rss {
        Format::Atom
    } else {
        Format::Rss
    }
}
