//! `feedgate migrate` on the real binary: a data directory written by a
//! server on the embedded store, copied into PostgreSQL, then served from
//! there with the same ETags, dates and documents; a second copy is refused;
//! the offline commands and `migrate-schema` work on the database.
//!
//! The throw-away PostgreSQL server is the library's own test helper,
//! compiled into this binary from its source file (it needs nothing of the
//! library), so both test binaries start servers the same way; without
//! PostgreSQL binaries the test says so on stderr and passes.

#[path = "../../src/store/postgres/testing.rs"]
pub(crate) mod pg;

use crate::support::binary::{config_file, serve, Proc};
use crate::support::{Client, Resp};
use std::process::{Command, Stdio};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `feedgate ARGS` with `env`, run to its end.
fn feedgate(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedgate"));
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("FEEDGATE_CONFIG")
        .env_remove("FEEDGATE_DATA_DIR")
        .env_remove("FEEDGATE_STORE")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// What a consumer sees of one request.
fn seen(r: &Resp) -> (u16, Option<String>, Option<String>, String) {
    (
        r.status,
        r.header("etag").map(str::to_string),
        r.header("last-modified").map(str::to_string),
        String::from_utf8_lossy(&r.body).into_owned(),
    )
}

/// Documents name the host they were asked on: the same for both servers.
const HOST: (&str, &str) = ("Host", "feeds.example");

/// The answers to a set of reads: catch-ups in both formats, an ETag at the
/// head and behind it, a date, and the item states.
async fn reads(p: &Proc, early: &str) -> Vec<(u16, Option<String>, Option<String>, String)> {
    let c = Client::new(p.addr);
    let head = c.get("/feeds/news.atom", &[HOST]).await;
    let mut out = vec![seen(&head)];
    let etag = head.etag();
    let modified = head.header("last-modified").unwrap_or("").to_string();
    for (path, headers) in [
        ("/feeds/news.rss", vec![]),
        ("/feeds/news.atom", vec![("If-None-Match", etag.as_str())]),
        ("/feeds/news.atom", vec![("If-None-Match", early)]),
        (
            "/feeds/news.atom",
            vec![("If-Modified-Since", modified.as_str())],
        ),
        (
            "/feeds/news.atom",
            vec![("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")],
        ),
        ("/feeds/other.atom", vec![]),
        ("/feeds/news/items/a", vec![]),
        ("/feeds/news/items/gone", vec![]),
    ] {
        let mut headers = headers;
        headers.push(HOST);
        out.push(seen(&c.get(path, &headers).await));
    }
    out
}

#[tokio::test]
async fn a_migrated_data_dir_is_served_from_postgres_as_before() {
    let Some(server) = pg::server() else {
        return;
    };
    let url = server.database().await;
    let (dir, config) = config_file(
        "[feeds.news]\ntitle = \"News\"\n[feeds.news.retention]\nkeep_latest = 1\n[feeds.other]\n",
    );
    let data = dir.path().join("d");
    let store = [("FEEDGATE_STORE", url.as_str())];

    let mut p = serve(&config, &[]);
    let c = Client::new(p.addr);
    let early = c.put("news", "a", r#"{"title": "A1"}"#).await.etag();
    c.put("news", "gone", r#"{"title": "G"}"#).await;
    c.put("news", "a", r#"{"title": "A2", "content": "<p>x</p>"}"#)
        .await;
    c.delete("news", "gone").await;
    c.put("other", "o", r#"{"title": "O"}"#).await;
    // Every second written is closed before the first read.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let before = reads(&p, &early).await;
    p.term();
    assert_eq!(p.wait_exit(), 0);
    let exported = feedgate(&["export", "news", "--config", &config], &[]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let out = feedgate(
        &["migrate", "--from", data.to_str().unwrap(), "--to", &url],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("schema: applied 1 "), "{}", out.stdout);
    assert!(out.stdout.contains("news: epoch "), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("head 4, 4 transactions, 1 live items, 1 tombstones"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("copied 2 feeds and 0 consumer records"),
        "{}",
        out.stdout
    );

    // Served from the database: the same answers, byte for byte.
    let p = serve(&config, &store);
    assert_eq!(reads(&p, &early).await, before);
    let ready = Client::new(p.addr).get("/readyz", &[]).await;
    assert_eq!(ready.status, 200);
    assert_eq!(
        ready.json()["notifications"],
        "listening",
        "{}",
        ready.text()
    );
    // The offline commands run on the database (beside a server, which it allows).
    let out = feedgate(&["export", "news", "--config", &config], &store);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, exported.stdout);
    let line = b"{\"id\": \"n\", \"title\": \"N\"}\n";
    let file = dir.path().join("items.ndjson");
    std::fs::write(&file, line).unwrap();
    let out = feedgate(
        &[
            "import",
            "news",
            file.to_str().unwrap(),
            "--config",
            &config,
        ],
        &store,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("add 1,") && out.stdout.contains(".5"),
        "{}",
        out.stdout
    );
    let out = feedgate(&["compact", "--config", &config], &store);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("news: examined "), "{}", out.stdout);
    let c = Client::new(p.addr);
    let item = c.get("/feeds/news/items/n", &[]).await;
    assert_eq!(
        item.status,
        200,
        "the server sees the import: {}",
        item.text()
    );
    p.kill();

    // Into a database that is not empty: refused, exit 2, nothing written.
    let out = feedgate(
        &["migrate", "--from", data.to_str().unwrap(), "--to", &url],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("not empty") && out.stderr.contains("feeds news, other"),
        "{}",
        out.stderr
    );

    // The schema commands, and check-config naming pending migrations.
    let out = feedgate(
        &["migrate-schema", "--dry-run", "--config", &config],
        &store,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("up to date; nothing to apply"),
        "{}",
        out.stdout
    );
    let fresh = server.database().await;
    let fresh_store = [("FEEDGATE_STORE", fresh.as_str())];
    let out = feedgate(&["check-config", "--config", &config], &fresh_store);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("schema pending migrations 2 "),
        "{}",
        out.stdout
    );
    let out = feedgate(
        &["migrate-schema", "--dry-run", "--config", &config],
        &fresh_store,
    );
    assert!(out.stdout.contains("would apply 1 ("), "{}", out.stdout);
    assert!(
        out.stdout.contains("would apply 2 (WebSub"),
        "{}",
        out.stdout
    );
    let out = feedgate(&["migrate-schema", "--config", &config], &fresh_store);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(": applied 1 ("), "{}", out.stdout);
    assert!(out.stdout.contains(": applied 2 ("), "{}", out.stdout);
    let out = feedgate(&["check-config", "--config", &config], &fresh_store);
    assert!(out.stdout.contains("schema up to date"), "{}", out.stdout);
    // migrate-schema without a database to migrate: exit 2.
    let out = feedgate(&["migrate-schema", "--config", &config], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn migrate_refuses_a_missing_store_or_a_url_that_is_not_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing");
    let out = feedgate(
        &[
            "migrate",
            "--from",
            missing.to_str().unwrap(),
            "--to",
            "postgres://u@127.0.0.1:1/db",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("there is no store in"),
        "{}",
        out.stderr
    );
    let out = feedgate(
        &[
            "migrate",
            "--from",
            dir.path().to_str().unwrap(),
            "--to",
            "mysql://db/x",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--to: must be a postgres:// URL"),
        "{}",
        out.stderr
    );
}
