//! Fixtures and strict-parsing helpers shared by the render tests
//! (`tests_rss.rs`, `tests_atom.rs`, `tests_atom_entries.rs`).

use roxmltree::Node;

use super::{render, Document, Format, SyncMode};
use crate::model::{Action, Enclosure, Entry, Payload};

pub const FEED_URL: &str = "http://gw.example/feeds/news";
pub const SELF_URL: &str = "http://gw.example/feeds/news?etag=ep.4&limit=2";
pub const NEXT_URL: &str = "http://gw.example/feeds/news?etag=ep.7&limit=2";
/// 2024-05-01T12:00:00.250Z
pub const T0: u64 = 1_714_564_800_250;

pub const NS_IBMFS: &str = "http://purl.org/net/ibmfeedsvc/feedsvc/1.0";
pub const NS_IBMWCM: &str = "http://purl.org/net/ibmfeedsvc/wcm/1.0";
pub const NS_SYNC: &str = "http://schemas.sage.com/sdata/sync/2008/1";
pub const NS_AT: &str = "http://purl.org/atompub/tombstones/1.0";
pub const NS_ATOM: &str = "http://www.w3.org/2005/Atom";

/// Text with everything the documents must survive: C0 controls, a CDATA
/// terminator, markup and entities, non-ASCII, TAB and LF.
pub const NASTY: &str =
    "\u{1}<b>&amp;</b> ]]> Grüße,\u{0} 日本語,\u{b} emoji 🎉\u{fffe}\tend\nline \u{ffff}x";
/// [`NASTY`] minus the characters XML 1.0 forbids.
pub const NASTY_CLEAN: &str = "<b>&amp;</b> ]]> Grüße, 日本語, emoji 🎉\tend\nline x";

/// A 256-byte id of markup, an ampersand and non-ASCII.
pub fn long_id() -> String {
    let id = format!("<&>{}", "é".repeat(100)) + &"x".repeat(53);
    assert_eq!(id.len(), 256);
    id
}

pub fn payload(title: &str) -> Payload {
    Payload {
        title: Some(title.to_owned()),
        link: Some("http://example.org/items/1?a=1&b=2".to_owned()),
        summary: Some("A <em>summary</em>".to_owned()),
        content: Some("<p>Body &amp; more</p>".to_owned()),
        content_type: Some("html".to_owned()),
        author: Some("Jane Doe".to_owned()),
        categories: vec!["news".to_owned(), "tech & science".to_owned()],
        enclosures: vec![
            Enclosure {
                url: "http://cdn.example/a.mp3".into(),
                length: 1234,
                mime: "audio/mpeg".into(),
                via: None,
            },
            Enclosure {
                url: "http://cdn.example/b.mp4".into(),
                length: 0,
                mime: "video/mp4".into(),
                via: None,
            },
        ],
        published: Some("2024-04-30T08:00:00Z".to_owned()),
    }
}

pub fn entry(seq: u64, id: &str, action: Action, stamp: u64, payload: Option<Payload>) -> Entry {
    Entry {
        seq,
        id: id.to_owned(),
        action,
        stamp,
        payload,
    }
}

/// Three entries: an add (full payload), an update (nasty text), a delete.
pub fn mixed_entries() -> Vec<Entry> {
    let mut nasty = payload(NASTY);
    nasty.summary = Some(NASTY.to_owned());
    nasty.content = Some(NASTY.to_owned());
    nasty.content_type = Some("text".to_owned());
    nasty.author = Some(NASTY.to_owned());
    nasty.categories = vec![NASTY.to_owned()];
    nasty.enclosures.clear();
    vec![
        entry(5, "item-1", Action::Add, T0, Some(payload("First"))),
        entry(6, &long_id(), Action::Update, T0 + 1_000, Some(nasty)),
        entry(7, "gone", Action::Delete, T0 + 2_500, None),
    ]
}

/// `n` adds, `id-1` to `id-n`, at seq 1 to `n`.
pub fn numbered_entries(n: u64) -> Vec<Entry> {
    (1..=n)
        .map(|i| {
            entry(
                i,
                &format!("id-{i}"),
                Action::Add,
                T0 + i,
                Some(payload(&format!("t{i}"))),
            )
        })
        .collect()
}

/// The Atom rendering of `doc`, and what `atom_syndication` parses of it.
pub fn atom(doc: &Document<'_>) -> (Vec<u8>, atom_syndication::Feed) {
    let body = render(Format::Atom, doc);
    let feed = atom_syndication::Feed::read_from(&body[..]).expect("atom crate parses the body");
    (body, feed)
}

