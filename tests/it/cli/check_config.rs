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

/// `--print`: the effective configuration as TOML, variables and flags
/// applied, every secret redacted.
#[test]
fn check_config_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[credentials.ci]
token_sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
roles = { "*" = "admin" }
[feeds.mirror.upstream]
url = "https://bot:url-secret@origin.example/items.json?key=query-secret"
format = "json"
headers = { Authorization = "Bearer header-secret" }
"#;
    let config = config_for(dir.path(), extra);
    let out = feedgate(
        &[
            "check-config",
            "--config",
            &config,
            "--print",
            "--no-access-log",
        ],
        b"",
        &[
            ("FEEDGATE_MAX_WAIT", "2m"),
            ("FEEDGATE_LOG_FORMAT", "json"),
            (
                "FEEDGATE_STORE",
                "postgres://feedgate:pg-secret@db.example/feeds",
            ),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let printed: toml::Table = out
        .stdout
        .parse()
        .unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert_eq!(printed["max_wait"].as_str(), Some("2m"), "{}", out.stdout);
    assert_eq!(printed["log_format"].as_str(), Some("json"));
    assert_eq!(
        printed["access_log"].as_bool(),
        Some(false),
        "the flag applies"
    );
    assert_eq!(
        printed["default_limit"].as_integer(),
        Some(100),
        "defaults too"
    );
    assert_eq!(
        printed["store"].as_str(),
        Some("postgres://feedgate:REDACTED@db.example/feeds")
    );
    assert_eq!(
        printed["credentials"]["ci"]["token_sha256"].as_str(),
        Some("REDACTED")
    );
    let upstream = &printed["feeds"]["mirror"]["upstream"];
    assert_eq!(
        upstream["headers"]["Authorization"].as_str(),
        Some("REDACTED")
    );
    assert_eq!(
        upstream["url"].as_str(),
        Some("https://bot:REDACTED@origin.example/items.json?key=REDACTED")
    );
    assert_eq!(printed["feeds"]["news"]["title"].as_str(), Some("News"));
    for secret in [
        "1111",
        "url-secret",
        "query-secret",
        "header-secret",
        "pg-secret",
    ] {
        assert!(!out.stdout.contains(secret), "{secret}: {}", out.stdout);
    }
}

/// Seed files are read and parsed as `serve` would: a missing or broken one
/// is named, exit 2, by check-config and serve alike.
#[test]
fn check_config_reads_the_seed_files() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    let config = config_for(dir.path(), "");
    let text = std::fs::read_to_string(&config).unwrap();
    let with_seed = text.replace(
        "[feeds.other]\n",
        &format!("[feeds.other]\nseed = {seed:?}\n"),
    );
    std::fs::write(&config, with_seed).unwrap();
    let path = seed.display();
    for cmd in ["check-config", "serve"] {
        let out = run(&[cmd, "--config", &config, "--listen", "127.0.0.1:0"]);
        assert_eq!(out.code, 2, "{cmd}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim(),
            format!(
                "error: cannot seed feed other from {path}: No such file or directory (os error 2); \
                 fix the file or feeds.other.seed (a relative path is relative to the config file)"
            ),
            "{cmd}"
        );
    }
    std::fs::write(&seed, r#"[{"id": "a", "title": "A"}, {"title": "no id"}]"#).unwrap();
    let out = run(&["check-config", "--config", &config]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(&format!(
            "error: cannot seed feed other from {path}: element 1"
        )),
        "{}",
        out.stderr
    );
    std::fs::write(&seed, r#"[{"id": "a", "title": "A"}]"#).unwrap();
    let out = run(&["check-config", "--config", &config]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// Run `feedgate ARGS` as a user who cannot write a root-owned directory:
/// as is when not root, else as nobody (65534) through `setpriv`.
fn as_unprivileged(args: &[&str]) -> (Out, String) {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    let out = cmd
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("FEEDGATE_CONFIG")
        .output()
        .unwrap();
    let uid = if root {
        "65534".to_string()
    } else {
        let m = std::fs::metadata("/proc/self").unwrap();
        std::os::unix::fs::MetadataExt::uid(&m).to_string()
    };
    let out = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    (out, uid)
}

/// A data dir the process cannot write: check-config and serve say so in
/// the same words (path, OS error, user, what to do), exit 1, and serve
/// says it instead of sled's error.
#[test]
fn an_unwritable_data_dir_is_named_with_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let data = locked.join("data");
    let data = data.to_str().unwrap();
    for cmd in ["check-config", "serve"] {
        let (out, uid) = as_unprivileged(&[cmd, "--data-dir", data, "--listen", "127.0.0.1:0"]);
        assert_eq!(out.code, 1, "{cmd}: {}", out.stderr);
        let line = out.stderr.trim();
        let expected_start = format!(
            "error: data dir {data}: Permission denied (os error 13) (creating {}/.feedgate-probe-",
            locked.display()
        );
        assert!(line.starts_with(&expected_start), "{cmd}: {line}");
        assert!(
            line.ends_with(&format!(
                " as uid {uid}); make it writable by that user (chown / chmod, or the volume's owner) \
                 or set data_dir / FEEDGATE_DATA_DIR / --data-dir to a writable directory"
            )),
            "{cmd}: {line}"
        );
        assert_eq!(line.lines().count(), 1, "{cmd}: {line}");
    }
    assert_eq!(
        std::fs::read_dir(&locked).unwrap().count(),
        0,
        "nothing left"
    );
}

/// The listen address: one in use is said (it may be this config's own
/// server), one that cannot be bound is an error.
#[test]
fn check_config_tries_the_listen_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), "");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["check-config", "--config", &config, "--listen", &addr]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "\nlisten {addr}\nnote: {addr} is in use now (by this config's own server?)\n"
        )),
        "{}",
        out.stdout
    );
    // TEST-NET-1 (RFC 5737): no address of this machine.
    let out = run(&[
        "check-config",
        "--config",
        &config,
        "--listen",
        "192.0.2.1:8080",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "error: cannot listen on 192.0.2.1:8080: Cannot assign requested address (os error 99); \
         that IP address is not one of this machine's: listen on 0.0.0.0 (every address), 127.0.0.1 or one of its own"
    );
}
