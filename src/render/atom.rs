//! Atom 1.0 documents: the feed head written with the `atom_syndication`
//! crate, the entries and tombstones by `atom_entry.rs`.
//!
//! This file owns the mapping of a [`Document`] to an `atom_syndication::Feed`
//! and the decisions for its entries (`atom_entry.rs` writes them straight
//! into the buffer, byte for byte what the crate wrote for the
//! `atom_syndication::Entry`s built here before; that mapping is kept as the
//! tests' reference in `reference.rs`):
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
//!   crate with no entries, and the entries (as the crate writes one entry
//!   on its own, with its `xmlns`) and tombstones are appended in seq order
//!   before the closing `</feed>`. Each tombstone is
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

use atom_syndication::{Feed, Link, Person, Text};

use super::atom_entry::write_entries;
use super::ext::{feed_elements, namespaces, ordered_map, own_namespace, NS_AT};
use super::uri::uri;
use super::xml::{fixed_secs, text};
use super::Document;

const MEDIA_TYPE: &str = "application/atom+xml";

/// What follows the entries.
pub(crate) const CLOSE: &[u8] = b"</feed>";

/// Render `doc` as an Atom 1.0 document.
pub(crate) fn render(doc: &Document<'_>) -> Vec<u8> {
    let mut out = head(doc);
    write_entries(&mut out, doc);
    out.extend_from_slice(CLOSE);
    out
}

/// The feed of `doc` as the crate writes it with no entries, without its
/// closing tag.
pub(crate) fn head(doc: &Document<'_>) -> Vec<u8> {
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
    let mut namespaces = namespaces(&[("at", NS_AT)]);
    namespaces.extend(own_namespace(doc));
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
        namespaces,
        ..Feed::default()
    };
    let capacity = 2048 + doc.entries.len() * 1024;
    // Writing to a Vec cannot fail: the only errors are I/O errors.
    let mut out = feed
        .write_to(Vec::with_capacity(capacity))
        .expect("writing Atom to a Vec");
    // The head always has children (title, id, …), so it ends with the closing tag.
    debug_assert!(out.ends_with(CLOSE));
    out.truncate(out.len().saturating_sub(CLOSE.len()));
    out
}

pub(crate) fn link(rel: &str, href: &str, media_type: Option<&str>) -> Link {
    Link {
        href: uri(href).into_owned(),
        rel: rel.to_owned(),
        mime_type: media_type.map(str::to_owned),
        ..Link::default()
    }
}