/// A delta document over `entries` with a next page.
pub fn doc(entries: &[Entry]) -> Document<'_> {
    Document {
        title: "News & <Stuff>",
        link: "http://example.org/news",
        description: "Company news",
        feed_url: FEED_URL,
        self_url: SELF_URL,
        next_url: Some(NEXT_URL),
        hub_url: None,
        etag: "ep.7",
        last_modified: Some(T0 + 2_500),
        sync_mode: SyncMode::Immediate,
        head_tick: 10,
        head_stamp: Some(T0 + 60_000),
        entries,
        upstream: None,
    }
}

/// A catch-up document at position 0 of an empty log.
pub fn empty_doc() -> Document<'static> {
    Document {
        title: "Empty",
        link: "",
        description: "",
        feed_url: FEED_URL,
        self_url: FEED_URL,
        next_url: None,
        hub_url: None,
        etag: "ep.0",
        last_modified: None,
        sync_mode: SyncMode::CatchUp,
        head_tick: 1,
        head_stamp: None,
        entries: &[],
        upstream: None,
    }
}

/// The body as UTF-8, parsed strictly; panics (failing the test) otherwise.
pub fn strict(body: &[u8]) -> roxmltree::Document<'_> {
    let xml = std::str::from_utf8(body).expect("body is UTF-8");
    roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"))
}

/// The element children of `node` named `ns`:`local`.
pub fn kids<'a, 'i>(node: Node<'a, 'i>, ns: &'a str, local: &'a str) -> Vec<Node<'a, 'i>> {
    node.children()
        .filter(|n| {
            n.is_element()
                && n.tag_name().name() == local
                && n.tag_name().namespace().unwrap_or("") == ns
        })
        .collect()
}

/// The only element child of `node` named `ns`:`local`.
pub fn kid<'a, 'i>(node: Node<'a, 'i>, ns: &'a str, local: &'a str) -> Node<'a, 'i> {
    let found = kids(node, ns, local);
    assert_eq!(
        found.len(),
        1,
        "one <{local}> ({ns}) in <{}>",
        node.tag_name().name()
    );
    found[0]
}

/// All character data directly inside `node` (text and CDATA sections).
pub fn txt(node: Node<'_, '_>) -> String {
    node.children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

/// Text of the only child `ns`:`local` of `node`.
pub fn kid_txt(node: Node<'_, '_>, ns: &str, local: &str) -> String {
    txt(kid(node, ns, local))
}

/// Names of the element children of `node`, as `prefix-less local names`.
pub fn child_names(node: Node<'_, '_>) -> Vec<String> {
    node.children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name().to_owned())
        .collect()
}

/// Check a `sync:syncState` or `sync:digestEntry` child sequence and values.
pub fn check_sync(node: Node<'_, '_>, tick: u64, stamp: Option<&str>) {
    assert_eq!(kid_txt(node, NS_SYNC, "endpoint"), FEED_URL);
    assert_eq!(kid_txt(node, NS_SYNC, "tick"), tick.to_string());
    match stamp {
        Some(s) => assert_eq!(kid_txt(node, NS_SYNC, "stamp"), s),
        None => assert!(kids(node, NS_SYNC, "stamp").is_empty()),
    }
}

/// Check the feed-level `ibmfs:etag`, `sync:syncMode` and `sync:digest` under `parent`.
pub fn check_feed_sync(
    parent: Node<'_, '_>,
    etag: &str,
    mode: &str,
    tick: u64,
    stamp: Option<&str>,
) {
    assert_eq!(kid_txt(parent, NS_IBMFS, "etag"), etag);
    assert_eq!(kid_txt(parent, NS_SYNC, "syncMode"), mode);
    let digest = kid(parent, NS_SYNC, "digest");
    assert_eq!(kid_txt(digest, NS_SYNC, "origin"), FEED_URL);
    let de = kid(digest, NS_SYNC, "digestEntry");
    check_sync(de, tick, stamp);
    assert_eq!(kid_txt(de, NS_SYNC, "conflictPriority"), "1");
    let mut order = vec!["endpoint", "tick", "stamp", "conflictPriority"];
    if stamp.is_none() {
        order.remove(2);
    }
    assert_eq!(child_names(de), order);
}

/// `(href, type)` of the `atom:link` children of `node` with `rel`.
pub fn links(node: Node<'_, '_>, rel: &str) -> Vec<(String, Option<String>)> {
    kids(node, NS_ATOM, "link")
        .into_iter()
        .filter(|l| l.attribute("rel") == Some(rel))
        .map(|l| {
            let href = l.attribute("href").unwrap_or_default().to_owned();
            (href, l.attribute("type").map(str::to_owned))
        })
        .collect()
}
