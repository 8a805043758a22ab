//! The real binary: starting on defaults, config precedence (file < env <
//! flags), health endpoints, and graceful shutdown on SIGTERM that finishes
//! in-flight requests and flushes the store.

use crate::support::{binary::start, *};
use std::process::Command;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn starts_on_defaults_without_a_config() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let mut p = start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let c = Client::new(p.addr);
    let h = c.get("/healthz", &[]).await;
    assert_eq!((h.status, h.text()), (200, "ok\n"));
    assert_eq!(c.get("/readyz", &[]).await.json()["status"], "ready");
    assert_eq!(
        c.get("/feeds", &[]).await.json(),
        serde_json::json!({"feeds": []})
    );
    assert_eq!(c.get("/feeds/news", &[]).await.problem(), "feed_not_found");
    assert!(
        data.join("db").exists() || data.join("conf").exists(),
        "the store lives in --data-dir"
    );
    p.term();
    assert_eq!(p.wait_exit(), 0);
}

#[tokio::test]
async fn flags_beat_environment_beat_file() {
    let dir = tempfile::tempdir().unwrap();
    let file_dir = dir.path().join("from-file");
    let flag_dir = dir.path().join("from-flag");
    let cfg = dir.path().join("feedgate.toml");
    std::fs::write(
        &cfg,
        format!("listen = \"127.0.0.1:1\"\ndata_dir = {file_dir:?}\nmax_body_bytes = 100000\n[feeds.news]\ntitle = \"N\"\n"),
    )
    .unwrap();
    let mut p = start(
        &[
            "serve",
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
            flag_dir.to_str().unwrap(),
        ],
        &[
            ("FEEDGATE_LISTEN", "127.0.0.1:0"),
            ("FEEDGATE_MAX_BODY_BYTES", "64"),
            ("FEEDGATE_DATA_DIR", "/nonexistent/x"),
        ],
    );
    let c = Client::new(p.addr);
    assert_eq!(c.put("news", "a", r#"{"title":"fits"}"#).await.status, 201);
    let r = c
        .put(
            "news",
            "b",
            &format!(r#"{{"title":"{}"}}"#, "x".repeat(100)),
        )
        .await;
    assert_eq!(r.problem(), "payload_too_large");
    assert!(flag_dir.exists() && !file_dir.exists());
    p.term();
    assert_eq!(p.wait_exit(), 0);
}

#[tokio::test]
async fn a_bad_config_names_the_key_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[feeds.News]\ntitle = \"x\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_feedgate"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "invalid configuration: exit 2");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("feeds.News"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SIGTERM while a PUT is half sent: the PUT completes and is acknowledged,
/// the process exits 0, and the write is there after a restart.
#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("feedgate.toml");
    std::fs::write(
        &cfg,
        format!("data_dir = {:?}\n[feeds.news]\n", dir.path().join("data")),
    )
    .unwrap();
    let args = [
        "serve",
        "--config",
        cfg.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    let mut p = start(&args, &[]);
    let c = Client::new(p.addr);
    assert_eq!(
        c.put("news", "before", r#"{"title":"1"}"#).await.status,
        201
    );
    let epoch = c.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();

    let body = br#"{"title":"in flight"}"#;
    let mut s = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    let head = format!(
        "PUT /feeds/news/items/inflight HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.term();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New connections are refused once shutdown has begun.
    assert!(tokio::net::TcpStream::connect(p.addr).await.is_err());
    s.write_all(&body[5..]).await.unwrap();
    let mut buf = vec![];
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf)
        .await
        .unwrap();
    let r = Resp::parse(&buf);
    assert_eq!((r.status, r.json()["action"].as_str()), (201, Some("add")));
    assert_eq!(p.wait_exit(), 0);
    let logs = p.logs();
    assert!(logs.contains("store flushed"), "{logs}");

    let mut p = start(&args, &[]);
    let c = Client::new(p.addr);
    let v = c.get("/feeds", &[]).await.json();
    assert_eq!(
        (
            v["feeds"][0]["epoch"].as_str(),
            v["feeds"][0]["head"].as_u64()
        ),
        (Some(epoch.as_str()), Some(2))
    );
    assert_eq!(
        c.get("/feeds/news/items/inflight", &[]).await.json()["title"],
        "in flight"
    );
    p.term();
    assert_eq!(p.wait_exit(), 0);
}

fn config_in(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let cfg = dir.path().join("feedgate.toml");
    let toml = format!("data_dir = {:?}\n[feeds.news]\n", dir.path().join("data"));
    std::fs::write(&cfg, toml).unwrap();
    cfg
}

/// SIGHUP (a closed terminal, a supervisor's reload) is a graceful stop,
/// said as such, never a kill that skips the flush.
#[tokio::test]
async fn sighup_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(&dir);
    let mut p = start(
        &[
            "serve",
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let c = Client::new(p.addr);
    assert_eq!(c.put("news", "a", r#"{"title":"1"}"#).await.status, 201);
    p.signal("HUP");
    assert_eq!(p.wait_exit(), 0);
    let logs = p.all_logs();
    assert!(
        logs.contains("SIGHUP received: feedgate does not reload"),
        "{logs}"
    );
    assert!(logs.contains("store flushed"), "{logs}");
}

/// A second signal while the shutdown waits for a request ends the process at once.
#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(&dir);
    let mut p = start(
        &[
            "serve",
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    // A request half sent keeps the graceful shutdown waiting (shutdown_grace: 10 s).
    let mut s = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    let head = "PUT /feeds/news/items/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    s.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.term();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    p.signal("INT");
    assert_eq!(p.wait_exit(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let logs = p.all_logs();
    assert!(logs.contains("second signal: exiting now"), "{logs}");
}

/// A log going to a pipe or a file has no colour codes, NO_COLOR or not.
#[tokio::test]
async fn no_colour_codes_in_a_piped_log() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(&dir);
    let args = [
        "serve",
        "--config",
        cfg.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    // `start` sets NO_COLOR=1; an empty NO_COLOR is unset, per no-color.org.
    let mut p = start(&args, &[("NO_COLOR", "")]);
    p.term();
    assert_eq!(p.wait_exit(), 0);
    let logs = format!("{}\n{}", p.startup.join("\n"), p.all_logs());
    assert!(
        logs.contains("listening on") && logs.contains("store flushed"),
        "{logs}"
    );
    assert!(!logs.contains('\u{1b}'), "{logs:?}");
}

/// A start that fails (here: the port is taken) removes the data dir it
/// created, and only that: a data dir that was there before stays.
#[test]
fn a_failed_start_leaves_no_data_dir_behind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("new/data");
    let serve = |data: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_feedgate"))
            .args(["serve", "--listen", &listen, "--data-dir"])
            .arg(data)
            .env("NO_COLOR", "1")
            .env_remove("FEEDGATE_CONFIG")
            .output()
            .unwrap()
    };
    let out = serve(&fresh);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "error: cannot listen on {listen}: Address already in use (os error 98); another process \
             listens there (another feedgate serve?): stop it or set listen / FEEDGATE_LISTEN / --listen to another port"
        )
    );
    assert!(!dir.path().join("new").exists(), "created, then removed");
    assert!(dir.path().exists());

    // A data dir that existed (a store in it, here) is kept, store and all.
    let existing = dir.path().join("kept");
    let mut p = start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            existing.to_str().unwrap(),
        ],
        &[],
    );
    p.term();
    assert_eq!(p.wait_exit(), 0);
    let names = || -> Vec<std::ffi::OsString> {
        std::fs::read_dir(&existing)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    };
    let before = names();
    assert!(!before.is_empty());
    let out = serve(&existing);
    assert_eq!(out.status.code(), Some(1));
    let after = names();
    for name in &before {
        assert!(
            after.contains(name),
            "{name:?} removed from an existing data dir"
        );
    }
    drop(taken);
}

/// The startup line lists the feeds sorted by name, whatever the file's order.
#[tokio::test]
async fn the_startup_line_lists_feeds_by_name() {
    let (_dir, config) =
        binary::config_file("[feeds.zeta]\n[feeds.alpha]\n[feeds.mid]\n[feeds.beta]\n");
    let mut p = binary::serve(&config, &[]);
    let line = p.startup.last().unwrap().clone();
    assert!(
        line.contains(r#"feeds=["alpha", "beta", "mid", "zeta"]"#),
        "{line}"
    );
    p.term();
    assert_eq!(p.wait_exit(), 0);
}
