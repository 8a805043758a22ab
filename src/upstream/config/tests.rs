use super::*;
use crate::config::Config;

fn upstream(inline: &str) -> Result<UpstreamConfig, String> {
    let c = Config::from_toml(&format!("[feeds.up]\nupstream = {inline}\n"))?;
    let u = c.feeds["up"].upstream.clone().ok_or("no upstream")?;
    c.validate().map_err(|e| e.to_string())?;
    Ok(u)
}

#[test]
fn defaults() {
    let u = upstream(r#"{ url = "http://127.0.0.1:9000/items.json", format = "json" }"#).unwrap();
    assert_eq!(u.format, SourceFormat::Json);
    assert_eq!(u.refresh, Duration::from_secs(30));
    assert_eq!(u.wait, Duration::from_secs(2));
    assert_eq!(u.interval, None);
    assert_eq!(u.timeout, Duration::from_secs(10));
    assert_eq!(u.connect_timeout, Duration::from_secs(5));
    assert_eq!(
        (u.max_bytes, u.max_redirects, u.max_pages),
        (16 << 20, 5, 1000)
    );
    assert_eq!(u.max_delete_ratio, 0.5);
    assert_eq!(u.fields.pairs()[0], ("title", "title"));
}

#[test]
fn every_key() {
    // The table form: TOML inline tables must fit on one line.
    let c = Config::from_toml(
        r#"[feeds.up.upstream]
        url = "https://example.org/x"
        format = "json"
        refresh = "0s"
        wait = "250ms"
        interval = "1m"
        timeout = "3s"
        connect_timeout = "1s"
        max_bytes = 1024
        max_redirects = 0
        max_delete_ratio = 1.0
        max_pages = 3
        headers = { Authorization = "Bearer s3cret" }
        items_key = "data.items"
        id_field = "sku"
        fields = { title = "name", published = "meta.date" }
        "#,
    )
    .unwrap();
    c.validate().unwrap();
    let u = c.feeds["up"].upstream.clone().unwrap();
    assert_eq!(u.refresh, Duration::ZERO);
    assert_eq!(u.interval, Some(Duration::from_secs(60)));
    assert_eq!(u.fields.pairs()[0], ("title", "name"));
    assert_eq!(u.fields.pairs()[8], ("published", "meta.date"));
    assert_eq!(u.items_key.as_deref(), Some("data.items"));
    let shown = format!("{u:?}");
    assert!(
        shown.contains("Authorization") && !shown.contains("s3cret"),
        "{shown}"
    );
}

#[test]
fn errors_name_the_key() {
    let cases = [
        (r#"{ format = "json" }"#, "url"),
        (r#"{ url = "http://x/", format = "xml" }"#, "xml"),
        (
            r#"{ url = "http://x/", format = "json", colour = 1 }"#,
            "colour",
        ),
        (
            r#"{ url = "http://x/", format = "json", refresh = "soon" }"#,
            "soon",
        ),
        (
            r#"{ url = "http://x/", format = "json", fields = { titel = "a" } }"#,
            "titel",
        ),
        (
            r#"{ url = "ftp://x/", format = "json" }"#,
            "feeds.up.upstream.url",
        ),
        (
            r#"{ url = "not a url", format = "json" }"#,
            "feeds.up.upstream.url",
        ),
        (
            r#"{ url = "http://x/", format = "json", max_delete_ratio = 1.5 }"#,
            "feeds.up.upstream.max_delete_ratio",
        ),
        (
            r#"{ url = "http://x/", format = "json", timeout = "0s" }"#,
            "feeds.up.upstream.timeout",
        ),
        (
            r#"{ url = "http://x/", format = "rss", items_key = "a" }"#,
            "feeds.up.upstream.items_key",
        ),
        (
            r#"{ url = "http://x/", format = "json", headers = { "a b" = "c" } }"#,
            "feeds.up.upstream.headers",
        ),
    ];
    for (inline, key) in cases {
        let e = upstream(inline).unwrap_err();
        assert!(e.contains(key), "{inline}: {e}");
    }
    let e = upstream(r#"{ url = "http://x/", format = "json", headers = { A = "x\ny" } }"#)
        .unwrap_err();
    assert!(e.contains("headers") && !e.contains("x\ny"), "{e}");
}

#[test]
fn the_demo_declares_a_replica_of_its_own_news_feed() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.toml");
    let c = Config::from_file(&path).unwrap();
    c.validate().unwrap();
    let (name, up) = c.upstreams().next().unwrap();
    assert_eq!((name, up.format), ("news-replica", SourceFormat::Feedgate));
    assert_eq!(up.url, format!("http://{}/feeds/news", c.listen));
    assert!(c.feeds["news"].upstream.is_none());
}

#[test]
fn a_path_url_follows_the_gateways_own_listen_address() {
    let toml = |listen: &str, url: &str| {
        Config::from_toml(&format!(
            "listen = \"{listen}\"\n[feeds.news]\n[feeds.copy]\nupstream = {{ url = \"{url}\", format = \"feedgate\" }}\n"
        ))
        .unwrap()
    };
    for (listen, fetched) in [
        ("127.0.0.1:9123", "http://127.0.0.1:9123/feeds/news"),
        ("0.0.0.0:9123", "http://127.0.0.1:9123/feeds/news"),
        ("[::]:9123", "http://[::1]:9123/feeds/news"),
        ("[::1]:9123", "http://[::1]:9123/feeds/news"),
    ] {
        let c = toml(listen, "/feeds/news");
        c.validate().unwrap();
        assert_eq!(c.upstreams().next().unwrap().1.url, fetched, "{listen}");
    }
    // An absolute URL is fetched as written.
    let c = toml("127.0.0.1:9123", "http://example.org/feeds/news");
    assert_eq!(
        c.upstreams().next().unwrap().1.url,
        "http://example.org/feeds/news"
    );
    for (listen, url, says) in [
        ("127.0.0.1:0", "/feeds/news", "fixed listen port"),
        ("127.0.0.1:9123", "/feeds/copy", "cannot follow itself"),
        ("127.0.0.1:9123", "/feeds/nope", "one of [feeds]"),
        ("127.0.0.1:9123", "/elsewhere", "one of [feeds]"),
    ] {
        let e = toml(listen, url).validate().unwrap_err().to_string();
        assert!(
            e.contains("feeds.copy.upstream.url") && e.contains(says),
            "{url}: {e}"
        );
    }
}

#[test]
fn a_feed_cannot_have_both_seed_and_upstream() {
    let c = Config::from_toml(
        "[feeds.up]\nseed = \"x.json\"\nupstream = { url = \"http://x/\", format = \"rss\" }\n",
    )
    .unwrap();
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("feeds.up.seed"));
}

#[test]
fn fingerprint_follows_url_and_mapping() {
    let a = upstream(r#"{ url = "http://x/a", format = "json" }"#).unwrap();
    let b = upstream(r#"{ url = "http://x/b", format = "json" }"#).unwrap();
    let c = upstream(r#"{ url = "http://x/a", format = "json", id_field = "k" }"#).unwrap();
    let d = upstream(r#"{ url = "http://x/a", format = "json", refresh = "1s" }"#).unwrap();
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert_eq!(a.fingerprint(), d.fingerprint());
}
