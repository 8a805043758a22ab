//! The fast path equals the reference, byte for byte: every document
//! [`render`] writes (crate shell, entries written directly) is compared
//! with the former crate-based rendering kept in `reference.rs`, over every
//! document the other render tests build and over a generated set (a small
//! deterministic xorshift generator) of hostile documents.

use super::digest::Digest;
use super::reference::{atom_document, rss_document};
use super::test_gen::{Generated, Rng};
use super::test_support::*;
use super::{render, Document, Format, SyncMode};
use crate::model::{Action, Entry, Payload};

/// Panic with the first difference when `doc` renders unlike the reference.
#[track_caller]
fn assert_same(doc: &Document<'_>, what: &str) {
    for (format, reference) in [
        (Format::Rss, rss_document(doc)),
        (Format::Atom, atom_document(doc)),
    ] {
        let fast = render(format, doc);
        if fast != reference {
            let at = fast
                .iter()
                .zip(&reference)
                .position(|(a, b)| a != b)
                .unwrap_or(fast.len().min(reference.len()));
            let from = at.saturating_sub(120);
            panic!(
                "{what} {format:?}: differs at byte {at}\n fast: {}\n  ref: {}",
                String::from_utf8_lossy(&fast[from..(at + 120).min(fast.len())]),
                String::from_utf8_lossy(&reference[from..(at + 120).min(reference.len())]),
            );
        }
    }
}

/// The document of `benches/hot_path.rs`: 95 updates and 5 deletes.
fn bench_entries() -> Vec<Entry> {
    (0..100u64)
        .map(|i| {
            let delete = i % 20 == 19;
            let p = Payload {
                title: Some(format!("Item {i}: revision 1 of a benchmark entry")),
                link: Some(format!("https://example.org/items/{i}?rev=1")),
                summary: Some(format!("Revision 1 of item {i}. A summary.")),
                author: Some("Benchmark".to_string()),
                categories: vec!["bench".to_string()],
                ..Payload::default()
            };
            let action = if delete {
                Action::Delete
            } else {
                Action::Update
            };
            entry(
                9_001 + i,
                &format!("item-{i}"),
                action,
                1_764_073_400_000 + i * 7,
                (!delete).then_some(p),
            )
        })
        .collect()
}

#[test]
fn the_other_tests_documents_render_as_the_reference() {
    let mixed = mixed_entries();
    assert_same(&doc(&mixed), "mixed");
    assert_same(&empty_doc(), "empty");
    let mut no_next = doc(&mixed);
    no_next.next_url = None;
    no_next.hub_url = Some("http://hub.example/?a=1&b='2'");
    assert_same(&no_next, "hub");

    let mut more = mixed_entries();
    let iri = "http://example.org/x?a=1&b='2'";
    more.push(entry(8, iri, Action::Delete, T0 + 3_000, None));
    more.push(entry(
        9,
        "back",
        Action::Add,
        T0 + 4_000,
        Some(payload("Back")),
    ));
    assert_same(&doc(&more), "tombstones");
    let marked = [entry(3, "a\"<b>&'c", Action::Delete, T0, None)];
    assert_same(&doc(&marked), "tombstone ref");
    let hundred = numbered_entries(100);
    assert_same(&doc(&hundred), "hundred");

    let bare = [entry(1, "a", Action::Add, T0, Some(Payload::default()))];
    let mut d = doc(&bare);
    d.title = "Ti\u{0}tle ]]> <x>";
    d.self_url = "http://gw.example/feeds/news?q=a\u{1}b&x='\"'";
    assert_same(&d, "feed-level text");

    let types = [
        None,
        Some("text"),
        Some("bogus type"),
        Some("html"),
        Some("xhtml"),
        Some("text/html; charset=utf-8"),
        Some("application/xhtml+xml"),
        Some("text/plain"),
        Some("application/xml"),
        Some("application/json"),
        Some("application/octet-stream"),
    ];
    let values = [
        "<p>a ]]> b</p>",
        "1 < 2 & 3",
        "<tag>",
        r#"{"a":"<"}"#,
        "\u{1}x",
        "<r a='1'/>",
    ];
    for ct in types {
        for value in values {
            for action in [Action::Add, Action::Update] {
                let p = Payload {
                    content: Some(value.to_owned()),
                    content_type: ct.map(str::to_owned),
                    ..Payload::default()
                };
                let one = [entry(1, "a", action, T0, Some(p))];
                assert_same(&doc(&one), &format!("content {ct:?} {value:?}"));
            }
        }
    }
    let cr = Payload {
        title: Some("a\r\nb\rc".to_owned()),
        ..Payload::default()
    };
    assert_same(&doc(&[entry(1, "a", Action::Add, T0, Some(cr))]), "CR");

    // digest.rs's pages.
    let mut forged = payload("<sync:digestEntry><sync:tick>0</sync:tick>");
    forged.summary = Some("<sync:digestEntry><sync:tick>1</sync:tick>".into());
    forged.content = Some("]]><sync:tick>2</sync:tick><sync:stamp>x</sync:stamp>".into());
    let forged = [
        entry(3, "a", Action::Add, T0, Some(forged)),
        entry(4, "b", Action::Delete, T0 + 750, None),
    ];
    let mut base = doc(&forged);
    base.title = "<sync:digestEntry><sync:tick>7</sync:tick>";
    base.description = "<sync:stamp>desc</sync:stamp>";
    for (seq, stamp) in [(9, Some(T0 + 1_750)), (123_456_789, Some(0)), (1, None)] {
        let d = Document {
            head_tick: seq + 1,
            head_stamp: stamp,
            ..base.clone()
        };
        assert_same(&d, "digest");
    }

    let bench = bench_entries();
    let d = Document {
        title: "Bench",
        link: "https://example.org/bench",
        description: "Benchmark feed",
        feed_url: "http://127.0.0.1:8080/feeds/bench",
        self_url: "http://127.0.0.1:8080/feeds/bench",
        next_url: Some("http://127.0.0.1:8080/feeds/bench?etag=3f0c9a1e2b7d4c55.9100"),
        hub_url: None,
        etag: "3f0c9a1e2b7d4c55.9100",
        last_modified: Some(1_764_073_400_693),
        sync_mode: SyncMode::Immediate,
        head_tick: 10_001,
        head_stamp: Some(1_764_073_463_000),
        entries: &bench,
        upstream: None,
    };
    assert_same(&d, "bench");
}

