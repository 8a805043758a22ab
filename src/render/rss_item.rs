//! RSS 2.0 `<item>`s, written straight into the document's buffer.
//!
//! This file owns the bytes of each item: exactly what the `rss` crate
//! writes for the `rss::Item` that `rss.rs` used to build (kept, as the
//! reference the tests compare with, in `reference.rs`). In the crate's
//! order:
//! `title`, `link`, `description` (CDATA), `category`*, `enclosure`,
//! `guid isPermaLink="false"`, `pubDate`, `content:encoded` (CDATA),
//! `ibmwcm:action`, `sync:syncState` (`endpoint`, `tick`, `stamp`), the
//! extra enclosures as `atom:link`, `dc:creator`, `dc:date`. The decisions
//! (what goes where, and why) are described in `rss.rs`.
//!
//! The root element declares the `content` and `dc` namespaces when an item
//! uses them, as the crate does: [`namespaces_used`].

use super::content::{kind, Kind};
use super::dates::{imf, rfc3339_millis};
use super::uri::{is_http_url, media_type, uri};
use super::write::{
    attribute, cdata_element, element, enclosure_link, number, number_attribute, push, via_link,
    Esc,
};
use super::Document;
use crate::model::{Action, Entry, Payload};

pub(crate) const NS_CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
pub(crate) const NS_DC: &str = "http://purl.org/dc/elements/1.1/";

/// The payload an item shows: an add's or update's.
fn shown(e: &Entry) -> Option<&Payload> {
    match (e.action, &e.payload) {
        (Action::Add | Action::Update, Some(p)) => Some(p),
        _ => None,
    }
}

/// The namespaces (prefix, URI) the items of `entries` use: `content` for
/// `content:encoded`, `dc` for `dc:creator` / `dc:date`.
pub(crate) fn namespaces_used(entries: &[Entry]) -> Vec<(&'static str, &'static str)> {
    let (mut content, mut dc) = (false, false);
    for p in entries.iter().filter_map(shown) {
        content |= p.content.is_some();
        dc |= p.author.is_some() || p.published.is_some();
    }
    let mut used = Vec::new();
    if content {
        used.push(("content", NS_CONTENT));
    }
    if dc {
        used.push(("dc", NS_DC));
    }
    used
}

/// Append the `<item>` of every entry of `doc` to `out`.
pub(crate) fn write_items(out: &mut Vec<u8>, doc: &Document<'_>) {
    // What every item's sync state starts with, written once.
    let mut state = Vec::with_capacity(64 + doc.feed_url.len());
    state.extend_from_slice(b"<sync:syncState>");
    element(&mut state, "sync:endpoint", doc.feed_url, Esc::Text);
    state.extend_from_slice(b"<sync:tick>");
    for e in doc.entries {
        item(out, &state, e);
    }
}

fn item(out: &mut Vec<u8>, state: &[u8], e: &Entry) {
    out.extend_from_slice(b"<item>");
    let p = shown(e);
    let title = p.and_then(|p| p.title.as_deref());
    if let Some(t) = title {
        element(out, "title", t, Esc::Text);
    }
    if let Some(p) = p {
        // An empty link is no link (RSS wants a full URL).
        if let Some(l) = p.link.as_deref().filter(|l| !l.trim().is_empty()) {
            element(out, "link", &uri(l), Esc::Raw);
        }
    }
    match p.and_then(|p| p.summary.as_deref()) {
        Some(d) => cdata_element(out, "description", d),
        // RSS 2.0 requires a title or a description in every item.
        None if title.is_none() => {
            out.extend_from_slice(b"<description><![CDATA[]]></description>");
        }
        None => {}
    }
    let rss_enclosure = p.and_then(|p| payload_head(out, p));
    out.extend_from_slice(b"<guid isPermaLink=\"false\">");
    push(out, &e.id, Esc::Text);
    out.extend_from_slice(b"</guid><pubDate>");
    imf(out, e.stamp);
    out.extend_from_slice(b"</pubDate>");
    if let Some((c, p)) = p.and_then(|p| Some((p.content.as_deref()?, p))) {
        content(out, c, p.content_type.as_deref());
    }
    out.extend_from_slice(b"<ibmwcm:action>");
    out.extend_from_slice(e.action.as_str().as_bytes());
    out.extend_from_slice(b"</ibmwcm:action>");
    out.extend_from_slice(state);
    number(out, e.seq);
    out.extend_from_slice(b"</sync:tick><sync:stamp>");
    rfc3339_millis(out, e.stamp);
    out.extend_from_slice(b"</sync:stamp></sync:syncState>");
    if let Some(p) = p {
        payload_tail(out, p, rss_enclosure);
    }
    out.extend_from_slice(b"</item>");
}

/// `category`* and the `enclosure`; which enclosure that is.
fn payload_head(out: &mut Vec<u8>, p: &Payload) -> Option<usize> {
    for c in &p.categories {
        element(out, "category", c, Esc::Text);
    }
    // The first http(s) enclosure with a MIME type.
    let (i, e, mime) = p.enclosures.iter().enumerate().find_map(|(i, e)| {
        let mime = media_type(&e.mime)?;
        is_http_url(&uri(&e.url)).then_some((i, e, mime))
    })?;
    out.extend_from_slice(b"<enclosure");
    attribute(out, "url", &uri(&e.url), Esc::Raw);
    number_attribute(out, "length", e.length);
    attribute(out, "type", &mime, Esc::Raw);
    out.extend_from_slice(b"/>");
    via_link(out, "atom:link", e);
    Some(i)
}

/// `content:encoded`: HTML verbatim, anything else HTML-escaped.
fn content(out: &mut Vec<u8>, c: &str, content_type: Option<&str>) {
    match kind(content_type) {
        Kind::Html => cdata_element(out, "content:encoded", c),
        Kind::Text | Kind::Mime(..) => {
            // Escaped text holds no `>`, so it is one CDATA section.
            out.extend_from_slice(b"<content:encoded><![CDATA[");
            push(out, c, Esc::Html);
            out.extend_from_slice(b"]]></content:encoded>");
        }
    }
}

/// The other enclosures as `atom:link`s, then `dc:creator` and `dc:date`.
fn payload_tail(out: &mut Vec<u8>, p: &Payload, rss_enclosure: Option<usize>) {
    for (i, e) in p.enclosures.iter().enumerate() {
        if Some(i) == rss_enclosure {
            continue;
        }
        enclosure_link(out, "atom:link", e);
    }
    if let Some(a) = &p.author {
        element(out, "dc:creator", a, Esc::Text);
    }
    if let Some(d) = &p.published {
        element(out, "dc:date", d, Esc::Text);
    }
}

#[cfg(test)]
mod tests {
    use super::super::write::{cdata, close};
    use super::*;

    #[test]
    fn html_escaped_content_is_one_cdata_section() {
        let mut a = Vec::new();
        content(&mut a, "a ]]> b\u{1}", Some("text"));
        let mut b = b"<content:encoded>".to_vec();
        cdata(&mut b, "a ]]&gt; b");
        close(&mut b, "content:encoded");
        assert_eq!(a, b);
    }
}
