//! Tests of Atom 1.0 entries: ids, dates, action, tick and payload, hostile
//! text, and content by type (RFC 4287 §4.1.3). Every body is parsed strictly
//! (roxmltree) and by `atom_syndication::Feed::read_from`.

use super::test_support::*;
use super::{atom_id, item_id_from_atom};
use crate::model::{Action, Payload};

#[test]
fn entries_carry_id_dates_action_tick_and_payload() {
    let entries = mixed_entries();
    let (body, feed) = atom(&doc(&entries));
    let x = strict(&body);
    let es = kids(x.root_element(), NS_ATOM, "entry");
    assert_eq!(es.len(), 2);
    let ids = [
        "urn:feedgate:item-1".to_owned(),
        atom_id(&entries[1].id).into_owned(),
    ];
    let updated = [
        "2024-05-01T12:00:00.250+00:00",
        "2024-05-01T12:00:01.250+00:00",
    ];
    for (i, e) in es.iter().enumerate() {
        let id = kid_txt(*e, NS_ATOM, "id");
        assert_eq!(id, ids[i]);
        assert_eq!(
            item_id_from_atom(&id).as_deref(),
            Some(entries[i].id.as_str())
        );
        assert_eq!(kid_txt(*e, NS_ATOM, "updated"), updated[i]);
        assert_eq!(kid_txt(*e, NS_IBMWCM, "action"), ["add", "update"][i]);
        let state = kid(*e, NS_SYNC, "syncState");
        check_sync(
            state,
            5 + i as u64,
            Some(&updated[i].replace("+00:00", "Z")),
        );
        assert_eq!(child_names(state), ["endpoint", "tick", "stamp"]);

        let parsed = &feed.entries[i];
        assert_eq!(parsed.id, ids[i]);
        assert_eq!(parsed.updated.to_rfc3339(), updated[i]);
        assert_eq!(
            parsed.extensions["ibmwcm"]["action"][0].value.as_deref(),
            Some(["add", "update"][i])
        );
        let tick = &parsed.extensions["sync"]["syncState"][0].children["tick"][0];
        assert_eq!(tick.value, Some((5 + i).to_string()));
    }

    let add = es[0];
    let title = kid(add, NS_ATOM, "title");
    assert_eq!(
        (txt(title), title.attribute("type")),
        ("First".to_owned(), None)
    );
    assert_eq!(
        kid_txt(add, NS_ATOM, "published"),
        "2024-04-30T08:00:00+00:00"
    );
    let summary = kid(add, NS_ATOM, "summary");
    assert_eq!(
        (txt(summary), summary.attribute("type")),
        ("A <em>summary</em>".to_owned(), Some("html"))
    );
    let content = kid(add, NS_ATOM, "content");
    assert_eq!(
        (txt(content), content.attribute("type")),
        ("<p>Body &amp; more</p>".to_owned(), Some("html"))
    );
    assert_eq!(
        kid_txt(kid(add, NS_ATOM, "author"), NS_ATOM, "name"),
        "Jane Doe"
    );
    let terms: Vec<_> = kids(add, NS_ATOM, "category")
        .iter()
        .map(|c| c.attribute("term").unwrap_or_default())
        .collect();
    assert_eq!(terms, ["news", "tech & science"]);
    assert_eq!(
        links(add, "alternate"),
        vec![("http://example.org/items/1?a=1&b=2".to_owned(), None)]
    );
    let enc: Vec<_> = kids(add, NS_ATOM, "link")
        .into_iter()
        .filter(|l| l.attribute("rel") == Some("enclosure"))
        .map(|l| ["href", "type", "length"].map(|a| l.attribute(a).map(str::to_owned)))
        .collect();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        enc,
        [
            [s("http://cdn.example/a.mp3"), s("audio/mpeg"), s("1234")],
            [s("http://cdn.example/b.mp4"), s("video/mp4"), None]
        ]
    );

    let parsed = &feed.entries[0];
    assert_eq!(parsed.title.value, "First");
    assert_eq!(
        parsed.published.map(|p| p.to_rfc3339()).as_deref(),
        Some("2024-04-30T08:00:00+00:00")
    );
    assert_eq!(parsed.authors[0].name, "Jane Doe");
    assert_eq!(
        parsed.content.as_ref().and_then(|c| c.value.as_deref()),
        Some("<p>Body &amp; more</p>")
    );
    assert_eq!(parsed.links.len(), 3);
}

