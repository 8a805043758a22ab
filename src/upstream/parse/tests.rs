use super::*;
use crate::config::Config;
use crate::model::Enclosure;

fn cfg(keys: &str) -> UpstreamConfig {
    let c = Config::from_toml(&format!(
        "[feeds.up.upstream]\nurl = \"http://o/\"\nformat = \"json\"\n{keys}\n"
    ))
    .unwrap();
    c.feeds["up"].upstream.clone().unwrap()
}

fn ids(s: &Snapshot) -> Vec<&str> {
    s.items.iter().map(|(id, _)| id.as_str()).collect()
}

#[test]
fn json_array_with_default_fields() {
    let body = br#"[
        {"id": "a", "title": "A", "summary": "S", "categories": ["x", 7], "extra": {"ignored": 1},
         "enclosures": [{"url": "https://x/a.mp3", "length": "12", "type": "audio/mpeg", "bitrate": 1}],
         "published": "Wed, 01 May 2024 12:00:00 +0200"},
        {"id": 42, "title": 3.5, "link": null},
        {"title": "no id"},
        {"id": "a", "title": "duplicate"},
        {"id": "bad", "content_type": "not a type"},
        {"id": "", "title": "empty id"}
    ]"#;
    let s = json(body, &cfg("")).unwrap();
    assert_eq!(ids(&s), ["a", "42"]);
    let a = &s.items[0].1;
    assert_eq!(a.title.as_deref(), Some("A"));
    assert_eq!(a.categories, ["x", "7"]);
    assert_eq!(
        a.enclosures,
        [Enclosure {
            url: "https://x/a.mp3".into(),
            length: 12,
            mime: "audio/mpeg".into(),
            via: None,
        }]
    );
    assert_eq!(a.published.as_deref(), Some("2024-05-01T10:00:00Z"));
    assert_eq!(s.items[1].1.title.as_deref(), Some("3.5"));
    assert_eq!(s.items[1].1.link, None);
    assert_eq!(s.skipped, 3, "no id, duplicate id, empty id");
    assert_eq!(s.kept, HashSet::from(["bad".to_string()]));
}

