//! Authorization: bearer tokens, HTTP Basic and `access_token`,
//! per-feed roles, 401 vs 403, and a matrix over identities × feeds ×
//! methods that asserts every cell.

use crate::support::*;
use feedgate::auth::hash_secret;

fn config() -> String {
    format!(
        r#"
[credentials.reader]
token_sha256 = "{}"
roles = {{ news = "read" }}
[credentials.writer]
token_sha256 = "{}"
password_sha256 = "{}"
roles = {{ news = "write" }}
[credentials.admin]
token_sha256 = "{}"
roles = {{ "*" = "admin" }}
[credentials.mixed]
token_sha256 = "{}"
roles = {{ other = "write", news = "read" }}
"#,
        hash_secret("t-reader"),
        hash_secret("t-writer"),
        hash_secret("p-writer"),
        hash_secret("t-admin"),
        hash_secret("t-mixed"),
    )
}

/// How a request identifies itself.
#[derive(Debug, Clone, Copy)]
enum Who {
    Nobody,
    WrongToken,
    WrongPassword,
    Reader,
    ReaderByQuery,
    WriterByBasic,
    Writer,
    Admin,
    Mixed,
}

const EVERYONE: [Who; 9] = [
    Who::Nobody,
    Who::WrongToken,
    Who::WrongPassword,
    Who::Reader,
    Who::ReaderByQuery,
    Who::WriterByBasic,
    Who::Writer,
    Who::Admin,
    Who::Mixed,
];

impl Who {
    fn header(self) -> Option<&'static str> {
        match self {
            Who::WrongToken => Some("Bearer nope"),
            Who::WrongPassword => Some("Basic d3JpdGVyOndyb25n"),
            Who::Reader => Some("Bearer t-reader"),
            Who::WriterByBasic => Some("Basic d3JpdGVyOnAtd3JpdGVy"), // writer:p-writer
            Who::Writer => Some("Bearer t-writer"),
            Who::Admin => Some("Bearer t-admin"),
            Who::Mixed => Some("Bearer t-mixed"),
            Who::Nobody | Who::ReaderByQuery => None,
        }
    }
    /// Role rank on `feed`: None = not authenticated, Some(0) = no role, 1 read, 2 write, 3 admin.
    fn rank(self, feed: &str) -> Option<u8> {
        match (self, feed) {
            (Who::Nobody | Who::WrongToken | Who::WrongPassword, _) => None,
            (Who::Reader | Who::ReaderByQuery, "news") => Some(1),
            (Who::Writer | Who::WriterByBasic, "news") => Some(2),
            (Who::Admin, _) => Some(3),
            (Who::Mixed, "news") => Some(1),
            (Who::Mixed, "other") => Some(2),
            _ => Some(0),
        }
    }
    fn path(self, path: &str) -> String {
        match self {
            Who::ReaderByQuery if path.contains('?') => format!("{path}&access_token=t-reader"),
            Who::ReaderByQuery => format!("{path}?access_token=t-reader"),
            _ => path.to_string(),
        }
    }
}

