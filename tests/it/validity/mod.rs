//! Every document shape feedgate serves passes the rules a strict feed
//! validator enforces (`rules.rs`: RFC 4287 for Atom, RSS 2.0 and its
//! namespaces for RSS, as the W3C feed validator applies them), in both
//! formats: an empty log, catch-ups, deltas with adds, updates and deletes
//! (Atom tombstones), pages with `next` links, date-selected pages, every
//! content type (text, html, xhtml, MIME text, XML and Base64 types), every
//! payload field empty or absent, enclosures of every kind, ids of every
//! form, IRIs, and a feed configured with no link or description.
//!
//! With `FEEDGATE_DUMP_DOCS=DIR` every document checked is also written to
//! DIR, to run other validators on the same bytes.

mod grammar;
mod rules;

use crate::support::*;
use rules::{check_atom, check_rss};
use serde_json::json;
use std::time::Duration;

/// Payload shapes, by item id.
fn shapes() -> Vec<(&'static str, serde_json::Value)> {
    let enclosure =
        |url: &str, ty: &str, length: u64| json!({"url": url, "type": ty, "length": length});
    let mut v = vec![
        ("empty", json!({})),
        ("title-only", json!({"title": "Only a title"})),
        ("summary-only", json!({"summary": "Only a <b>summary</b>"})),
        (
            "link-only",
            json!({"link": "https://example.org/link-only"}),
        ),
        (
            "full",
            json!({"title": "Full", "link": "https://example.org/full?a=1&b=2", "summary": "S",
                   "content": "<p>Body &amp; more</p>", "content_type": "html", "author": "Ann",
                   "categories": ["news", "tech & science"], "published": "2024-04-30T08:00:00+02:00",
                   "enclosures": [enclosure("https://cdn.example/a.mp3", "audio/mpeg", 1234),
                                  enclosure("https://cdn.example/b.mp4", "video/mp4", 0)]}),
        ),
        (
            "empty-strings",
            json!({"title": "", "link": "", "summary": "", "content": "", "author": "",
                   "categories": [""], "content_type": "text"}),
        ),
        (
            "iri-link",
            json!({"title": "IRI", "link": "http://例え.jp/パス?q=a b&c=\"d\"#frag"}),
        ),
        (
            "odd-enclosures",
            json!({"title": "Enclosures", "enclosures": [
                enclosure("ftp://files.example/x.bin", "application/octet-stream", 5),
                enclosure("/relative/y.ogg", "audio/ogg", 0),
                enclosure("https://cdn.example/z.pdf", "html", 7),
                enclosure("https://cdn.example/w.txt", "text/plain; junk", 1),
                enclosure("https://cdn.example/v.mp3", "audio/mpeg", 9)]}),
        ),
        (
            "markup-everywhere",
            json!({"title": "<b>bold</b> & \u{85}\u{fffd}", "author": "Zoë <z@example.org>",
                   "summary": "<script>alert(1)</script>", "categories": ["<c>"]}),
        ),
    ];
    for (id, ty, content) in [
        ("ct-text", "text", "plain <text> & more"),
        ("ct-html", "html", "<p>para</p><br>"),
        ("ct-xhtml", "xhtml", "<div><p>x</p></div>"),
        ("ct-text-html", "text/html; charset=utf-8", "<p>html</p>"),
        ("ct-xhtml-xml", "application/xhtml+xml", "<p>x</p>"),
        ("ct-text-plain", "text/plain", "a <b> c"),
        ("ct-text-csv", "text/csv; charset=\"utf-8\"", "a,b\n1,2"),
        ("ct-xml", "application/xml", "<r><a>1</a></r>"),
        (
            "ct-svg",
            "image/svg+xml",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        ),
        ("ct-json", "application/json", "{\"a\": [1, 2]}"),
        (
            "ct-binary",
            "application/octet-stream; x=\"y z\"",
            "bytes\u{1}\u{7f}é",
        ),
        ("ct-bad-params", "text/plain; junk", "junk params"),
    ] {
        v.push((id, json!({"content": content, "content_type": ty})));
    }
    // The same binary content with a summary of its own.
    v.push((
        "ct-json-summary",
        json!({"content": "[]", "content_type": "application/json", "summary": "S"}),
    ));
    v
}

/// Ids of every form (each gets a title-only item).
const IDS: &[&str] = &[
    "42",
    "a b/c?d#e%f",
    "a~tilde",
    "..",
    "Grüße, 日本語",
    "http://example.org/items/1",
    "HTTP://Example.ORG/x",
    "urn:isbn:0451450523",
    "urn:feedgate:x",
    "urn:uuid:0a1b2c3d-0000-4000-8000-00112233aabb",
    "tag:example.org,2024:item/1",
    "mailto:x@example.org",
    "x+y.z-w:",
    "http://例え.jp/パス",
    "http:no-host",
    "urn:x:a",
    "a:[1]",
];

struct Checked {
    docs: usize,
    dump: Option<std::path::PathBuf>,
}

