//! Atom 1.0 documents, written with the `atom_syndication` crate.
//!
//! This file owns the mapping of a [`Document`] to an `atom_syndication::Feed`:
//! - feed: `title`, `id` (= feed URL), `updated`, `author`, links `self`,
//!   `next`, `alternate` (= the configured link, when non-empty), `subtitle`
//!   (= description, when non-empty), the entries, then `ibmfs:etag`,
//!   `sync:syncMode`, `sync:digest` and the `at:deleted-entry` tombstones.
//! - entry: `title`, `id`, `updated` (= the transaction's stamp, with ms),
//!   `author`, `category term`*, `link rel="alternate"` (= payload link;
//!   for an item with neither link nor content, the item's URL
//!   `{feed}/items/{id}`, as RFC 4287 §4.1.1 requires an alternate link or
//!   content), `link rel="enclosure" href type length`*, `published`,
//!   `summary`, `content`, `ibmwcm:action`, `sync:syncState`.
//!   Every href goes through [`uri`] (IRIs become URIs), every `type`
//!   through [`media_type`] (malformed parameters are dropped; an enclosure
//!   whose type is no MIME type has none).
//!
//! Decisions:
//! - `updated` of the feed is `Last-Modified` (whole seconds) as RFC 3339;
//!   at position 0 (nothing processed yet) it is `1970-01-01T00:00:00+00:00`.
//! - Entries and tombstones are ordered by seq, interleaved (PROTOCOL §3).
//!   The crate can only write feed-level extensions after all entries, so
//!   the feed head (metadata, `ibmfs:etag`, `sync:*`) is written by the
//!   crate with no entries, and the entries (by the crate, one at a time)
//!   and tombstones (by [`El::write_xml`]) are appended in seq order before
//!   the closing `</feed>`. Each tombstone is
//!   `<at:deleted-entry ref="ATOM-ID" when="STAMP">` (RFC 6721) with
//!   `ibmwcm:action` and `sync:syncState` children.
//! - RFC 4287 wants an author on every entry, or on the feed: the feed gets
//!   `<author><name>` = the feed title (`feedgate` when that is empty).
//! - `title` is always present (empty when the payload has none), as text.
//! - `summary` is `type="html"` (as RSS `description`, it is HTML by convention).
//! - content by type (RFC 4287 §4.1.3.3): `text` → `type="text"`; `html` and
//!   `text/html` → `type="html"`; `xhtml` and `application/xhtml+xml` →
//!   `type="html"` too, escaped, since nothing guarantees the input is
//!   well-formed XHTML (a `type="xhtml"` div would have to be); `text/*` →
//!   the MIME type with escaped text; XML media types → the MIME type with the
//!   document as escaped text (inline child elements are only a MAY, and
//!   unvalidated input could break the feed); any other MIME type → the MIME
//!   type with the content's UTF-8 bytes in Base64, plus an empty summary when
//!   the payload has none (required with Base64 content). Unknown or
//!   malformed types count as `text`.
//! - `published` comes from the payload's RFC 3339 value; one that does not
//!   parse is left out.

use std::borrow::Cow;

use atom_syndication::{Category, Content, Entry, Feed, Link, Person, Text, WriteConfig};
use chrono::DateTime;

use super::content::{kind, Kind, MimeClass};
use super::ext::{entry_elements, feed_elements, namespaces, ordered_map, El, NS_AT};
use super::ids::atom_id;
use super::uri::{item_url, media_type, uri};
use super::xml::{attr, base64, fixed, fixed_secs, rfc3339_ms, text};
use super::Document;
use crate::model::{self, Action, Payload};

const MEDIA_TYPE: &str = "application/atom+xml";

