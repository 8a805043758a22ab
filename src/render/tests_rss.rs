//! Tests of the RSS 2.0 documents: every body is parsed strictly (roxmltree)
//! and by `rss::Channel::read_from`, and the parsed content is checked.

use super::test_support::*;
use super::{render, Document, Format};
use crate::model::{Action, Payload};

const NS_CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
const NS_DC: &str = "http://purl.org/dc/elements/1.1/";

fn rss(doc: &Document<'_>) -> (Vec<u8>, rss::Channel) {
    let body = render(Format::Rss, doc);
    let channel = rss::Channel::read_from(&body[..]).expect("rss crate parses the body");
    (body, channel)
}

#[test]
fn channel_carries_position_links_and_sync_digest() {
    let entries = mixed_entries();
    let (body, ch) = rss(&doc(&entries));
    let x = strict(&body);
    let root = x.root_element();
    assert_eq!(
        (root.tag_name().name(), root.attribute("version")),
        ("rss", Some("2.0"))
    );
    let c = kid(root, "", "channel");
    assert_eq!(kid_txt(c, "", "title"), "News & <Stuff>");
    assert_eq!(kid_txt(c, "", "link"), "http://example.org/news");
    assert_eq!(kid_txt(c, "", "description"), "Company news");
    assert_eq!(
        kid_txt(c, "", "lastBuildDate"),
        "Wed, 01 May 2024 12:00:02 GMT"
    );
    let rss_type = Some("application/rss+xml".to_owned());
    assert_eq!(
        links(c, "self"),
        vec![(SELF_URL.to_owned(), rss_type.clone())]
    );
    assert_eq!(links(c, "next"), vec![(NEXT_URL.to_owned(), rss_type)]);
    check_feed_sync(c, "ep.7", "immediate", 10, Some("2024-05-01T12:01:00.250Z"));

    // The same through the rss crate.
    assert_eq!(ch.title, "News & <Stuff>");
    assert_eq!(
        ch.last_build_date.as_deref(),
        Some("Wed, 01 May 2024 12:00:02 GMT")
    );
    let links = &ch.atom_ext.as_ref().expect("atom links").links;
    assert_eq!(
        links
            .iter()
            .map(|l| (&*l.rel, &*l.href))
            .collect::<Vec<_>>(),
        [("self", SELF_URL), ("next", NEXT_URL)]
    );
    assert_eq!(
        ch.extensions["ibmfs"]["etag"][0].value.as_deref(),
        Some("ep.7")
    );
    assert_eq!(
        ch.extensions["sync"]["syncMode"][0].value.as_deref(),
        Some("immediate")
    );
    let digest = &ch.extensions["sync"]["digest"][0];
    let de = &digest.children["digestEntry"][0];
    assert_eq!(de.children["tick"][0].value.as_deref(), Some("10"));
    assert_eq!(
        digest.children["origin"][0].value.as_deref(),
        Some(FEED_URL)
    );
    assert_eq!(ch.items.len(), 3);
}

