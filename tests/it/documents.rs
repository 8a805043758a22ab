//! Documents served over HTTP are always well-formed XML 1.0, whatever the
//! payload: control characters, `]]>`, markup, non-ASCII, 256-byte ids.

use crate::support::*;

#[tokio::test]
async fn hostile_payloads_stay_well_formed_in_both_formats() {
    let app = TestApp::builder().spawn().await;
    let long_id = format!("{}é", "i".repeat(254)); // 256 bytes
    assert_eq!(long_id.len(), 256);
    let title = "<b>&amp;</b> ]]> \u{1}\u{8}\u{b}\u{1f}\u{fffe} Grüße, 日本語, emoji 🎉";
    let payload = serde_json::json!({
        "title": title,
        "summary": "]]><![CDATA[ x ]]>",
        "content": "<p>a ]]> b\u{0}</p>",
        "content_type": "html",
        "author": "Zoë <z@example.org>",
        "categories": ["a&b", "<c>"],
        "link": "https://example.org/?a=1&b=\"2\"",
        "enclosures": [{"url": "https://example.org/x?y=1&z=2", "length": 5, "type": "audio/mpeg"}],
    });
    let ids = [
        long_id.as_str(),
        "plain",
        "urn:isbn:0451450523",
        "has space/and\"quote&amp",
    ];
    for id in ids {
        assert_eq!(
            app.put("news", id, &payload.to_string()).await.status,
            201,
            "{id}"
        );
    }
    app.put("news", "plain", r#"{"title":"v2"}"#).await;
    app.delete("news", "urn:isbn:0451450523").await;
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let expected_title = "<b>&amp;</b> ]]>  Grüße, 日本語, emoji 🎉";
    for path in ["/feeds/news", "/feeds/news.atom"] {
        // From the start (ETag 0 reaches into the current second) and as a delta.
        let f = app.get(&format!("{path}?etag={epoch}.0"), &[]).await.feed();
        let got: Vec<_> = f
            .entries
            .iter()
            .map(|e| (e.id.as_str(), e.action.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (long_id.as_str(), "add"),
                ("has space/and\"quote&amp", "add"),
                ("plain", "add")
            ],
            "{path}"
        );
        assert_eq!(
            f.entries[0].title.as_deref(),
            Some(expected_title),
            "{path}"
        );
        let d = app.get(&format!("{path}?etag={epoch}.3"), &[]).await.feed();
        let want = [
            ("has space/and\"quote&amp", "add"),
            ("plain", "update"),
            ("urn:isbn:0451450523", "delete"),
        ];
        assert_eq!(d.ids(), want, "{path}");
    }
    // The summary and content survive, minus the characters XML cannot carry.
    let body = app.get(&format!("/feeds/news?etag={epoch}.0"), &[]).await;
    let doc = roxmltree::Document::parse(body.text()).unwrap();
    let desc = doc
        .descendants()
        .find(|n| n.has_tag_name("description") && n.parent().unwrap().has_tag_name("item"))
        .unwrap();
    assert_eq!(desc.text(), Some("]]><![CDATA[ x ]]>"));
    let content = doc
        .descendants()
        .find(|n| n.tag_name().name() == "encoded")
        .unwrap();
    assert_eq!(content.text(), Some("<p>a ]]> b</p>"));
    let atom = app
        .get(&format!("/feeds/news.atom?etag={epoch}.0"), &[])
        .await;
    let doc = roxmltree::Document::parse(atom.text()).unwrap();
    let content = doc
        .descendants()
        .find(|n| n.has_tag_name((NS_ATOM, "content")))
        .unwrap();
    assert_eq!(
        (content.attribute("type"), content.text()),
        (Some("html"), Some("<p>a ]]> b</p>"))
    );
}

#[tokio::test]
async fn feed_level_elements() {
    let app = TestApp::builder().spawn().await;
    app.put("news", "a", r#"{"title":"A"}"#).await;
    app.put("news", "b", r#"{"title":"B"}"#).await;
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    for path in ["/feeds/news", "/feeds/news.atom"] {
        let r = app
            .get(&format!("{path}?etag={epoch}.0&limit=1"), &[])
            .await;
        let body = r.text().to_string();
        let f = r.feed();
        // A full query-form page is immutable: its digest names its own end
        // (PROTOCOL §10); the same page selected by `If-None-Match` names the
        // head (§4).
        assert_eq!(
            (f.etag.as_str(), f.sync_mode.as_str(), f.tick),
            (&*format!("{epoch}.1"), "catchUp", 2)
        );
        let inm = format!("\"{epoch}.0\"");
        let by_header = app
            .get(&format!("{path}?limit=1"), &[("If-None-Match", &inm)])
            .await
            .feed();
        assert_eq!((by_header.etag, by_header.tick), (format!("{epoch}.1"), 3));
        assert!(f
            .next
            .as_deref()
            .unwrap()
            .ends_with(&format!("{path}?etag={epoch}.1&limit=1")));
        let doc = roxmltree::Document::parse(&body).unwrap();
        let origin = doc
            .descendants()
            .find(|n| n.has_tag_name((NS_SYNC, "origin")))
            .unwrap();
        assert_eq!(
            origin.text(),
            Some(&*format!("http://{}/feeds/news", app.addr))
        );
        let selfl = doc
            .descendants()
            .find(|n| n.has_tag_name((NS_ATOM, "link")) && n.attribute("rel") == Some("self"))
            .unwrap();
        assert_eq!(
            selfl.attribute("href"),
            Some(&*format!(
                "http://{}{path}?etag={epoch}.0&limit=1",
                app.addr
            ))
        );
        let prio = doc
            .descendants()
            .find(|n| n.has_tag_name((NS_SYNC, "conflictPriority")))
            .unwrap();
        assert_eq!(prio.text(), Some("1"));
        let lm = r.header("last-modified").unwrap();
        if f.atom {
            let updated = chrono::DateTime::parse_from_rfc3339(f.date.as_deref().unwrap()).unwrap();
            assert_eq!(
                httpdate::fmt_http_date(std::time::SystemTime::from(updated)),
                lm
            );
        } else {
            assert_eq!(f.date.as_deref(), Some(lm));
        }
        let d = app.get(&format!("{path}?etag={epoch}.1"), &[]).await.feed();
        assert_eq!((d.sync_mode.as_str(), d.next), ("immediate", None));
    }
}