/// Render `doc` as an Atom 1.0 document.
pub(crate) fn render(doc: &Document<'_>) -> Vec<u8> {
    let mut links = vec![link("self", doc.self_url, Some(MEDIA_TYPE))];
    if let Some(next) = doc.next_url {
        links.push(link("next", next, Some(MEDIA_TYPE)));
    }
    if let Some(hub) = doc.hub_url {
        links.push(link("hub", hub, None));
    }
    if !doc.link.is_empty() {
        links.push(link("alternate", doc.link, None));
    }
    let author = if doc.title.is_empty() {
        "feedgate"
    } else {
        doc.title
    };
    let feed = Feed {
        title: Text::plain(text(doc.title)),
        id: text(doc.feed_url),
        updated: fixed_secs(doc.last_modified.unwrap_or(0)),
        authors: vec![Person {
            name: text(author),
            ..Person::default()
        }],
        links,
        subtitle: (!doc.description.is_empty()).then(|| Text::plain(text(doc.description))),
        extensions: ordered_map(feed_elements(doc)),
        namespaces: namespaces(&[("at", NS_AT)]),
        ..Feed::default()
    };
    let capacity = 2048 + doc.entries.len() * 1024;
    // Writing to a Vec cannot fail: the only errors are I/O errors.
    let mut out = feed
        .write_to(Vec::with_capacity(capacity))
        .expect("writing Atom to a Vec");
    const CLOSE: &[u8] = b"</feed>";
    // The head always has children (title, id, …), so it ends with the closing tag.
    debug_assert!(out.ends_with(CLOSE));
    out.truncate(out.len().saturating_sub(CLOSE.len()));
    let empty = Payload::default();
    let bare = WriteConfig {
        write_document_declaration: false,
        indent_size: None,
    };
    for e in doc.entries {
        match (e.action, &e.payload) {
            (Action::Delete, _) => tombstone(doc.feed_url, e).write_xml(&mut out),
            // An add/update always has a payload; render a bare entry if not.
            (_, p) => {
                out = entry(doc.feed_url, e, p.as_ref().unwrap_or(&empty))
                    .write_with_config(out, bare)
                    .expect("writing an Atom entry to a Vec");
            }
        }
    }
    out.extend_from_slice(CLOSE);
    out
}

fn link(rel: &str, href: &str, media_type: Option<&str>) -> Link {
    Link {
        href: uri(href).into_owned(),
        rel: rel.to_owned(),
        mime_type: media_type.map(str::to_owned),
        ..Link::default()
    }
}

fn entry(feed_url: &str, e: &model::Entry, p: &Payload) -> Entry {
    let mut links = Vec::with_capacity(p.enclosures.len() + 1);
    // An empty link is no link (`href=""` would name the document itself).
    match p.link.as_deref().filter(|l| !l.trim().is_empty()) {
        Some(href) => links.push(link("alternate", href, None)),
        None if p.content.is_none() => {
            links.push(link("alternate", &item_url(feed_url, &e.id), None));
        }
        None => {}
    }
    links.extend(p.enclosures.iter().map(|enc| Link {
        href: uri(&enc.url).into_owned(),
        rel: "enclosure".to_owned(),
        mime_type: media_type(&enc.mime).map(Cow::into_owned),
        length: (enc.length > 0).then(|| enc.length.to_string()),
        ..Link::default()
    }));
    let content = p
        .content
        .as_deref()
        .map(|c| content(c, p.content_type.as_deref()));
    let base64_content = content.as_ref().is_some_and(|(_, b64)| *b64);
    let summary = match &p.summary {
        Some(s) => Some(Text::html(text(s))),
        None if base64_content => Some(Text::plain(String::new())),
        None => None,
    };
    Entry {
        title: Text::plain(p.title.as_deref().map(text).unwrap_or_default()),
        id: atom_id(&e.id).into_owned(),
        updated: fixed(e.stamp),
        authors: p
            .author
            .iter()
            .map(|a| Person {
                name: text(a),
                ..Person::default()
            })
            .collect(),
        categories: p
            .categories
            .iter()
            .map(|c| Category {
                term: attr(c),
                ..Category::default()
            })
            .collect(),
        links,
        published: p
            .published
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok()),
        summary,
        content: content.map(|(c, _)| c),
        extensions: ordered_map(entry_elements(feed_url, e)),
        ..Entry::default()
    }
}

/// `atom:content` for `value` of `content_type`, and whether it is Base64.
fn content(value: &str, content_type: Option<&str>) -> (Content, bool) {
    let (ty, value, b64) = match kind(content_type) {
        Kind::Text => ("text".to_owned(), text(value), false),
        Kind::Html => ("html".to_owned(), text(value), false),
        Kind::Mime(mime, MimeClass::Text | MimeClass::Xml) => (mime_of(mime), text(value), false),
        Kind::Mime(mime, MimeClass::Binary) => (mime_of(mime), base64(value.as_bytes()), true),
    };
    let content = Content {
        content_type: Some(ty),
        value: Some(value),
        ..Content::default()
    };
    (content, b64)
}

/// A content `type` from a MIME type `kind` accepted: without malformed parameters.
fn mime_of(mime: &str) -> String {
    media_type(mime).map_or_else(|| mime.to_owned(), Cow::into_owned)
}

/// `<at:deleted-entry ref when>` with the action and sync state inside.
fn tombstone(feed_url: &str, e: &model::Entry) -> El {
    El::parent("at:deleted-entry", entry_elements(feed_url, e))
        .with_attr("ref", &atom_id(&e.id))
        .with_attr("when", &rfc3339_ms(e.stamp))
}
