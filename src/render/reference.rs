//! The crate-based entry rendering feedgate used before `rss_item.rs` and
//! `atom_entry.rs` wrote entries directly, kept unchanged as the reference
//! the fast path is compared with, byte for byte (`tests_equal.rs`): every
//! RSS item an `rss::Item`, every Atom entry an `atom_syndication::Entry`
//! written on its own, every tombstone an [`El`] tree. The document shells
//! are the production ones (`rss::channel`, `atom::head`), which are the
//! former code as it was.

use std::borrow::Cow;

use atom_syndication::{Category, Content, Entry, Link, Person, Text, WriteConfig};
use chrono::DateTime;
use rss::extension::atom::AtomExtension;
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Enclosure, Guid, Item};

use super::content::{kind, Kind, MimeClass};
use super::ext::{entry_elements, ordered_map, El};
use super::ids::atom_id;
use super::uri::{is_http_url, item_url, media_type, uri};
use super::xml::{attr, base64, clean, escape_html, fixed, imf_date, rfc3339_ms, text};
use super::{atom, rss as rss_shell, Document};
use crate::model::{self, Action, Payload};

/// `doc` as RSS, every item rendered by the `rss` crate.
pub(crate) fn rss_document(doc: &Document<'_>) -> Vec<u8> {
    let mut channel = rss_shell::channel(doc);
    channel.items = doc.entries.iter().map(|e| item(doc.feed_url, e)).collect();
    rss_shell::write(&channel, doc.entries.len())
}

/// `doc` as Atom, every entry rendered by `atom_syndication`.
pub(crate) fn atom_document(doc: &Document<'_>) -> Vec<u8> {
    let mut out = atom::head(doc);
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
    out.extend_from_slice(atom::CLOSE);
    out
}

// The former `rss.rs`.

fn item(feed_url: &str, entry: &model::Entry) -> Item {
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
        .map(|c| rss::Category {
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

// The former `atom.rs`.

fn entry(feed_url: &str, e: &model::Entry, p: &Payload) -> Entry {
    let mut links = Vec::with_capacity(p.enclosures.len() + 1);
    // An empty link is no link (`href=""` would name the document itself).
    match p.link.as_deref().filter(|l| !l.trim().is_empty()) {
        Some(href) => links.push(atom::link("alternate", href, None)),
        None if p.content.is_none() => {
            links.push(atom::link("alternate", &item_url(feed_url, &e.id), None));
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