#[test]
fn items_carry_guid_date_action_tick_and_payload() {
    let entries = mixed_entries();
    let (body, ch) = rss(&doc(&entries));
    let x = strict(&body);
    let items = kids(kid(x.root_element(), "", "channel"), "", "item");
    assert_eq!(items.len(), 3);
    let ids = [entries[0].id.as_str(), entries[1].id.as_str(), "gone"];
    let dates = [
        "Wed, 01 May 2024 12:00:00 GMT",
        "Wed, 01 May 2024 12:00:01 GMT",
        "Wed, 01 May 2024 12:00:02 GMT",
    ];
    let stamps = [
        "2024-05-01T12:00:00.250Z",
        "2024-05-01T12:00:01.250Z",
        "2024-05-01T12:00:02.750Z",
    ];
    for (i, item) in items.iter().enumerate() {
        let guid = kid(*item, "", "guid");
        assert_eq!(
            (txt(guid), guid.attribute("isPermaLink")),
            (ids[i].to_owned(), Some("false"))
        );
        assert_eq!(kid_txt(*item, "", "pubDate"), dates[i]);
        assert_eq!(
            kid_txt(*item, NS_IBMWCM, "action"),
            ["add", "update", "delete"][i]
        );
        let state = kid(*item, NS_SYNC, "syncState");
        check_sync(state, 5 + i as u64, Some(stamps[i]));
        assert_eq!(child_names(state), ["endpoint", "tick", "stamp"]);

        let parsed = &ch.items[i];
        assert_eq!(
            parsed.guid.as_ref().map(|g| (&*g.value, g.permalink)),
            Some((ids[i], false))
        );
        assert_eq!(parsed.pub_date.as_deref(), Some(dates[i]));
        assert_eq!(
            parsed.extensions["ibmwcm"]["action"][0].value.as_deref(),
            Some(["add", "update", "delete"][i])
        );
        let tick = &parsed.extensions["sync"]["syncState"][0].children["tick"][0];
        assert_eq!(tick.value, Some((5 + i).to_string()));
    }

    // The full payload of the add.
    let add = items[0];
    assert_eq!(kid_txt(add, "", "title"), "First");
    assert_eq!(
        kid_txt(add, "", "link"),
        "http://example.org/items/1?a=1&b=2"
    );
    assert_eq!(kid_txt(add, "", "description"), "A <em>summary</em>");
    assert_eq!(
        kid_txt(add, NS_CONTENT, "encoded"),
        "<p>Body &amp; more</p>"
    );
    assert_eq!(kid_txt(add, NS_DC, "creator"), "Jane Doe");
    assert_eq!(kid_txt(add, NS_DC, "date"), "2024-04-30T08:00:00Z");
    assert!(kids(add, "", "author").is_empty());
    let cats: Vec<String> = kids(add, "", "category").into_iter().map(txt).collect();
    assert_eq!(cats, ["news", "tech & science"]);
    let enc = kid(add, "", "enclosure");
    let attrs = ["url", "length", "type"].map(|a| enc.attribute(a).unwrap_or_default());
    assert_eq!(attrs, ["http://cdn.example/a.mp3", "1234", "audio/mpeg"]);
    let extra = kid(add, NS_ATOM, "link");
    assert_eq!(
        ["rel", "href", "type"].map(|a| extra.attribute(a).unwrap_or_default()),
        ["enclosure", "http://cdn.example/b.mp4", "video/mp4"]
    );
    assert_eq!(extra.attribute("length"), None);

    let parsed = &ch.items[0];
    assert_eq!(parsed.title.as_deref(), Some("First"));
    assert_eq!(parsed.content.as_deref(), Some("<p>Body &amp; more</p>"));
    assert_eq!(
        parsed.dublin_core_ext.as_ref().map(|d| d.creators.clone()),
        Some(vec!["Jane Doe".to_owned()])
    );
    assert_eq!(
        parsed.enclosure.as_ref().map(|e| &*e.url),
        Some("http://cdn.example/a.mp3")
    );
}

#[test]
fn hostile_text_arrives_intact_minus_forbidden_chars() {
    let entries = mixed_entries();
    let (body, ch) = rss(&doc(&entries));
    let x = strict(&body);
    let item = kids(kid(x.root_element(), "", "channel"), "", "item")[1];
    assert_eq!(kid_txt(item, "", "guid"), long_id());
    assert_eq!(kid_txt(item, "", "title"), NASTY_CLEAN);
    assert_eq!(kid_txt(item, "", "description"), NASTY_CLEAN); // CDATA split at "]]>"
    assert_eq!(kid_txt(item, NS_DC, "creator"), NASTY_CLEAN);
    assert_eq!(kid_txt(item, "", "category"), NASTY_CLEAN);
    // Plain-text content is HTML-escaped into content:encoded.
    let escaped = NASTY_CLEAN
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert_eq!(kid_txt(item, NS_CONTENT, "encoded"), escaped);

    let parsed = &ch.items[1];
    assert_eq!(
        parsed.guid.as_ref().map(|g| g.value.clone()),
        Some(long_id())
    );
    assert_eq!(parsed.title.as_deref(), Some(NASTY_CLEAN));
    assert_eq!(parsed.description.as_deref(), Some(NASTY_CLEAN));
    assert_eq!(parsed.content.as_deref(), Some(&*escaped));
    assert_eq!(parsed.categories[0].name, NASTY_CLEAN);
}

