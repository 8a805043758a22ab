//! The operator CLI, driving the real binary:
//! `check-config`, `healthcheck`, `export`, `import`, `compact`, their
//! `--help`, exit codes, and failing fast while a server holds the store
//! (`check-config` in `check_config.rs`, `healthcheck` in `healthcheck.rs`,
//! errors, exit codes and `--help` in `usage.rs`).

use crate::support::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod check_config;
mod healthcheck;
mod usage;

const BIN: &str = env!("CARGO_BIN_EXE_feedgate");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run the binary with `stdin`, failing the test if it takes over 30 s.
fn feedgate(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("FEEDGATE_CONFIG")
        .env_remove("FEEDGATE_DATA_DIR")
        .env_remove("FEEDGATE_LISTEN")
        .env_remove("FEEDGATE_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    // A command that fails before reading its input closes the pipe early.
    let _ = input.write_all(stdin);
    drop(input);
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        panic!("feedgate {args:?} did not finish within 30 s");
    };
    let out = out.unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn run(args: &[&str]) -> Out {
    feedgate(args, b"", &[])
}

/// A config file for the store a [`TestApp`] keeps in `dir` (feeds `news`
/// and `other`).
fn config_for(dir: &Path, extra: &str) -> String {
    let path = dir.join("feedgate.toml");
    let text = format!(
        "data_dir = {:?}\n{extra}\n[feeds.news]\ntitle = \"News\"\n[feeds.other]\n",
        dir.join("data")
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

async fn epoch(app: &TestApp) -> String {
    let v = app.get("/feeds", &[]).await.json();
    v["feeds"][0]["epoch"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn export_then_import_into_another_store_round_trips_exactly() {
    let app = TestApp::builder().spawn().await;
    let items = [
        (
            "b/2",
            r#"{"title": "Zwei", "categories": ["x", "y"], "published": "2024-05-01T12:00:00+02:00"}"#,
        ),
        (
            "a 1",
            r#"{"title": "Eins", "content": "<p>hi</p>", "content_type": "html", "author": "Ann"}"#,
        ),
        (
            "ü-3",
            r#"{"link": "https://example.org/3", "enclosures": [{"url": "https://example.org/3.mp3", "length": 12, "type": "audio/mpeg"}]}"#,
        ),
        ("gone", r#"{"title": "deleted later"}"#),
    ];
    for (id, json) in items {
        assert_eq!(app.put("news", id, json).await.status, 201);
    }
    assert_eq!(
        app.put("news", "a 1", r#"{"title": "Eins, neu"}"#)
            .await
            .status,
        200
    );
    assert_eq!(app.delete("news", "gone").await.status, 200);
    // The push API's view of one item: what its export line must be.
    let pushed = app
        .get(&format!("/feeds/news/items/{}", enc("a 1")), &[])
        .await
        .json();
    let dir = app.stop().await;
    let config = config_for(dir.path(), "");

    let out = run(&["export", "news", "--config", &config]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = lines.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a 1", "b/2", "ü-3"], "current items, by id");
    assert_eq!(lines[0], pushed);
    assert_eq!(lines[0]["title"], "Eins, neu");

    // Import into a fresh data dir, from a file.
    let file = dir.path().join("news.ndjson");
    std::fs::write(&file, &out.stdout).unwrap();
    let copy = dir.path().join("copy");
    let copy = copy.to_str().unwrap();
    let imported = run(&[
        "import",
        "news",
        file.to_str().unwrap(),
        "--config",
        &config,
        "--data-dir",
        copy,
    ]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert!(
        imported
            .stdout
            .contains("add 3, update 0, delete 0, unchanged 0"),
        "{}",
        imported.stdout
    );
    let again = run(&["export", "news", "--config", &config, "--data-dir", copy]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, out.stdout, "byte for byte");

    // Importing the same again (from stdin) changes nothing; a delete line deletes.
    let mut input = out.stdout.clone().into_bytes();
    input.extend_from_slice(b"\n{\"id\": \"b/2\", \"deleted\": true}\n");
    let twice = feedgate(
        &[
            "import",
            "news",
            "-",
            "--config",
            &config,
            "--data-dir",
            copy,
        ],
        &input,
        &[],
    );
    assert_eq!(twice.code, 0, "{}", twice.stderr);
    assert!(
        twice
            .stdout
            .contains("add 0, update 0, delete 1, unchanged 3"),
        "{}",
        twice.stdout
    );
}

#[tokio::test]
async fn bad_import_lines_are_named_and_nothing_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), "");
    let good = "{\"id\": \"a\", \"title\": \"A\"}\n";
    let ok = feedgate(
        &["import", "news", "--config", &config],
        good.as_bytes(),
        &[],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let before = run(&["export", "news", "--config", &config]).stdout;
    let cases: [(&str, &str); 6] = [
        (
            "{\"id\": \"b\"}\n\n{\"id\": \"c\", \"title\": }\n",
            "line 3",
        ),
        ("{\"id\": \"b\", \"colour\": \"red\"}\n", "line 1"),
        ("{\"id\": \"b\"}\n{\"title\": \"no id\"}\n", "line 2"),
        ("{\"id\": \"b\"}, {\"id\": \"c\"}\n", "line 1"),
        ("[{\"id\": \"b\"}]\n", "line 1"),
        (
            "{\"id\": \"b\"}\n{\"id\": \"nope\", \"deleted\": true}\n",
            "line 2",
        ),
    ];
    for (input, line) in cases {
        let out = feedgate(
            &["import", "news", "--config", &config],
            input.as_bytes(),
            &[],
        );
        assert_eq!(out.code, 2, "{input:?}: {}", out.stderr);
        assert!(out.stderr.contains(line), "{input:?}: {}", out.stderr);
    }
    // A JSON array (a batch, as the push API takes it) or an object over
    // several lines: the format is named, and how to get to it.
    let hint =
        "import reads JSON Lines: one object per line; write each item on a line of its own \
                (from an array: jq -c '.[]' FILE | feedgate import FEED)";
    for (input, start) in [
        ("[{\"id\": \"b\"}]\n", "error: line 1: a JSON array, but "),
        ("[\n  {\"id\": \"b\"}\n]\n", "error: line 1: a JSON array, but "),
        (
            "{\n  \"id\": \"b\"\n}\n",
            "error: line 1: column 1: EOF while parsing an object: the object does not end on its line, but ",
        ),
    ] {
        let out = feedgate(
            &["import", "news", "--config", &config],
            input.as_bytes(),
            &[],
        );
        assert_eq!(out.code, 2, "{input:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim(), format!("{start}{hint}"), "{input:?}");
    }
    let after = run(&["export", "news", "--config", &config]).stdout;
    assert_eq!(before, after, "no bad input applied anything");
    assert_eq!(after, "{\"id\":\"a\",\"title\":\"A\"}\n");
    // Unknown feeds, in both directions.
    let out = feedgate(
        &["import", "nope", "--config", &config],
        good.as_bytes(),
        &[],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("\"nope\""), "{}", out.stderr);
    let out = run(&["export", "nope", "--config", &config]);
    assert_eq!(out.code, 2);
    // Exporting from a data dir that holds no store does not create one.
    let empty_dir = dir.path().join("empty");
    let empty = empty_dir.to_str().unwrap();
    let out = run(&["export", "news", "--config", &config, "--data-dir", empty]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!empty_dir.exists());
}

#[tokio::test]
async fn compact_runs_a_pass_now_per_the_retention_config() {
    let app = TestApp::builder().spawn().await;
    for title in ["v1", "v2", "v3"] {
        app.put("news", "a", &format!("{{\"title\": \"{title}\"}}"))
            .await;
    }
    app.put("news", "b", r#"{"title": "b"}"#).await;
    let e = epoch(&app).await;
    let dir = app.stop().await;
    let plain = config_for(dir.path(), "");
    let out = run(&["compact", "news", "--config", &plain]);
    assert_eq!(out.code, 2, "no retention policy: {}", out.stderr);
    let out = run(&["compact", "--config", &plain]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("nothing to compact"), "{}", out.stdout);

    let config = config_for(dir.path(), "[feeds.news.retention]\nkeep_latest = 1\n");
    let out = run(&["compact", "news", "--config", &config]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("news: examined"), "{}", out.stdout);
    assert!(!out.stdout.contains("removed 0,"), "{}", out.stdout);
    let out = run(&["compact", "--config", &config]);
    assert!(
        out.stdout.contains("removed 0,"),
        "a second pass has nothing left: {}",
        out.stdout
    );

    // a's superseded v2 (seq 2) is gone: the first two transactions left
    // reach a's latest state, v3 (before the pass they were v1 and v2).
    let app = TestApp::builder().dir(dir).spawn().await;
    let r = app
        .get(&format!("/feeds/news?etag={e}.0&limit=2"), &[])
        .await;
    let feed = r.feed();
    let a = feed.entries.iter().find(|x| x.id == "a").unwrap();
    assert_eq!((a.title.as_deref(), a.tick), (Some("v3"), 3));
    app.stop().await;
}

#[test]
fn offline_commands_fail_fast_while_a_server_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), "[feeds.news.retention]\nkeep_latest = 1\n");
    let server = binary::start(
        &["serve", "--listen", "127.0.0.1:0", "--config", &config],
        &[],
    );
    let item = b"{\"id\": \"a\"}\n";
    for args in [
        &["export", "news", "--config", &config][..],
        &["import", "news", "--config", &config][..],
        &["compact", "--config", &config][..],
    ] {
        let started = Instant::now();
        let out = feedgate(args, item, &[]);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("in use"), "{args:?}: {}", out.stderr);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{args:?} waited"
        );
    }
    // check-config does not need the store.
    assert_eq!(run(&["check-config", "--config", &config]).code, 0);
    // A second server says so once, in one line, and exits 1.
    let out = run(&["serve", "--listen", "127.0.0.1:0", "--config", &config]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let said: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(said.len(), 1, "{}", out.stderr);
    assert!(
        said[0].starts_with("error: the store in "),
        "{}",
        out.stderr
    );
    assert!(
        said[0].contains("is in use by another process"),
        "{}",
        out.stderr
    );
    server.kill();
}
