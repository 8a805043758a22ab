//! RSS 2.0 documents: the channel shell written with the `rss` crate, the
//! items by `rss_item.rs`.
//!
//! This file owns the mapping of a [`Document`] to an `rss::Channel` (the
//! document shell, written by the crate) and the decisions for its items
//! (written by `rss_item.rs` straight into the buffer, byte for byte what the
//! crate wrote for the `rss::Item`s built here before; that mapping is kept
//! as the tests' reference in `reference.rs`):
//! - channel: `title`, `link`, `description`, `lastBuildDate` (IMF-fixdate,
//!   whole seconds, = `Last-Modified`; absent at position 0), then
//!   `ibmfs:etag`, `sync:syncMode`, `sync:digest`, then `atom:link` self/next.
//!   The crate writes the items last in the channel, so the shell is the
//!   channel written without items, cut before `</channel></rss>`; the
//!   namespaces the crate declares for what items use (`content`, `dc`) are
//!   declared by the shell alike.
//! - item: `title`, `link`, `description` (= summary), `category`*,
//!   `enclosure`, `guid isPermaLink="false"` (= item id), `pubDate` (= the
//!   transaction's stamp), `content:encoded`, `ibmwcm:action`,
//!   `sync:syncState`, extra `atom:link rel="enclosure"`, `dc:creator`,
//!   `dc:date` (= published).
//!   A deletion has only guid, pubDate, action and syncState, plus an empty
//!   `description`: RSS 2.0 requires a title or a description in every item
//!   (so does an add/update whose payload has neither).
//!   Every URL goes through [`uri`] (IRIs become URIs; an empty item link is
//!   none); the channel `link`
//!   is the configured link, else the feed's own URL (RSS requires one).
//!
//! Decisions:
//! - **author** → `dc:creator`: RSS `<author>` must be an e-mail address, the
//!   payload's author is a free-form name; `dc:creator` is the usual RSS
//!   carrier for names and readers (feedparser etc.) map it to the author.
//! - **content** → `content:encoded`, which is HTML by definition: html,
//!   xhtml, `text/html` and `application/xhtml+xml` content goes in verbatim;
//!   any other type (text, `text/*`, XML or other MIME types) is HTML-escaped
//!   so a reader shows the characters themselves. RSS has no place for the
//!   content type; Atom keeps it.
//! - **published** → `dc:date` (RFC 3339 is a W3CDTF profile); `pubDate` is
//!   taken by the transaction's stamp.
//! - **summary** → `description`, verbatim (RSS descriptions are HTML by
//!   convention; Atom renders the summary as `type="html"` likewise).
//! - **enclosures**: RSS allows one `<enclosure>`, whose `url` must be an
//!   http(s) URL and whose `type` a MIME type: the first such enclosure
//!   (`length` 0 when unknown, as the attribute is required); all others
//!   follow as `<atom:link rel="enclosure" href type length>` (length
//!   omitted when 0, type when it is no MIME type).
//! - `description` and `content:encoded` are written as CDATA, a `]]>` in
//!   the text split across two sections (as the crate does); text is written
//!   only after [`clean`](super::clean).

use rss::extension::atom::{AtomExtension, Link};
use rss::Channel;

use super::ext::{feed_elements, namespaces, ordered_map, own_namespace, NS_ATOM};
use super::rss_item::{namespaces_used, write_items};
use super::uri::uri;
use super::xml::{imf_date, text};
use super::Document;

const MEDIA_TYPE: &str = "application/rss+xml";

/// What follows the items: the crate writes them last in the channel.
pub(crate) const CLOSE: &[u8] = b"</channel></rss>";

/// Render `doc` as an RSS 2.0 document.
pub(crate) fn render(doc: &Document<'_>) -> Vec<u8> {
    let mut shell = channel(doc);
    for (prefix, ns) in namespaces_used(doc.entries) {
        shell.namespaces.insert(prefix.to_owned(), ns.to_owned());
    }
    let mut out = write(&shell, doc.entries.len());
    // The channel always has children (title, link, …), so it ends so.
    debug_assert!(out.ends_with(CLOSE));
    out.truncate(out.len().saturating_sub(CLOSE.len()));
    write_items(&mut out, doc);
    out.extend_from_slice(CLOSE);
    out
}

/// `channel` as the crate writes it, in a buffer for `entries` more items.
pub(crate) fn write(channel: &Channel, entries: usize) -> Vec<u8> {
    let capacity = 2048 + entries * 1024;
    channel
        .write_to(Vec::with_capacity(capacity))
        // Writing to a Vec cannot fail: the only errors are I/O errors.
        .expect("writing RSS to a Vec")
}

/// The channel of `doc`, without items.
pub(crate) fn channel(doc: &Document<'_>) -> Channel {
    let mut links = vec![link("self", doc.self_url, MEDIA_TYPE)];
    if let Some(next) = doc.next_url {
        links.push(link("next", next, MEDIA_TYPE));
    }
    if let Some(hub) = doc.hub_url {
        links.push(link("hub", hub, ""));
    }
    let mut namespaces = namespaces(&[("atom", NS_ATOM)]);
    namespaces.extend(own_namespace(doc));
    Channel {
        title: text(doc.title),
        link: uri(if doc.link.is_empty() {
            doc.feed_url
        } else {
            doc.link
        })
        .into_owned(),
        description: text(doc.description),
        last_build_date: doc.last_modified.map(imf_date),
        extensions: ordered_map(feed_elements(doc)),
        atom_ext: Some(AtomExtension { links }),
        namespaces,
        ..Channel::default()
    }
}

/// An `atom:link` (with no `type` for an empty `media_type`).
fn link(rel: &str, href: &str, media_type: &str) -> Link {
    Link {
        href: uri(href).into_owned(),
        rel: rel.to_owned(),
        mime_type: (!media_type.is_empty()).then(|| media_type.to_owned()),
        ..Link::default()
    }
}