#[tokio::test]
async fn every_cell_of_the_matrix() {
    let app = TestApp::builder().toml(&config()).spawn().await;
    let admin = [
        ("Authorization", "Bearer t-admin"),
        ("Content-Type", "application/json"),
    ];
    let mut expected_heads = std::collections::HashMap::from([("news", 0u64), ("other", 0u64)]);
    let mut cells = 0;
    for feed in ["news", "other"] {
        assert_eq!(
            app.req(
                "PUT",
                &format!("/feeds/{feed}/items/x"),
                &admin,
                br#"{"title":"x"}"#
            )
            .await
            .status,
            201
        );
        *expected_heads.get_mut(feed).unwrap() += 1;
    }
    for (n, who) in EVERYONE.into_iter().enumerate() {
        for feed in ["news", "other"] {
            let rank = who.rank(feed);
            // Each cell: (method, path, body, needed rank, status on success)
            let id = format!("c{n}");
            // A victim item for DELETE, created by the admin.
            app.req(
                "PUT",
                &format!("/feeds/{feed}/items/del-{id}"),
                &admin,
                b"{}",
            )
            .await;
            *expected_heads.get_mut(feed).unwrap() += 1;
            let batch = format!(r#"[{{"id":"batch-{id}","title":"b"}}]"#);
            let ops: [(&str, String, &[u8], u8, u16); 7] = [
                ("GET", format!("/feeds/{feed}"), b"", 1, 200),
                ("HEAD", format!("/feeds/{feed}.atom"), b"", 1, 200),
                ("GET", format!("/feeds/{feed}/items/x"), b"", 1, 200),
                (
                    "PUT",
                    format!("/feeds/{feed}/items/{id}"),
                    br#"{"title":"t"}"#,
                    2,
                    201,
                ),
                (
                    "DELETE",
                    format!("/feeds/{feed}/items/del-{id}"),
                    b"",
                    2,
                    200,
                ),
                (
                    "POST",
                    format!("/feeds/{feed}/items"),
                    batch.as_bytes(),
                    2,
                    200,
                ),
                ("GET", "/healthz".to_string(), b"", 0, 200),
            ];
            for (method, path, body, need, ok) in ops {
                let mut headers = vec![("Content-Type", "application/json")];
                if let Some(h) = who.header() {
                    headers.push(("Authorization", h));
                }
                let r = app.req(method, &who.path(&path), &headers, body).await;
                let want = match rank {
                    _ if need == 0 => ok,
                    None => 401,
                    Some(r) if r >= need => ok,
                    Some(_) => 403,
                };
                assert_eq!(r.status, want, "{who:?} {method} {path}");
                cells += 1;
                match want {
                    401 if method != "HEAD" => {
                        assert_eq!(r.problem(), "unauthorized");
                        let challenge = r.header("www-authenticate").unwrap();
                        assert!(
                            challenge.contains("Bearer realm=")
                                && challenge.contains("Basic realm=")
                        );
                    }
                    401 => assert!(r.header("www-authenticate").is_some()),
                    403 if method != "HEAD" => {
                        assert_eq!(r.problem(), "forbidden");
                        assert!(r.header("www-authenticate").is_none());
                    }
                    _ => {}
                }
                if want == ok && need == 2 {
                    *expected_heads.get_mut(feed).unwrap() += 1;
                }
            }
        }
        // GET /feeds lists what the credential may read.
        let mut headers = vec![];
        if let Some(h) = who.header() {
            headers.push(("Authorization", h));
        }
        let r = app.get(&who.path("/feeds"), &headers).await;
        if who.rank("news").is_none() {
            assert_eq!(
                (r.status, r.problem().as_str()),
                (401, "unauthorized"),
                "{who:?}"
            );
        } else {
            let names: Vec<String> = r.json()["feeds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_string())
                .collect();
            let want: Vec<&str> = ["news", "other"]
                .into_iter()
                .filter(|f| who.rank(f) > Some(0))
                .collect();
            assert_eq!(names, want, "{who:?}");
        }
    }
    assert_eq!(cells, 9 * 2 * 7);
    // Refused writes left no trace: each head counts exactly the allowed writes.
    let v = app
        .get("/feeds", &[("Authorization", "Bearer t-admin")])
        .await
        .json();
    for f in v["feeds"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        assert_eq!(f["head"].as_u64(), Some(expected_heads[name]), "{name}");
    }
}

#[tokio::test]
async fn access_tokens_never_reach_documents() {
    let app = TestApp::builder().toml(&config()).spawn().await;
    app.req(
        "PUT",
        "/feeds/news/items/a",
        &[
            ("Authorization", "Bearer t-admin"),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    )
    .await;
    app.req(
        "PUT",
        "/feeds/news/items/b",
        &[
            ("Authorization", "Bearer t-admin"),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    )
    .await;
    let r = app
        .get("/feeds/news?etag=x.0&limit=1&access_token=t-reader", &[])
        .await;
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("t-reader"), "{}", r.text());
    assert!(!r.header("link").unwrap_or("").contains("t-reader"));
}

#[tokio::test]
async fn without_credentials_everything_is_open() {
    let app = TestApp::builder().spawn().await;
    assert_eq!(app.put("news", "a", "{}").await.status, 201);
    assert_eq!(
        app.get("/feeds/news", &[("Authorization", "Bearer whatever")])
            .await
            .status,
        200
    );
}

#[test]
fn hash_secret_command_and_loopback_warning() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_feedgate"))
        .arg("hash-secret")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"t-reader\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        hash_secret("t-reader")
    );

    // No credentials and a non-loopback address: a loud warning.
    let dir = tempfile::tempdir().unwrap();
    let p = binary::start(
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    let warned = p
        .startup
        .iter()
        .any(|line| line.contains("WARNING: no credentials are configured"));
    p.kill();
    assert!(warned);
}

/// `access_token` values are redacted in the request log.
#[tokio::test]
async fn access_tokens_are_redacted_in_logs() {
    let (_dir, cfg) = binary::config_file(&format!("[feeds.news]\n[feeds.other]\n{}", config()));
    let mut p = binary::serve(&cfg, &[("RUST_LOG", "feedgate=debug")]);
    for line in &p.startup {
        assert!(!line.contains("ERROR"), "{line}");
    }
    let r = Client::new(p.addr)
        .get("/feeds/news?access_token=t-reader&limit=1", &[])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    p.term();
    p.wait_exit();
    let rest = p.all_logs();
    assert!(rest.contains("access_token=REDACTED"), "{rest}");
    assert!(!rest.contains("t-reader"), "{rest}");
}