#[test]
fn feed_level_text_and_urls_are_cleaned_too() {
    let entries = [entry(1, "a", Action::Add, T0, Some(Payload::default()))];
    let mut d = doc(&entries);
    d.title = "Ti\u{0}tle ]]> <x>";
    d.self_url = "http://gw.example/feeds/news?q=a\u{1}b&x='\"'";
    let (body, ch) = rss(&d);
    let x = strict(&body);
    let c = kid(x.root_element(), "", "channel");
    assert_eq!(kid_txt(c, "", "title"), "Title ]]> <x>");
    // URLs are URIs: a `"` (which no URI holds) is percent-encoded.
    assert_eq!(
        links(c, "self")[0].0,
        "http://gw.example/feeds/news?q=ab&x='%22'"
    );
    assert_eq!(ch.title, "Title ]]> <x>");
}

#[test]
fn deletions_carry_only_guid_date_action_and_state() {
    // Plus an empty description: RSS 2.0 wants a title or a description in every item.
    let entries = mixed_entries();
    let (body, ch) = rss(&doc(&entries));
    let x = strict(&body);
    let del = kids(kid(x.root_element(), "", "channel"), "", "item")[2];
    assert_eq!(
        child_names(del),
        ["description", "guid", "pubDate", "action", "syncState"]
    );
    assert_eq!(kid_txt(del, "", "description"), "");
    assert_eq!(kid_txt(del, "", "guid"), "gone");
    assert_eq!(kid_txt(del, NS_IBMWCM, "action"), "delete");
    let parsed = &ch.items[2];
    assert!(parsed.title.is_none() && parsed.content.is_none());
    assert!(parsed.description.as_deref().unwrap_or("").is_empty());
    assert!(parsed.enclosure.is_none() && parsed.categories.is_empty());
}

#[test]
fn empty_page_at_position_zero() {
    let d = empty_doc();
    let (body, ch) = rss(&d);
    let x = strict(&body);
    let c = kid(x.root_element(), "", "channel");
    assert!(kids(c, "", "item").is_empty());
    assert!(kids(c, "", "lastBuildDate").is_empty());
    assert_eq!(links(c, "self").len(), 1);
    assert!(links(c, "next").is_empty());
    check_feed_sync(c, "ep.0", "catchUp", 1, None);
    // No configured link: the channel links to the feed itself (RSS requires a link).
    assert_eq!(kid_txt(c, "", "link"), FEED_URL);
    assert!(ch.items.is_empty() && ch.last_build_date.is_none());
    assert_eq!(
        ch.extensions["sync"]["syncMode"][0].value.as_deref(),
        Some("catchUp")
    );
}