#[test]
fn json_object_with_mapping() {
    let body = br#"{"data": {"products": [
        {"sku": "p-1", "name": "Lamp", "url": "https://shop/p-1", "meta": {"when": "2024-01-02T03:04:05+01:00"},
         "title": "not this one", "tags": "lighting"}
    ]}, "count": 1}"#;
    let c = cfg(r#"items_key = "data.products"
           id_field = "sku"
           fields = { title = "name", link = "url", published = "meta.when", categories = "tags" }"#);
    let s = json(body, &c).unwrap();
    assert_eq!(ids(&s), ["p-1"]);
    let p = &s.items[0].1;
    assert_eq!(p.title.as_deref(), Some("Lamp"));
    assert_eq!(p.link.as_deref(), Some("https://shop/p-1"));
    assert_eq!(p.published.as_deref(), Some("2024-01-02T02:04:05Z"));
    assert_eq!(p.categories, ["lighting"]);
    // An object body without the configured key is an error, not an empty list.
    let e = json(br#"{"data": {}}"#, &c).unwrap_err().to_string();
    assert!(e.contains("data.products"), "{e}");
    // Default key `items`.
    let s = json(br#"{"items": [{"id": "x"}]}"#, &cfg("")).unwrap();
    assert_eq!(ids(&s), ["x"]);
}

#[test]
fn bad_documents_are_errors() {
    for body in [&b"<html>"[..], b"[{\"id\": \"a\"", b"42", b"", b"\"text\""] {
        assert!(
            matches!(
                json(body, &cfg("")),
                Err(SyncError::Parse { format: "json", .. })
            ),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(rss(b"[]").is_err());
    assert!(rss(b"<rss version=\"2.0\"><channel><title>t</title>").is_err());
    assert!(atom(b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>").is_err());
    assert!(atom(b"<rss/>").is_err());
}

const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>T</title><link>https://x/</link><description>D</description>
<item><title>New</title><link>https://x/2</link><guid isPermaLink="false">item-2</guid>
  <description>Second</description><content:encoded><![CDATA[<p>two</p>]]></content:encoded>
  <dc:creator>Ann</dc:creator><category>news</category><pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate>
  <enclosure url="https://x/2.mp3" length="99" type="audio/mpeg"/></item>
<item><title>Old</title><link>https://x/1</link><pubDate>not a date</pubDate></item>
<item><title>No id at all</title></item>
</channel></rss>"#;

#[test]
fn rss_items() {
    let s = rss(RSS.as_bytes()).unwrap();
    assert_eq!(
        ids(&s),
        ["https://x/1", "item-2"],
        "oldest first; link when no guid"
    );
    assert_eq!(s.skipped, 1);
    let old = &s.items[0].1;
    assert_eq!(
        (old.title.as_deref(), old.published.as_deref()),
        (Some("Old"), None)
    );
    let new = &s.items[1].1;
    assert_eq!(new.summary.as_deref(), Some("Second"));
    assert_eq!(new.content.as_deref(), Some("<p>two</p>"));
    assert_eq!(new.content_type.as_deref(), Some("html"));
    assert_eq!(new.author.as_deref(), Some("Ann"));
    assert_eq!(new.categories, ["news"]);
    assert_eq!(new.published.as_deref(), Some("2024-01-02T10:00:00Z"));
    assert_eq!(new.enclosures[0].length, 99);
}

const ATOM_DOC: &str = r#"<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title>B</title><id>tag:x,2024:b</id><updated>2024-01-02T00:00:00Z</updated>
  <link rel="alternate" href="https://x/b"/><link rel="enclosure" href="https://x/b.pdf"/>
  <author><name>Bo</name></author><category term="c1"/><published>2024-01-02T01:00:00+01:00</published>
  <summary type="html">&lt;b&gt;sum&lt;/b&gt;</summary><content type="application/json">eyJhIjoxfQ==</content></entry>
<entry><title></title><id>urn:feedgate:a%2Fb</id><updated>2024-01-01T00:00:00Z</updated>
  <content type="text">plain</content></entry>
</feed>"#;

#[test]
fn atom_entries() {
    let s = atom(ATOM_DOC.as_bytes()).unwrap();
    assert_eq!(
        ids(&s),
        ["a/b", "tag:x,2024:b"],
        "oldest first; urn:feedgate decoded"
    );
    let a = &s.items[0].1;
    assert_eq!(
        (a.title.as_deref(), a.content.as_deref()),
        (None, Some("plain"))
    );
    assert_eq!(a.content_type, None, "type=\"text\" is the default");
    let b = &s.items[1].1;
    assert_eq!(b.link.as_deref(), Some("https://x/b"));
    assert_eq!(b.author.as_deref(), Some("Bo"));
    assert_eq!(b.summary.as_deref(), Some("<b>sum</b>"));
    assert_eq!(b.content.as_deref(), Some(r#"{"a":1}"#), "Base64 decoded");
    assert_eq!(b.content_type.as_deref(), Some("application/json"));
    assert_eq!(b.published.as_deref(), Some("2024-01-02T00:00:00Z"));
    assert_eq!(b.enclosures[0].mime, "application/octet-stream");
}

#[test]
fn base64() {
    for (plain, enc) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foobar", "Zm9v\nYmFy"),
    ] {
        assert_eq!(base64_decode(enc).as_deref(), Some(plain.as_bytes()));
    }
    assert_eq!(base64_decode("Zg=x"), None);
    assert_eq!(base64_decode("Z!"), None);
    assert!(binary_mime("application/json") && binary_mime("image/png"));
    assert!(!binary_mime("text/plain") && !binary_mime("image/svg+xml") && !binary_mime("html"));
}
