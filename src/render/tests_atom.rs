//! Tests of the Atom 1.0 feed document: its id, position, links and sync
//! digest, the order of entries and tombstones. Every body is parsed strictly
//! (roxmltree) and by `atom_syndication::Feed::read_from`, and the parsed
//! content is checked; what each entry carries is in `tests_atom_entries.rs`.

use super::item_id_from_atom;
use super::test_support::*;
use crate::model::Action;

#[test]
fn feed_carries_id_position_links_and_sync_digest() {
    let entries = mixed_entries();
    let (body, feed) = atom(&doc(&entries));
    let x = strict(&body);
    let f = x.root_element();
    assert_eq!(
        (f.tag_name().name(), f.tag_name().namespace()),
        ("feed", Some(NS_ATOM))
    );
    assert_eq!(kid_txt(f, NS_ATOM, "id"), FEED_URL);
    assert_eq!(kid_txt(f, NS_ATOM, "title"), "News & <Stuff>");
    assert_eq!(kid_txt(f, NS_ATOM, "subtitle"), "Company news");
    assert_eq!(kid_txt(f, NS_ATOM, "updated"), "2024-05-01T12:00:02+00:00");
    assert_eq!(
        kid_txt(kid(f, NS_ATOM, "author"), NS_ATOM, "name"),
        "News & <Stuff>"
    );
    let atom_type = Some("application/atom+xml".to_owned());
    assert_eq!(
        links(f, "self"),
        vec![(SELF_URL.to_owned(), atom_type.clone())]
    );
    assert_eq!(links(f, "next"), vec![(NEXT_URL.to_owned(), atom_type)]);
    assert_eq!(
        links(f, "alternate"),
        vec![("http://example.org/news".to_owned(), None)]
    );
    check_feed_sync(f, "ep.7", "immediate", 10, Some("2024-05-01T12:01:00.250Z"));

    assert_eq!(feed.id, FEED_URL);
    assert_eq!(feed.updated.to_rfc3339(), "2024-05-01T12:00:02+00:00");
    let rels: Vec<_> = feed.links.iter().map(|l| (&*l.rel, &*l.href)).collect();
    assert_eq!(
        rels,
        [
            ("self", SELF_URL),
            ("next", NEXT_URL),
            ("alternate", "http://example.org/news")
        ]
    );
    assert_eq!(
        feed.extensions["ibmfs"]["etag"][0].value.as_deref(),
        Some("ep.7")
    );
    assert_eq!(
        feed.extensions["sync"]["syncMode"][0].value.as_deref(),
        Some("immediate")
    );
    let de = &feed.extensions["sync"]["digest"][0].children["digestEntry"][0];
    assert_eq!(de.children["tick"][0].value.as_deref(), Some("10"));
    assert_eq!(feed.entries.len(), 2);
}

#[test]
fn empty_page_at_position_zero() {
    let (body, feed) = atom(&empty_doc());
    let x = strict(&body);
    let f = x.root_element();
    assert!(kids(f, NS_ATOM, "entry").is_empty() && kids(f, NS_AT, "deleted-entry").is_empty());
    assert_eq!(kid_txt(f, NS_ATOM, "updated"), "1970-01-01T00:00:00+00:00");
    assert_eq!(links(f, "self").len(), 1);
    assert!(links(f, "next").is_empty() && links(f, "alternate").is_empty());
    assert!(kids(f, NS_ATOM, "subtitle").is_empty());
    check_feed_sync(f, "ep.0", "catchUp", 1, None);
    assert!(feed.entries.is_empty());
    assert_eq!(
        feed.extensions["sync"]["syncMode"][0].value.as_deref(),
        Some("catchUp")
    );
}

#[test]
fn deletions_are_tombstones_interleaved_in_seq_order() {
    let mut entries = mixed_entries();
    let iri = "http://example.org/x?a=1&b='2'";
    entries.push(entry(8, iri, Action::Delete, T0 + 3_000, None));
    entries.push(entry(
        9,
        "back",
        Action::Add,
        T0 + 4_000,
        Some(payload("Back")),
    ));
    let (body, feed) = atom(&doc(&entries));
    let x = strict(&body);
    let f = x.root_element();
    let order: Vec<_> = child_names(f)
        .into_iter()
        .filter(|n| n == "entry" || n == "deleted-entry")
        .collect();
    assert_eq!(
        order,
        ["entry", "entry", "deleted-entry", "deleted-entry", "entry"]
    );
    // Every entry and tombstone in the document order is in seq order.
    let ticks: Vec<u64> = f
        .children()
        .filter(|n| n.tag_name().name() == "entry" || n.tag_name().name() == "deleted-entry")
        .map(|n| {
            kid_txt(kid(n, NS_SYNC, "syncState"), NS_SYNC, "tick")
                .parse()
                .unwrap()
        })
        .collect();
    let mut sorted = ticks.clone();
    sorted.sort_unstable();
    assert_eq!(ticks, sorted);
    let tombs = kids(f, NS_AT, "deleted-entry");
    let want = [
        ("urn:feedgate:gone", "2024-05-01T12:00:02.750Z", 7),
        (iri, "2024-05-01T12:00:03.250Z", 8),
    ];
    for (t, (r, when, tick)) in tombs.iter().zip(want) {
        assert_eq!(
            (t.attribute("ref"), t.attribute("when")),
            (Some(r), Some(when))
        );
        assert_eq!(kid_txt(*t, NS_IBMWCM, "action"), "delete");
        check_sync(kid(*t, NS_SYNC, "syncState"), tick, Some(when));
    }
    assert_eq!(
        item_id_from_atom("urn:feedgate:gone").as_deref(),
        Some("gone")
    );

    let parsed = &feed.extensions["at"]["deleted-entry"];
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[1].attrs.get("ref").map(String::as_str), Some(iri));
    assert_eq!(
        parsed[0].children["action"][0].value.as_deref(),
        Some("delete")
    );
    assert_eq!(
        parsed[1].children["syncState"][0].children["tick"][0]
            .value
            .as_deref(),
        Some("8")
    );
    assert_eq!(
        feed.entries
            .iter()
            .map(|e| &*e.id)
            .collect::<Vec<_>>()
            .len(),
        3
    );
}

#[test]
fn tombstone_refs_with_markup_chars_are_escaped() {
    let entries = [entry(3, "a\"<b>&'c", Action::Delete, T0, None)];
    let (body, feed) = atom(&doc(&entries));
    let x = strict(&body);
    let t = kid(x.root_element(), NS_AT, "deleted-entry");
    let r = t.attribute("ref").unwrap_or_default();
    assert_eq!(r, "urn:feedgate:a%22%3Cb%3E%26%27c");
    assert_eq!(item_id_from_atom(r).as_deref(), Some("a\"<b>&'c"));
    let parsed = &feed.extensions["at"]["deleted-entry"][0];
    assert_eq!(parsed.attrs.get("ref").map(String::as_str), Some(r));
}

#[test]
fn a_hundred_entry_page_keeps_seq_order() {
    let entries = numbered_entries(100);
    let (body, feed) = atom(&doc(&entries));
    let x = strict(&body);
    let ids: Vec<String> = kids(x.root_element(), NS_ATOM, "entry")
        .into_iter()
        .map(|e| kid_txt(e, NS_ATOM, "id"))
        .collect();
    assert_eq!(
        ids,
        (1..=100)
            .map(|i| format!("urn:feedgate:id-{i}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(feed.entries.len(), 100);
}