#[test]
fn content_encoded_is_html_for_every_content_type() {
    let cases = [
        (Some("html"), "<p>a ]]> b</p>", "<p>a ]]> b</p>"),
        (Some("xhtml"), "<div>x<br/></div>", "<div>x<br/></div>"),
        (Some("text/html; charset=utf-8"), "<i>i</i>", "<i>i</i>"),
        (Some("text"), "1 < 2 & 3", "1 &lt; 2 &amp; 3"),
        (None, "<tag>", "&lt;tag&gt;"),
        (Some("text/plain"), "a<b", "a&lt;b"),
        (Some("application/json"), r#"{"a":"<"}"#, r#"{"a":"&lt;"}"#),
    ];
    for (ct, content, want) in cases {
        let p = Payload {
            content: Some(content.to_owned()),
            content_type: ct.map(str::to_owned),
            ..Payload::default()
        };
        let entries = [entry(1, "a", Action::Add, T0, Some(p))];
        let (body, ch) = rss(&doc(&entries));
        let x = strict(&body);
        let item = kid(kid(x.root_element(), "", "channel"), "", "item");
        assert_eq!(kid_txt(item, NS_CONTENT, "encoded"), want, "{ct:?}");
        assert_eq!(ch.items[0].content.as_deref(), Some(want), "{ct:?}");
    }
}

#[test]
fn carriage_returns_reach_parsers_as_line_feeds() {
    let p = Payload {
        title: Some("a\r\nb\rc".to_owned()),
        ..Payload::default()
    };
    let entries = [entry(1, "a", Action::Add, T0, Some(p))];
    let body = render(Format::Rss, &doc(&entries));
    let x = strict(&body);
    let item = kid(kid(x.root_element(), "", "channel"), "", "item");
    assert_eq!(kid_txt(item, "", "title"), "a\nb\nc"); // XML 1.0 §2.11
}

#[test]
fn a_hundred_entry_page_keeps_seq_order() {
    let entries = numbered_entries(100);
    let (body, ch) = rss(&doc(&entries));
    let x = strict(&body);
    let guids: Vec<String> = kids(kid(x.root_element(), "", "channel"), "", "item")
        .into_iter()
        .map(|i| kid_txt(i, "", "guid"))
        .collect();
    assert_eq!(
        guids,
        (1..=100).map(|i| format!("id-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(ch.items.len(), 100);
}

#[test]
fn a_mirrored_enclosure_links_where_it_came_from_in_both_formats() {
    let mut p = payload("Episode");
    p.enclosures[0].url = "https://gw.example/content/ab12".into();
    p.enclosures[0].via = Some("http://cdn.example/a.mp3?x=1&y=2".into());
    let entries = [entry(1, "ep", Action::Update, T0, Some(p))];
    let (body, channel) = rss(&doc(&entries));
    let text = String::from_utf8(body).unwrap();
    let enclosure = channel.items()[0].enclosure().expect("an enclosure");
    assert_eq!(enclosure.url(), "https://gw.example/content/ab12");
    assert!(text.contains(
        "<atom:link href=\"http://cdn.example/a.mp3?x=1&amp;y=2\" rel=\"via\" type=\"audio/mpeg\"/>"
    ));
    roxmltree::Document::parse(&text).expect("well-formed");
    let (body, feed) = atom(&doc(&entries));
    let links = feed.entries()[0].links();
    let via = links.iter().find(|l| l.rel() == "via").expect("a via link");
    assert_eq!(via.href(), "http://cdn.example/a.mp3?x=1&y=2");
    assert!(links
        .iter()
        .any(|l| l.rel() == "enclosure" && l.href() == "https://gw.example/content/ab12"));
    roxmltree::Document::parse(std::str::from_utf8(&body).unwrap()).expect("well-formed");
}

/// A failing upstream is said in both formats as `feedgate:upstream`, in
/// feedgate's namespace, declared only then; its text and attributes are
/// escaped like every other value.
#[test]
fn a_failing_upstream_is_said_in_the_document() {
    let entries = mixed_entries();
    let notice = super::UpstreamNotice {
        failures: 3,
        last_success: Some("2026-12-07T06:00:00.000Z".into()),
        error: "connect to 127.0.0.1:9 <refused> & \u{1} gone".into(),
    };
    let failing = Document {
        upstream: Some(&notice),
        ..doc(&entries)
    };
    for format in [Format::Rss, Format::Atom] {
        let body = String::from_utf8(render(format, &failing)).unwrap();
        let xml = roxmltree::Document::parse(&body).expect("well-formed");
        let el = xml
            .descendants()
            .find(|n| n.has_tag_name((super::ext::NS_FEEDGATE, "upstream")))
            .unwrap_or_else(|| panic!("{format:?}: no feedgate:upstream in {body}"));
        assert_eq!(el.attribute("state"), Some("failing"));
        assert_eq!(el.attribute("failures"), Some("3"));
        assert_eq!(
            el.attribute("last-success"),
            Some("2026-12-07T06:00:00.000Z")
        );
        assert_eq!(el.text(), Some("connect to 127.0.0.1:9 <refused> &  gone"));
        // At the feed level: a child of the channel / feed.
        let parent = el.parent_element().unwrap().tag_name().name();
        assert!(matches!(parent, "channel" | "feed"), "{parent}");
        let plain = String::from_utf8(render(format, &doc(&entries))).unwrap();
        assert!(
            !plain.contains("xmlns:feedgate"),
            "{format:?}: declared unused"
        );
    }
}
