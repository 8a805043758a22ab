//! RSS 2.0 documents, written with the `rss` crate.
//!
//! This file owns the mapping of a [`Document`] to an `rss::Channel`:
//! - channel: `title`, `link`, `description`, `lastBuildDate` (IMF-fixdate,
//!   whole seconds, = `Last-Modified`; absent at position 0), then
//!   `ibmfs:etag`, `sync:syncMode`, `sync:digest`, then `atom:link` self/next.
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
//! - `description` and `content:encoded` are written as CDATA by the crate,
//!   which splits a `]]>` in the text across two sections; text reaches the
//!   crate only after [`clean`](super::clean).

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Enclosure, Guid, Item};

use super::content::{kind, Kind};
use super::ext::{entry_elements, feed_elements, namespaces, ordered_map, NS_ATOM};
use super::uri::{is_http_url, media_type, uri};
use super::xml::{clean, escape_html, imf_date, text};
use super::Document;
use crate::model::{Action, Entry, Payload};

const MEDIA_TYPE: &str = "application/rss+xml";

/// Render `doc` as an RSS 2.0 document.
pub(crate) fn render(doc: &Document<'_>) -> Vec<u8> {
    let mut links = vec![link("self", doc.self_url, MEDIA_TYPE)];
    if let Some(next) = doc.next_url {
        links.push(link("next", next, MEDIA_TYPE));
    }
    if let Some(hub) = doc.hub_url {
        links.push(link("hub", hub, ""));
    }
    let channel = Channel {
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
        namespaces: namespaces(&[("atom", NS_ATOM)]),
        items: doc.entries.iter().map(|e| item(doc.feed_url, e)).collect(),
        ..Channel::default()
    };
    let capacity = 2048 + doc.entries.len() * 1024;
    channel
        .write_to(Vec::with_capacity(capacity))
        // Writing to a Vec cannot fail: the only errors are I/O errors.
        .expect("writing RSS to a Vec")
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

fn item(feed_url: &str, entry: &Entry) -> Item {
    let mut item = Item {
        guid: Some(Guid {
            value: text(&entry.id),
            permalink: false,
        }),
        pub_date: Some(imf_date(entry.stamp)),
        extensions: ordered_map(entry_elements(feed_url, entry)),
        ..Item::default()
    };
    if let (Action::Add | Action::Update, Some(payload)) = (entry.action, &entry.payload) {
        fill(&mut item, payload);
    }
    if item.title.is_none() && item.description.is_none() {
        item.description = Some(String::new());
    }
    item
}

/// The payload fields of an add/update item.
fn fill(item: &mut Item, p: &Payload) {
    item.title = p.title.as_deref().map(text);
    // An empty link is no link (RSS wants a full URL).
    item.link = p
        .link
        .as_deref()
        .filter(|l| !l.trim().is_empty())
        .map(|l| uri(l).into_owned());
    item.description = p.summary.as_deref().map(text);
    item.content = p
        .content
        .as_deref()
        .map(|c| match kind(p.content_type.as_deref()) {
            Kind::Html => text(c),
            Kind::Text | Kind::Mime(..) => escape_html(&clean(c)).into_owned(),
        });
    if p.author.is_some() || p.published.is_some() {
        item.dublin_core_ext = Some(DublinCoreExtension {
            creators: p.author.as_deref().map(text).into_iter().collect(),
            dates: p.published.as_deref().map(text).into_iter().collect(),
            ..DublinCoreExtension::default()
        });
    }
    item.categories = p
        .categories
        .iter()
        .map(|c| Category {
            name: text(c),
            domain: None,
        })
        .collect();
    let rss_enclosure = p
        .enclosures
        .iter()
        .position(|e| is_http_url(&uri(&e.url)) && media_type(&e.mime).is_some());
    item.enclosure = rss_enclosure.map(|i| {
        let e = &p.enclosures[i];
        Enclosure {
            url: uri(&e.url).into_owned(),
            length: e.length.to_string(),
            mime_type: media_type(&e.mime).unwrap_or_default().into_owned(),
        }
    });
    let more: Vec<Link> = p
        .enclosures
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != rss_enclosure)
        .map(|(_, e)| Link {
            href: uri(&e.url).into_owned(),
            rel: "enclosure".to_owned(),
            mime_type: media_type(&e.mime).map(|m| m.into_owned()),
            length: (e.length > 0).then(|| e.length.to_string()),
            ..Link::default()
        })
        .collect();
    if !more.is_empty() {
        item.atom_ext = Some(AtomExtension { links: more });
    }
}
