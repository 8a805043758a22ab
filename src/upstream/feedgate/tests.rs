use super::*;
use crate::model::{Action, Enclosure, Entry};
use crate::render::{render, Document, Format, SyncMode};

fn full() -> Payload {
    Payload {
        title: Some("Title & <more>".into()),
        link: Some("https://example.org/a?x=1&y=2".into()),
        summary: Some("<p>Summary</p>".into()),
        content: Some("<b>html</b>".into()),
        content_type: Some("html".into()),
        author: Some("Ann".into()),
        categories: vec!["x".into(), "y z".into()],
        enclosures: vec![
            Enclosure {
                url: "https://example.org/a.mp3".into(),
                length: 12,
                mime: "audio/mpeg".into(),
                via: None,
            },
            Enclosure {
                url: "https://example.org/b.ogg".into(),
                length: 0,
                mime: "audio/ogg".into(),
                via: None,
            },
        ],
        published: Some("2024-05-01T10:00:00.5Z".into()),
    }
}

fn entry(seq: u64, id: &str, action: Action, payload: Option<Payload>) -> Entry {
    Entry {
        seq,
        id: id.into(),
        action,
        stamp: 1_714_564_800_000 + seq,
        payload,
    }
}

fn page(entries: &[Entry], etag: &str, mode: SyncMode, next: Option<&str>) -> Vec<u8> {
    render(
        Format::Atom,
        &Document {
            title: "A",
            link: "",
            description: "",
            feed_url: "http://a/feeds/news",
            self_url: "http://a/feeds/news",
            next_url: next,
            hub_url: None,
            etag,
            last_modified: Some(1_714_564_800_000),
            sync_mode: mode,
            head_tick: 99,
            head_stamp: Some(1_714_564_800_000),
            entries,
            upstream: None,
        },
    )
}

#[test]
fn a_rendered_page_parses_back() {
    let binary = Payload {
        content: Some(r#"{"k": "v"}"#.into()),
        content_type: Some("application/json".into()),
        ..Payload::default()
    };
    let plain = Payload {
        content: Some("a < b".into()),
        ..Payload::default()
    };
    let entries = [
        entry(3, "a", Action::Add, Some(full())),
        entry(4, "gone", Action::Delete, None),
        entry(5, "id with spaces/ü", Action::Update, Some(binary.clone())),
        entry(7, "p", Action::Add, Some(plain.clone())),
    ];
    let body = page(
        &entries,
        "ep0ch.7",
        SyncMode::Immediate,
        Some("http://a/feeds/news?etag=ep0ch.7"),
    );
    let p = parse_page(&body).unwrap();
    assert_eq!((p.epoch.as_str(), p.seq, p.catch_up), ("ep0ch", 7, false));
    assert_eq!(p.next.as_deref(), Some("http://a/feeds/news?etag=ep0ch.7"));
    let got: Vec<(u64, &str, Option<&Payload>)> = p
        .entries
        .iter()
        .map(|e| (e.tick, e.id.as_str(), e.payload.as_ref()))
        .collect();
    let mut want_full = full();
    want_full.published = Some("2024-05-01T10:00:00.500Z".into());
    assert_eq!(
        got,
        [
            (3, "a", Some(&want_full)),
            (4, "gone", None),
            (5, "id with spaces/ü", Some(&binary)),
            (7, "p", Some(&plain)),
        ]
    );
}

#[test]
fn catch_up_and_empty_pages() {
    let p = parse_page(&page(&[], "e.0", SyncMode::CatchUp, None)).unwrap();
    assert_eq!(
        (p.epoch.as_str(), p.seq, p.catch_up, p.next),
        ("e", 0, true, None)
    );
    assert!(p.entries.is_empty());
}

#[test]
fn foreign_or_broken_pages_are_errors() {
    let plain_atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id>
        <updated>2024-01-01T00:00:00Z</updated></feed>"#;
    let e = parse_page(plain_atom).unwrap_err().to_string();
    assert!(e.contains("ibmfs:etag"), "{e}");
    let good = page(
        &[entry(1, "a", Action::Add, Some(full()))],
        "e.1",
        SyncMode::CatchUp,
        None,
    );
    let text = String::from_utf8(good).unwrap();
    let no_action = text.replace("<ibmwcm:action>add</ibmwcm:action>", "");
    assert!(parse_page(no_action.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("ibmwcm:action"));
    let odd_action = text.replace(">add</ibmwcm:action>", ">merge</ibmwcm:action>");
    assert!(parse_page(odd_action.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("merge"));
    let bad_etag = text.replace("<ibmfs:etag>e.1<", "<ibmfs:etag>nonsense<");
    assert!(parse_page(bad_etag.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("EPOCH.SEQ"));
    let truncated = &text.as_bytes()[..text.len() - 20];
    assert!(parse_page(truncated).is_err());
}

#[test]
fn next_links_keep_the_configured_query() {
    let configured = Url::parse("http://a/feeds/news?access_token=t0k&limit=50").unwrap();
    let next = join(
        &configured,
        &configured,
        "http://a/feeds/news?etag=e.5&limit=50",
    )
    .unwrap();
    assert_eq!(
        next.as_str(),
        "http://a/feeds/news?etag=e.5&limit=50&access_token=t0k"
    );
    let plain = Url::parse("http://a/feeds/news").unwrap();
    let rel = join(&plain, &plain, "/feeds/news.atom?etag=e.9").unwrap();
    assert_eq!(rel.as_str(), "http://a/feeds/news.atom?etag=e.9");
    assert!(join(&plain, &plain, "http://[bad").is_err());
}

#[test]
fn next_links_to_another_origin_are_refused() {
    let configured = Url::parse("http://a:8080/feeds/news?access_token=t0k").unwrap();
    for foreign in [
        "http://evil:8080/feeds/news?etag=e.5",
        "http://a:8081/feeds/news?etag=e.5",
        "https://a:8080/feeds/news?etag=e.5",
        "//evil/feeds/news",
    ] {
        match join(&configured, &configured, foreign) {
            Err(SyncError::ForeignOrigin { what, origin }) => {
                assert_eq!(what, "next link");
                assert!(
                    !origin.contains("t0k") && !origin.contains("feeds"),
                    "{origin}"
                );
            }
            other => panic!("{foreign}: {other:?}"),
        }
    }
    let same = join(&configured, &configured, "http://a:8080/other?etag=e.1").unwrap();
    assert_eq!(
        same.as_str(),
        "http://a:8080/other?etag=e.1&access_token=t0k"
    );
}
