//! Unit tests of the configuration: defaults, TOML, environment, validation.

use super::*;

#[test]
fn defaults_need_no_file() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
    assert_eq!(c.default_limit, 100);
    c.validate().unwrap();
}

#[test]
fn the_protocol_example_parses() {
    let c = Config::from_toml(
        r#"
        listen = "127.0.0.1:0"
        data_dir = "./d"
        header_read_timeout = "2s"
        [feeds.news]
        title = "News"
        link = "https://example.org/news"
        description = "Company news"
        [feeds.catalog]
        title = "Catalog"
        upstream = { url = "http://127.0.0.1:9000/items.json", format = "json", refresh = "5s" }
        "#,
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.feeds["news"].title.as_deref(), Some("News"));
    assert!(!c.feeds["news"].im_feed);
    assert!(c.feeds["catalog"].upstream.is_some());
    assert_eq!(c.header_read_timeout, Duration::from_secs(2));
    let c = Config::from_toml("[feeds.news]\nim_feed = true\n").unwrap();
    assert!(c.feeds["news"].im_feed);
}

#[test]
fn retention() {
    let c = Config::from_toml(
        "[feeds.news.retention]\ncompact_after = \"1h\"\ntombstones = \"7d\"\nkeep_latest = 5\n",
    )
    .unwrap();
    let r = &c.feeds["news"].retention;
    assert_eq!(r.interval, Duration::from_secs(60));
    let p = r.policy();
    assert_eq!(p.compact_after, Some(Duration::from_secs(3600)));
    assert_eq!(p.tombstones, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(p.keep_latest, Some(5));
    assert!(!Config::from_toml("[feeds.news]").unwrap().feeds["news"]
        .retention
        .policy()
        .is_active());
    let e = Config::from_toml("[feeds.news.retention]\ntombstones = \"soon\"").unwrap_err();
    assert!(e.contains("soon"), "{e}");
}

#[test]
fn bad_configs_name_the_key() {
    let e = Config::from_toml("listen = 5").unwrap_err();
    assert!(e.contains("listen"), "{e}");
    let e = Config::from_toml("colour = 1").unwrap_err();
    assert!(e.contains("colour"), "{e}");
    let e = Config::from_toml("shutdown_grace = \"soon\"").unwrap_err();
    assert!(e.contains("soon"), "{e}");
    let c = Config::from_toml("[feeds.Bad]").unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("feeds.Bad"));
    let c = Config::from_toml("default_limit = 5000").unwrap();
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("default_limit"));
    let c = Config::from_toml("base_url = \"ftp://x\"").unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("base_url"));
}

#[test]
fn environment_overrides() {
    let mut c = Config::default();
    let vars = [
        ("FEEDGATE_LISTEN", "0.0.0.0:9999"),
        ("FEEDGATE_MAX_BODY_BYTES", "2048"),
        ("FEEDGATE_SHUTDOWN_GRACE", "3s"),
        ("FEEDGATE_DATA_DIR", "/tmp/x"),
        ("HOME", "/root"),
    ];
    c.apply_env(vars.map(|(k, v)| (k.to_string(), v.to_string())))
        .unwrap();
    assert_eq!(c.listen, SocketAddr::from(([0, 0, 0, 0], 9999)));
    assert_eq!(c.max_body_bytes, 2048);
    assert_eq!(c.shutdown_grace, Duration::from_secs(3));
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    let e = c.apply_env([("FEEDGATE_MAX_LIMIT".to_string(), "many".to_string())]);
    assert!(e.unwrap_err().to_string().contains("FEEDGATE_MAX_LIMIT"));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
    assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
    assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(parse_duration("x"), None);
    assert_eq!(parse_duration("5w"), None);
}