#[test]
fn hostile_text_arrives_intact_minus_forbidden_chars() {
    let entries = mixed_entries();
    let (body, feed) = atom(&doc(&entries));
    let x = strict(&body);
    let e = kids(x.root_element(), NS_ATOM, "entry")[1];
    // A 256-byte id of markup and non-ASCII maps to a reversible urn.
    let id = kid_txt(e, NS_ATOM, "id");
    assert!(id.starts_with("urn:feedgate:%3C%26%3E%C3%A9"), "{id}");
    assert_eq!(item_id_from_atom(&id), Some(long_id()));
    assert_eq!(kid_txt(e, NS_ATOM, "title"), NASTY_CLEAN);
    assert_eq!(kid_txt(e, NS_ATOM, "summary"), NASTY_CLEAN);
    let content = kid(e, NS_ATOM, "content");
    assert_eq!(
        (txt(content), content.attribute("type")),
        (NASTY_CLEAN.to_owned(), Some("text"))
    );
    assert_eq!(
        kid_txt(kid(e, NS_ATOM, "author"), NS_ATOM, "name"),
        NASTY_CLEAN
    );
    // Attribute values: TAB/LF become spaces, as attribute normalisation would.
    let term = kid(e, NS_ATOM, "category")
        .attribute("term")
        .map(str::to_owned);
    assert_eq!(term, Some(NASTY_CLEAN.replace(['\t', '\n'], " ")));

    let parsed = &feed.entries[1];
    assert_eq!(parsed.title.value, NASTY_CLEAN);
    assert_eq!(
        parsed.summary.as_ref().map(|s| &*s.value),
        Some(NASTY_CLEAN)
    );
    assert_eq!(
        parsed.content.as_ref().and_then(|c| c.value.as_deref()),
        Some(NASTY_CLEAN)
    );
    assert_eq!(parsed.authors[0].name, NASTY_CLEAN);
}

#[test]
fn content_follows_rfc4287_by_type() {
    let cases = [
        (Some("text"), "1 < 2", "text", "1 < 2"),
        (None, "<tag>", "text", "<tag>"),
        (Some("bogus type"), "b", "text", "b"),
        (Some("html"), "<p>a ]]> b</p>", "html", "<p>a ]]> b</p>"),
        (
            Some("xhtml"),
            "<div>unclosed <br>",
            "html",
            "<div>unclosed <br>",
        ),
        (Some("application/xhtml+xml"), "<p/>", "html", "<p/>"),
        (Some("text/plain"), "a<b", "text/plain", "a<b"),
        (
            Some("application/xml"),
            "<r a='1'/>",
            "application/xml",
            "<r a='1'/>",
        ),
        (
            Some("application/json"),
            r#"{"a":1}"#,
            "application/json",
            "eyJhIjoxfQ==",
        ),
        (
            Some("application/octet-stream"),
            "\u{1}x",
            "application/octet-stream",
            "AXg=",
        ),
    ];
    for (ct, value, ty, want) in cases {
        let p = Payload {
            content: Some(value.to_owned()),
            content_type: ct.map(str::to_owned),
            ..Payload::default()
        };
        let entries = [entry(1, "a", Action::Update, T0, Some(p))];
        let (body, feed) = atom(&doc(&entries));
        let x = strict(&body);
        let e = kid(x.root_element(), NS_ATOM, "entry");
        let c = kid(e, NS_ATOM, "content");
        assert_eq!(
            (c.attribute("type"), txt(c).as_str()),
            (Some(ty), want),
            "{ct:?}"
        );
        assert!(c.children().all(|n| !n.is_element()), "{ct:?}");
        // Base64 content requires a summary (RFC 4287 §4.1.1.1).
        let base64 = ty.starts_with("application/") && !ty.ends_with("xml");
        assert_eq!(
            kids(e, NS_ATOM, "summary").len(),
            usize::from(base64),
            "{ct:?}"
        );
        assert_eq!(
            feed.entries[0]
                .content
                .as_ref()
                .and_then(|c| c.value.as_deref()),
            Some(want)
        );
        // No payload title: an empty one, as Atom requires a title.
        assert_eq!(kid_txt(e, NS_ATOM, "title"), "");
    }
}