impl Checked {
    /// GET `path` (with `headers`), check its document by its format, and
    /// return the response.
    async fn get(&mut self, app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Resp {
        let r = app.get(path, headers).await;
        assert_eq!(r.status, 200, "{path} {headers:?}");
        let atom = r
            .header("content-type")
            .unwrap()
            .starts_with("application/atom+xml");
        let violations = if atom {
            check_atom(r.text())
        } else {
            check_rss(r.text())
        };
        assert!(
            violations.is_empty(),
            "{path} {headers:?}: {violations:#?}\n{}",
            r.text()
        );
        self.docs += 1;
        if let Some(dir) = &self.dump {
            let ext = if atom { "atom" } else { "rss" };
            std::fs::write(dir.join(format!("{:03}.{ext}.xml", self.docs)), &r.body).unwrap();
        }
        r
    }

    /// Walk `path` page by page along `next` links, checking each page.
    async fn walk(&mut self, app: &TestApp, path: &str) -> usize {
        let mut url = path.to_string();
        let mut pages = 0;
        loop {
            let r = self.get(app, &url, &[]).await;
            pages += 1;
            let Some(next) = r.feed().next else {
                return pages;
            };
            url = next
                .split_once(&app.addr.to_string())
                .unwrap()
                .1
                .to_string();
            assert!(pages < 100);
        }
    }
}

#[tokio::test]
async fn every_document_shape_passes_the_validator_rules() {
    let app = TestApp::builder().toml("[feeds.bare]\n").spawn().await;
    let dump = std::env::var_os("FEEDGATE_DUMP_DOCS").map(std::path::PathBuf::from);
    if let Some(d) = &dump {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut c = Checked { docs: 0, dump };
    // An empty log, in a feed with neither link nor description configured.
    for path in ["/feeds/bare", "/feeds/bare.atom", "/feeds/bare?format=atom"] {
        c.get(&app, path, &[]).await;
    }
    for (id, payload) in shapes() {
        let r = app.put("news", id, &payload.to_string()).await;
        assert_eq!(r.status, 201, "{id}: {}", r.text());
    }
    for id in IDS {
        let r = app.put("news", id, r#"{"title":"an id"}"#).await;
        assert_eq!(r.status, 201, "{id}: {}", r.text());
    }
    let v = app.get("/feeds", &[]).await.json();
    let epoch = v["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "news")
        .unwrap()["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let head = app.head("news").await;
    // Changes after the first position: updates, deletes (tombstones), a re-add.
    app.put("news", "full", r#"{"title":"Full, revised"}"#)
        .await;
    app.delete("news", "empty").await;
    app.delete("news", "42").await;
    app.delete("news", "a b/c?d#e%f").await;
    app.put("news", "42", r#"{}"#).await;
    for path in ["/feeds/news", "/feeds/news.atom"] {
        // Everything (ETag 0 reaches into the current second), then page by page.
        c.get(&app, &format!("{path}?etag={epoch}.0&limit=1000"), &[])
            .await;
        let pages = c
            .walk(&app, &format!("{path}?etag={epoch}.0&limit=7"))
            .await;
        assert!(pages > 3, "{pages}");
        // A delta by header, by query, and a delta page that stops before the head.
        let inm = format!("\"{epoch}.{head}\"");
        c.get(&app, path, &[("If-None-Match", &inm)]).await;
        c.get(&app, &format!("{path}?etag={epoch}.{head}"), &[])
            .await;
        c.get(&app, &format!("{path}?etag={epoch}.{head}&limit=2"), &[])
            .await;
    }
    // Catch-ups and date-selected pages, once the current second has passed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for path in ["/feeds/news", "/feeds/news.atom"] {
        let r = c.get(&app, path, &[]).await;
        c.get(&app, &format!("{path}?limit=3"), &[]).await;
        let old = "Sat, 01 Jan 2000 00:00:00 GMT";
        c.get(&app, path, &[("If-Modified-Since", old)]).await;
        c.get(&app, &format!("{path}?lastMod=2000-01-01T00:00:00Z"), &[])
            .await;
        assert!(r.header("last-modified").is_some());
    }
    assert!(c.docs >= 20, "{} documents checked", c.docs);
}

/// RFC 4287 §4.1.1: an item with neither link nor content is linked to its
/// item URL (id percent-encoded); one with either is not.
#[tokio::test]
async fn entries_without_link_or_content_link_to_their_item() {
    let app = TestApp::builder().spawn().await;
    for (id, payload) in [
        ("a b/ü", json!({"title": "T"})),
        ("..", json!({})),
        ("linked", json!({"link": "https://example.org/x"})),
        ("content", json!({"content": "c"})),
    ] {
        app.put("news", id, &payload.to_string()).await;
    }
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .get(&format!("/feeds/news.atom?etag={epoch}.0"), &[])
        .await;
    let doc = roxmltree::Document::parse(r.text()).unwrap();
    let alternates: Vec<Vec<String>> = doc
        .descendants()
        .filter(|n| n.has_tag_name((rules::ATOM, "entry")))
        .map(|e| {
            e.children()
                .filter(|l| {
                    l.has_tag_name((rules::ATOM, "link")) && l.attribute("rel") == Some("alternate")
                })
                .map(|l| l.attribute("href").unwrap().to_string())
                .collect()
        })
        .collect();
    let base = format!("http://{}/feeds/news/items", app.addr);
    assert_eq!(
        alternates,
        [
            vec![format!("{base}/a%20b%2F%C3%BC")],
            vec![format!("{base}/%2E%2E")],
            vec!["https://example.org/x".to_string()],
            vec![],
        ]
    );
    // The link leads to the item.
    for url in [&alternates[0][0], &alternates[1][0]] {
        let path = url.split_once(&app.addr.to_string()).unwrap().1;
        assert_eq!(app.get(path, &[]).await.status, 200, "{path}");
    }
}

/// The checks find what they look for: hand-written documents that break
/// each rule feedgate's documents are held to.
#[test]
fn the_rules_catch_invalid_documents() {
    let atom = |entry: &str| {
        format!(
            r#"<feed xmlns="{a}" xmlns:at="http://purl.org/atompub/tombstones/1.0"><id>http://x/f</id><title>T</title><updated>2024-05-01T12:00:00Z</updated><author><name>A</name></author><link rel="self" href="http://x/f" type="application/atom+xml"/>{entry}</feed>"#,
            a = rules::ATOM
        )
    };
    let entry = |inner: &str| {
        atom(&format!("<entry><id>urn:feedgate:a</id><title/><updated>2024-05-01T12:00:00Z</updated>{inner}</entry>"))
    };
    assert_eq!(
        check_atom(&entry(r#"<content type="text">c</content>"#)),
        Vec::<String>::new()
    );
    assert_eq!(
        check_atom(&entry(r#"<link href="http://x/a"/>"#)),
        Vec::<String>::new()
    );
    for (bad, expect) in [
        (entry(""), "MissingContentOrAlternate"),
        (entry(r#"<link rel="related" href="http://x/a"/>"#), "MissingContentOrAlternate"),
        (entry(r#"<content type="application/json">e30=</content>"#), "MissingSummary"),
        (entry(r#"<summary/><content type="application/json">{}</content>"#), "NotBase64"),
        (entry(r#"<content type="xhtml">x</content>"#), "MissingXhtmlDiv"),
        (entry(r#"<content type="text/plain; junk">x</content>"#), "InvalidMIMEType"),
        (entry(r#"<link href="http://x/a b"/>"#), "InvalidIRI"),
        (entry(r#"<link href="http://x/a"/><link href="http://x/b"/>"#), "DuplicateAtomLink"),
        (entry(r#"<link rel="bogus" href="http://x/a"/>"#), "UnregisteredAtomLinkRel"),
        (entry(r#"<link href="http://x/a"/><published>2024-05-01</published>"#), "InvalidRFC3339Date"),
        (atom("<entry><id>urn:x:a</id><title/><updated>2024-05-01T12:00:00Z</updated><content>c</content></entry>"), "InvalidURN"),
        (atom("<entry><id>http://例/</id><title/><updated>2024-05-01T12:00:00Z</updated><content>c</content></entry>"), "InvalidFullLink"),
        (atom(r#"<at:deleted-entry ref="a b" when="2024-05-01T12:00:00Z"/>"#), "deleted-entry"),
    ] {
        let v = check_atom(&bad);
        assert!(v.iter().any(|m| m.contains(expect)), "{expect}: {v:?}\n{bad}");
    }
    let rss = |item: &str| {
        format!(
            r#"<rss version="2.0" xmlns:atom="{a}"><channel><title>T</title><link>http://x/</link><description>D</description><atom:link rel="self" href="http://x/f" type="application/rss+xml"/>{item}</channel></rss>"#,
            a = rules::ATOM
        )
    };
    assert_eq!(
        check_rss(&rss(
            "<item><description/><guid isPermaLink=\"false\">a</guid></item>"
        )),
        Vec::<String>::new()
    );
    for (bad, expect) in [
        (
            rss(r#"<item><guid isPermaLink="false">a</guid></item>"#),
            "ItemMustContainTitleOrDescription",
        ),
        (
            rss("<item><title>t</title><pubDate>Thu, 01 May 2024 12:00:00 GMT</pubDate></item>"),
            "InvalidRFC2822Date",
        ),
        (
            rss("<item><title>t</title><link>/relative</link></item>"),
            "InvalidFullLink",
        ),
        (
            rss(
                r#"<item><title>t</title><enclosure url="ftp://x/a" length="1" type="a/b"/></item>"#,
            ),
            "enclosure",
        ),
        (
            rss(
                r#"<item><title>t</title><enclosure url="http://x/a" length="1" type="html"/></item>"#,
            ),
            "enclosure",
        ),
        (
            rss("<item><title>t</title></item>").replace("<link>http://x/</link>", "<link></link>"),
            "InvalidFullLink",
        ),
        (
            rss("").replace(r#"rel="self""#, r#"rel="alternate""#),
            "MissingAtomSelfLink",
        ),
    ] {
        let v = check_rss(&bad);
        assert!(
            v.iter().any(|m| m.contains(expect)),
            "{expect}: {v:?}\n{bad}"
        );
    }
}
