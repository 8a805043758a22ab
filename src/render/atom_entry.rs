//! Atom 1.0 `<entry>`s and `<at:deleted-entry>` tombstones, written
//! straight into the document's buffer.
//!
//! This file owns the bytes of each: exactly what `atom_syndication` writes
//! for the `atom_syndication::Entry` that `atom.rs` used to build (each
//! entry a standalone element, so with its own `xmlns`), and what `ext.rs`'s
//! `El::write_xml` wrote for a tombstone (text escaping only `& < >`); both
//! old forms are kept, as the reference the tests compare with, in
//! `reference.rs`. Entry children in the crate's order: `title`, `id`,
//! `updated`, `author`, `category`*, `link`* (alternate, enclosures),
//! `published`, `summary`, `content`, `ibmwcm:action`, `sync:syncState`.
//! The decisions (what goes where, and why) are described in `atom.rs`.

use super::content::{kind, Kind, MimeClass};
use super::dates::{atom_updated, published, rfc3339_millis};
use super::ids::{is_own_atom_id, push_urn};
use super::uri::{item_url, media_type, uri};
use super::write::{attribute, element, enclosure_link, number, push, Esc};
use super::xml::base64;
use super::Document;
use crate::model::{Action, Entry, Payload};

/// Append every entry of `doc` to `out`, tombstones for deletions.
pub(crate) fn write_entries(out: &mut Vec<u8>, doc: &Document<'_>) {
    // The constant start of the sync state, once for each form.
    let state = |esc| {
        let mut s = Vec::with_capacity(64 + doc.feed_url.len());
        s.extend_from_slice(b"<sync:syncState>");
        element(&mut s, "sync:endpoint", doc.feed_url, esc);
        s.extend_from_slice(b"<sync:tick>");
        s
    };
    let (entry_state, tomb_state) = (state(Esc::Text), state(Esc::Html));
    let empty = Payload::default();
    for e in doc.entries {
        match (e.action, &e.payload) {
            (Action::Delete, _) => tombstone(out, &tomb_state, e),
            // An add/update always has a payload; render a bare entry if not.
            (_, p) => entry(
                out,
                &entry_state,
                doc.feed_url,
                e,
                p.as_ref().unwrap_or(&empty),
            ),
        }
    }
}

/// `<ibmwcm:action>…` and `<sync:syncState>…`: `state` is the latter's start.
fn sync(out: &mut Vec<u8>, state: &[u8], e: &Entry) {
    out.extend_from_slice(b"<ibmwcm:action>");
    out.extend_from_slice(e.action.as_str().as_bytes());
    out.extend_from_slice(b"</ibmwcm:action>");
    out.extend_from_slice(state);
    number(out, e.seq);
    out.extend_from_slice(b"</sync:tick><sync:stamp>");
    rfc3339_millis(out, e.stamp);
    out.extend_from_slice(b"</sync:stamp></sync:syncState>");
}

/// [`atom_id`](super::atom_id) of `item_id`, escaped as `esc` says.
fn id(out: &mut Vec<u8>, item_id: &str, esc: Esc) {
    if is_own_atom_id(item_id) {
        push(out, item_id, esc);
    } else {
        push_urn(out, item_id);
    }
}

/// `<at:deleted-entry ref when>` with the action and sync state inside.
fn tombstone(out: &mut Vec<u8>, state: &[u8], e: &Entry) {
    out.extend_from_slice(b"<at:deleted-entry ref=\"");
    id(out, &e.id, Esc::Attr);
    out.extend_from_slice(b"\" when=\"");
    rfc3339_millis(out, e.stamp);
    out.extend_from_slice(b"\">");
    sync(out, state, e);
    out.extend_from_slice(b"</at:deleted-entry>");
}

fn entry(out: &mut Vec<u8>, state: &[u8], feed_url: &str, e: &Entry, p: &Payload) {
    out.extend_from_slice(b"<entry xmlns=\"http://www.w3.org/2005/Atom\"><title>");
    if let Some(t) = &p.title {
        push(out, t, Esc::Text);
    }
    out.extend_from_slice(b"</title><id>");
    id(out, &e.id, Esc::Raw);
    out.extend_from_slice(b"</id><updated>");
    atom_updated(out, e.stamp);
    out.extend_from_slice(b"</updated>");
    if let Some(a) = &p.author {
        out.extend_from_slice(b"<author>");
        element(out, "name", a, Esc::Text);
        out.extend_from_slice(b"</author>");
    }
    for c in &p.categories {
        out.extend_from_slice(b"<category");
        attribute(out, "term", c, Esc::Attr);
        out.extend_from_slice(b"/>");
    }
    links(out, feed_url, e, p);
    if let Some(s) = &p.published {
        published(out, s);
    }
    let content = p
        .content
        .as_deref()
        .map(|c| (c, kind(p.content_type.as_deref())));
    let base64_content = matches!(content, Some((_, Kind::Mime(_, MimeClass::Binary))));
    match &p.summary {
        Some(s) => {
            out.extend_from_slice(b"<summary type=\"html\">");
            push(out, s, Esc::Text);
            out.extend_from_slice(b"</summary>");
        }
        // Required with Base64 content.
        None if base64_content => out.extend_from_slice(b"<summary></summary>"),
        None => {}
    }
    if let Some((c, k)) = content {
        out.extend_from_slice(b"<content");
        match k {
            Kind::Text => attribute(out, "type", "text", Esc::Raw),
            Kind::Html => attribute(out, "type", "html", Esc::Raw),
            // Without malformed parameters.
            Kind::Mime(mime, _) => {
                let ty = media_type(mime).unwrap_or(std::borrow::Cow::Borrowed(mime));
                attribute(out, "type", &ty, Esc::Raw);
            }
        }
        out.push(b'>');
        match k {
            Kind::Mime(_, MimeClass::Binary) => push(out, &base64(c.as_bytes()), Esc::Raw),
            _ => push(out, c, Esc::Text),
        }
        out.extend_from_slice(b"</content>");
    }
    sync(out, state, e);
    out.extend_from_slice(b"</entry>");
}

/// `link rel="alternate"` (the payload's; the item's URL for an entry with
/// neither link nor content), then the enclosures.
fn links(out: &mut Vec<u8>, feed_url: &str, e: &Entry, p: &Payload) {
    let alternate = |out: &mut Vec<u8>, href: &str| {
        out.extend_from_slice(b"<link");
        attribute(out, "href", &uri(href), Esc::Raw);
        out.extend_from_slice(b" rel=\"alternate\"/>");
    };
    // An empty link is no link (`href=""` would name the document itself).
    match p.link.as_deref().filter(|l| !l.trim().is_empty()) {
        Some(href) => alternate(out, href),
        None if p.content.is_none() => alternate(out, &item_url(feed_url, &e.id)),
        None => {}
    }
    for enc in &p.enclosures {
        enclosure_link(out, "link", enc);
    }
}