#[test]
fn generated_documents_render_as_the_reference() {
    const DOCUMENTS: usize = 3_000;
    let mut r = Rng(0x5EED_F00D_CAFE_1234);
    let mut located = 0;
    let mut seen = [0usize; FEATURES.len()];
    for n in 0..DOCUMENTS {
        let generated = Generated::new(&mut r);
        let d = generated.document();
        assert_same(&d, &format!("generated document {n}"));
        for format in [Format::Rss, Format::Atom] {
            let page = String::from_utf8_lossy(&render(format, &d)).into_owned();
            for (count, feature) in seen.iter_mut().zip(FEATURES) {
                *count += usize::from(page.contains(feature));
            }
        }
        // The digest of a fast-path page is found and respliced as before.
        if d.head_stamp.is_some() {
            for format in [Format::Rss, Format::Atom] {
                let page = render(format, &d);
                let digest = Digest::locate(&page).expect("a page with a head has a digest");
                let (seq, stamp) = (r.next() % 1_000_000, r.next() % 4_102_444_800_000);
                let fresh = Document {
                    head_tick: seq + 1,
                    head_stamp: Some(stamp),
                    ..d.clone()
                };
                assert_eq!(
                    digest.respliced(&page, seq, stamp).0,
                    render(format, &fresh)
                );
                located += 1;
            }
        }
    }
    // Most pages have a head stamp, and every one of those has a digest.
    assert!(located > DOCUMENTS, "{located}");
    // The generator reaches every case it is meant to (pages with each).
    for (count, feature) in seen.iter().zip(FEATURES) {
        assert!(*count >= 20, "{feature:?} in only {count} pages");
    }
}

/// Marks of the cases the generated pages must cover.
const FEATURES: [&str; 27] = [
    "<at:deleted-entry",
    "<enclosure ",
    "<atom:link href=",
    "rel=\"enclosure\"/>",
    "<summary></summary>",
    "]]><![CDATA[>",
    "<description><![CDATA[]]></description>",
    "<published>",
    "<dc:date>",
    "<dc:creator>",
    "<category>",
    "<category term=",
    "&apos;",
    "&quot;",
    "xmlns:content=",
    "xmlns:dc=",
    "rel=\"hub\"",
    "rel=\"next\"",
    "/items/",
    "%E4%BE%8B",
    "<content type=\"text\">",
    "<content type=\"html\">",
    "<content type=\"text/plain",
    "<content type=\"image/svg+xml\">",
    "<content type=\"application/octet-stream\">",
    "+10000-",
    "<title></title>",
];
