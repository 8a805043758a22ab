//! The foreign-namespace elements both formats carry (`ibmfs:etag`,
//! `ibmwcm:action`, `sync:*`, `at:deleted-entry`), built once as a small tree
//! ([`El`]) and converted to each crate's extension type.
//!
//! Both crates write an extension map (`prefix -> name -> [element]`) and an
//! element's children (`name -> [element]`) in key order, which would sort
//! `sync:digestEntry`'s children alphabetically. To keep the document order
//! the SData schema uses (endpoint, tick, stamp, conflictPriority), all
//! elements of one level go into a single vector under one key ([`ORDERED`]);
//! the key is never written, only the elements' own qualified names are.

use std::collections::BTreeMap;

#[cfg(test)]
use super::xml::escape_html;
use super::xml::{attr, escape_attr, rfc3339_ms, text};
use super::{Document, SyncMode};
#[cfg(test)]
use crate::model::Entry;

pub const NS_IBMFS: &str = "http://purl.org/net/ibmfeedsvc/feedsvc/1.0";
pub const NS_IBMWCM: &str = "http://purl.org/net/ibmfeedsvc/wcm/1.0";
pub const NS_SYNC: &str = "http://schemas.sage.com/sdata/sync/2008/1";
pub const NS_AT: &str = "http://purl.org/atompub/tombstones/1.0";
pub const NS_ATOM: &str = "http://www.w3.org/2005/Atom";
/// feedgate's own elements (`feedgate:upstream`); a name, never fetched.
pub const NS_FEEDGATE: &str = "urn:feedgate:xmlns:1";

/// The single key under which a level's elements are kept in order.
const ORDERED: &str = "";

/// A foreign element: qualified name, cleaned text, cleaned attributes,
/// children in document order.
#[derive(Debug)]
pub(crate) struct El {
    name: &'static str,
    value: Option<String>,
    attrs: Vec<(&'static str, String)>,
    children: Vec<El>,
}

impl El {
    /// `<name>text</name>`; `value` is cleaned here.
    pub fn leaf(name: &'static str, value: &str) -> El {
        El {
            name,
            value: Some(text(value)),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn parent(name: &'static str, children: Vec<El>) -> El {
        El {
            name,
            value: None,
            attrs: Vec::new(),
            children,
        }
    }

    /// Add an attribute; `value` is cleaned here.
    pub fn with_attr(mut self, name: &'static str, value: &str) -> El {
        self.attrs.push((name, attr(value)));
        self
    }

    /// Serialise this element (and its children) as XML into `out`, for the
    /// places where a crate cannot put it where it belongs. Text and
    /// attributes were cleaned on the way in and are escaped here. (How
    /// tombstones were written before `atom_entry.rs`: the tests' reference.)
    #[cfg(test)]
    pub fn write_xml(&self, out: &mut Vec<u8>) {
        out.push(b'<');
        out.extend_from_slice(self.name.as_bytes());
        for (k, v) in &self.attrs {
            out.push(b' ');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"=\"");
            out.extend_from_slice(escape_attr(v).as_bytes());
            out.push(b'"');
        }
        if self.value.is_none() && self.children.is_empty() {
            out.extend_from_slice(b"/>");
            return;
        }
        out.push(b'>');
        if let Some(v) = &self.value {
            out.extend_from_slice(escape_html(v).as_bytes());
        }
        for c in &self.children {
            c.write_xml(out);
        }
        out.extend_from_slice(b"</");
        out.extend_from_slice(self.name.as_bytes());
        out.push(b'>');
    }
}

impl From<El> for rss::extension::Extension {
    fn from(el: El) -> Self {
        rss::extension::Extension {
            name: el.name.to_owned(),
            value: el.value,
            // `rss` escapes attribute values itself.
            attrs: el
                .attrs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            children: ordered_children(el.children),
        }
    }
}

impl From<El> for atom_syndication::extension::Extension {
    fn from(el: El) -> Self {
        atom_syndication::extension::Extension {
            name: el.name.to_owned(),
            value: el.value,
            // `atom_syndication` writes extension attribute values verbatim
            // (quick-xml's byte-slice attribute form), so escape them here.
            attrs: el
                .attrs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), escape_attr(&v).into_owned()))
                .collect(),
            children: ordered_children(el.children),
        }
    }
}

fn ordered_children<E: From<El>>(children: Vec<El>) -> BTreeMap<String, Vec<E>> {
    let mut map = BTreeMap::new();
    if !children.is_empty() {
        map.insert(
            ORDERED.to_owned(),
            children.into_iter().map(E::from).collect(),
        );
    }
    map
}

/// An extension map holding `elements` in the given order.
pub(crate) fn ordered_map<E: From<El>>(
    elements: Vec<El>,
) -> BTreeMap<String, BTreeMap<String, Vec<E>>> {
    let mut map = BTreeMap::new();
    if !elements.is_empty() {
        map.insert(ORDERED.to_owned(), ordered_children(elements));
    }
    map
}

/// Feed-level elements: `ibmfs:etag`, `sync:syncMode`, `sync:digest`.
pub(crate) fn feed_elements(doc: &Document<'_>) -> Vec<El> {
    let mode = match doc.sync_mode {
        SyncMode::CatchUp => "catchUp",
        SyncMode::Immediate => "immediate",
    };
    let mut entry = vec![
        El::leaf("sync:endpoint", doc.feed_url),
        El::leaf("sync:tick", &doc.head_tick.to_string()),
    ];
    if let Some(stamp) = doc.head_stamp {
        entry.push(El::leaf("sync:stamp", &rfc3339_ms(stamp)));
    }
    entry.push(El::leaf("sync:conflictPriority", "1"));
    let mut elements = vec![
        El::leaf("ibmfs:etag", doc.etag),
        El::leaf("sync:syncMode", mode),
        El::parent(
            "sync:digest",
            vec![
                El::leaf("sync:origin", doc.feed_url),
                El::parent("sync:digestEntry", entry),
            ],
        ),
    ];
    if let Some(n) = doc.upstream {
        elements.push(
            El::leaf("feedgate:upstream", &n.error)
                .with_attr("state", "failing")
                .with_attr("failures", &n.failures.to_string())
                .with_attr("last-success", n.last_success.as_deref().unwrap_or("never")),
        );
    }
    elements
}

/// The root's declaration of feedgate's namespace, when `doc` uses it.
pub(crate) fn own_namespace(doc: &Document<'_>) -> Option<(String, String)> {
    doc.upstream
        .map(|_| ("feedgate".to_owned(), NS_FEEDGATE.to_owned()))
}

/// Entry-level elements: `ibmwcm:action`, `sync:syncState` (as the crates'
/// extensions of the tests' reference; `rss_item.rs` and `atom_entry.rs`
/// write them directly).
#[cfg(test)]
pub(crate) fn entry_elements(feed_url: &str, entry: &Entry) -> Vec<El> {
    vec![
        El::leaf("ibmwcm:action", entry.action.as_str()),
        El::parent(
            "sync:syncState",
            vec![
                El::leaf("sync:endpoint", feed_url),
                El::leaf("sync:tick", &entry.seq.to_string()),
                El::leaf("sync:stamp", &rfc3339_ms(entry.stamp)),
            ],
        ),
    ]
}

/// The namespace declarations of the root element (prefix, URI).
pub(crate) fn namespaces(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    [
        ("ibmfs", NS_IBMFS),
        ("ibmwcm", NS_IBMWCM),
        ("sync", NS_SYNC),
    ]
    .iter()
    .chain(extra)
    .map(|(p, u)| ((*p).to_owned(), (*u).to_owned()))
    .collect()
}
