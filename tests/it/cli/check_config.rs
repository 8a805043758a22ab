//! `check-config`: the summary of a good config, the bad key named, the
//! store it would use (without its password), and pending migrations.

use super::*;

#[test]
fn check_config_summarises_a_good_config_and_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), "default_limit = 10");
    let out = run(&["check-config", "--config", &config]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(": ok"), "{}", out.stdout);
    assert!(out.stdout.contains("feeds 2"), "{}", out.stdout);
    assert!(
        out.stdout.contains("  news\tpush\t\"News\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("  other\tpush\t\"other\""),
        "{}",
        out.stdout
    );
    // The environment applies as for serve, and FEEDGATE_CONFIG names the file.
    let out = feedgate(
        &["check-config"],
        b"",
        &[
            ("FEEDGATE_CONFIG", &config),
            ("FEEDGATE_LISTEN", "127.0.0.1:9999"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("listen 127.0.0.1:9999"),
        "{}",
        out.stdout
    );
    let out = feedgate(
        &["check-config", "--config", &config],
        b"",
        &[("FEEDGATE_MAX_LIMIT", "5")],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("default_limit"), "{}", out.stderr);
    let out = feedgate(
        &["check-config", "--config", &config],
        b"",
        &[("FEEDGATE_LISTEN", "nowhere")],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("FEEDGATE_LISTEN"), "{}", out.stderr);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[feeds.\"Bad Name\"]\n").unwrap();
    let out = run(&["check-config", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("feeds.Bad Name"), "{}", out.stderr);
    std::fs::write(&bad, "max_limit = \"many\"\n").unwrap();
    let out = run(&["check-config", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("max_limit"), "{}", out.stderr);
    // No file at all: defaults.
    let out = run(&["check-config"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("config defaults: ok"), "{}", out.stdout);
}

#[test]
fn check_config_names_the_store_and_store_commands_open_a_postgres_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), "");
    let out = run(&["check-config", "--config", &config]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\nstore embedded "), "{}", out.stdout);
    let url = (
        "FEEDGATE_STORE",
        "postgres://feedgate:s3cret@db.example/feeds",
    );
    let out = feedgate(&["check-config", "--config", &config], b"", &[url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("\nstore postgres postgres://feedgate@db.example:5432/feeds\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("s3cret"), "{}", out.stdout);
    // Its schema cannot be read (no such host): said, and still a good config.
    assert!(out.stdout.contains("\nschema unknown ("), "{}", out.stdout);
    // The offline commands open the database (here: cannot), naming it
    // without its password.
    let out = feedgate(&["export", "news", "--config", &config], b"", &[url]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("store in postgres://feedgate@db.example:5432/feeds: "),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    let bad = ("FEEDGATE_STORE", "mysql://db.example/feeds");
    let out = feedgate(&["check-config", "--config", &config], b"", &[bad]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("store"), "{}", out.stderr);
}
