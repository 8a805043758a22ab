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
    let vars = [
        ("FEEDGATE_LISTEN", "0.0.0.0:9999"),
        ("FEEDGATE_MAX_BODY_BYTES", "2048"),
        ("FEEDGATE_SHUTDOWN_GRACE", "3s"),
        ("FEEDGATE_DATA_DIR", "/tmp/x"),
        ("HOME", "/root"),
    ];
    let c = Config::load(None, vars, &Flags::default()).unwrap();
    assert_eq!(c.listen, SocketAddr::from(([0, 0, 0, 0], 9999)));
    assert_eq!(c.max_body_bytes, 2048);
    assert_eq!(c.shutdown_grace, Duration::from_secs(3));
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    let e = Config::load(None, [("FEEDGATE_MAX_LIMIT", "many")], &Flags::default());
    assert!(e.unwrap_err().to_string().contains("FEEDGATE_MAX_LIMIT"));
}

#[test]
fn the_store_is_embedded_unless_a_postgres_url_is_given() {
    let c = Config::load(None, [("HOME", "/root")], &Flags::default()).unwrap();
    assert_eq!(
        (c.store.as_deref(), c.store_name()),
        (None, "./feedgate-data".into())
    );
    let url = "postgres://feedgate:secret@db.example:5433/feeds?connect_timeout=5";
    let c = Config::load(None, [("FEEDGATE_STORE", url)], &Flags::default()).unwrap();
    assert_eq!(c.store.as_deref(), Some(url));
    // Messages name it without the password.
    assert_eq!(c.store_name(), "postgres://feedgate@db.example:5433/feeds");
    let c = Config::from_toml(&format!("store = \"{url}\"")).unwrap();
    c.validate().unwrap();
    for bad in ["mysql://x/y", "postgres://x/y?no_such_option=1"] {
        let c = Config::from_toml(&format!("store = \"{bad}\"")).unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("store"), "{bad}: {e}");
    }
}

/// A config file in a temporary directory.
fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feedgate.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

const NO_ENV: [(&str, &str); 0] = [];

#[test]
fn load_layers_flags_over_environment_over_file_over_defaults() {
    let (_dir, path) = file(
        "listen = \"127.0.0.1:1\"\ndata_dir = \"from-file\"\nmax_body_bytes = 100\ndefault_limit = 7\n",
    );
    let env = [
        ("FEEDGATE_LISTEN", "127.0.0.1:2"),
        ("FEEDGATE_DATA_DIR", "from-env"),
        ("FEEDGATE_MAX_BODY_BYTES", "200"),
        ("HOME", "/root"),
    ];
    let flags = Flags {
        listen: None,
        data_dir: Some(PathBuf::from("from-flag")),
        ..Flags::default()
    };
    let c = Config::load(Some(&path), env, &flags).unwrap();
    // A flag beats the environment, which beats the file, which beats the defaults.
    assert_eq!(c.data_dir, PathBuf::from("from-flag"));
    assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 2)));
    assert_eq!(c.max_body_bytes, 200);
    assert_eq!(c.default_limit, 7);
    assert_eq!(c.max_limit, Config::default().max_limit);
    assert_eq!(c.file.as_deref(), Some(path.as_path()));
    // Without the variables, the file's values stand.
    let c = Config::load(Some(&path), NO_ENV, &Flags::default()).unwrap();
    assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 1)));
    assert_eq!(c.data_dir, PathBuf::from("from-file"));
    // And a flag beats the file without any variable.
    let flags = Flags {
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 3))),
        ..Flags::default()
    };
    let c = Config::load(Some(&path), NO_ENV, &flags).unwrap();
    assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 3)));
    assert_eq!(c.data_dir, PathBuf::from("from-file"));
}

#[test]
fn load_finds_the_file_by_flag_else_by_feedgate_config() {
    let (_a, by_env) = file("default_limit = 3\n");
    let (_b, by_flag) = file("default_limit = 4\n");
    let env = [("FEEDGATE_CONFIG", by_env.as_os_str())];
    let c = Config::load(None, env, &Flags::default()).unwrap();
    assert_eq!(
        (c.default_limit, c.file.as_deref()),
        (3, Some(by_env.as_path()))
    );
    let c = Config::load(Some(&by_flag), env, &Flags::default()).unwrap();
    assert_eq!(
        (c.default_limit, c.file.as_deref()),
        (4, Some(by_flag.as_path()))
    );
    let c = Config::load(None, NO_ENV, &Flags::default()).unwrap();
    assert_eq!((c.default_limit, c.file), (100, None));
}

#[test]
fn load_validates_what_the_layers_make() {
    let (_dir, path) = file("max_limit = 50\n");
    // Each layer alone is fine; together default_limit > max_limit.
    let e = Config::load(
        Some(&path),
        [("FEEDGATE_DEFAULT_LIMIT", "60")],
        &Flags::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("default_limit"), "{e}");
    let e = Config::load(
        Some(&path),
        [("FEEDGATE_LISTEN", "nowhere")],
        &Flags::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("FEEDGATE_LISTEN"), "{e}");
    // Credentials are checked as the server checks them.
    let (_dir, path) = file("[feeds.news]\n[credentials.app]\ntoken_sha256 = \"abc\"\n");
    let e = Config::load(Some(&path), NO_ENV, &Flags::default()).unwrap_err();
    assert!(
        e.to_string().contains("credentials.app.token_sha256"),
        "{e}"
    );
    let e = Config::load(
        Some(Path::new("/nonexistent/feedgate.toml")),
        NO_ENV,
        &Flags::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
}
