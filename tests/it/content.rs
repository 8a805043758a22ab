//! `GET|HEAD /content/{sha256}` over HTTP: a stored file with its hash as
//! ETag, byte ranges (single, suffix, open-ended, unsatisfiable, If-Range),
//! immutable caching, and access as for the feeds that reference it.

use crate::support::*;
use feedgate::auth::hash_secret;

const MIRROR: &str = r#"
base_url = "https://feeds.example.org"
[feeds.news.content]
mirror = true
allow = ["https://media.example.org"]
"#;

/// A gateway whose content store holds `bytes`, referenced by an item of
/// `news` (a file no item points at is collected); its hash.
async fn with_file(toml: &str, bytes: &[u8]) -> (TestApp, String) {
    use sha2::{Digest, Sha256};
    let app = TestApp::builder().toml(toml).spawn().await;
    let sha = hex::encode(Sha256::digest(bytes));
    let item = serde_json::json!({"title": "ep1", "enclosures": [{
        "url": format!("https://feeds.example.org/content/{sha}"), "length": bytes.len(), "type": "audio/mpeg"}]});
    let put = app
        .req(
            "PUT",
            "/feeds/news/items/ep1",
            &[
                ("Content-Type", "application/json"),
                ("Authorization", "Bearer t-admin"),
            ],
            item.to_string().as_bytes(),
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.text());
    let store = app.app().content().expect("a content store").clone();
    let url = "https://media.example.org/ep1.mp3";
    std::fs::write(store.partial_path(url), bytes).unwrap();
    let object = store
        .commit(url, Some(bytes.len() as u64), "audio/mpeg", "news")
        .unwrap();
    assert_eq!(object.sha256, sha);
    (app, sha)
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn a_stored_file_is_served_whole_and_by_ranges() {
    let bytes = body(300_000);
    let (app, sha) = with_file(MIRROR, &bytes).await;
    let path = format!("/content/{sha}");
    let r = app.get(&path, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes);
    assert_eq!(r.header("etag"), Some(format!("\"{sha}\"").as_str()));
    assert_eq!(r.header("content-type"), Some("audio/mpeg"));
    assert_eq!(r.header("content-length"), Some("300000"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));

    let part = app.get(&path, &[("Range", "bytes=1000-1999")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 1000-1999/300000"));
    assert_eq!(part.body, bytes[1000..2000]);
    let tail = app.get(&path, &[("Range", "bytes=299990-")]).await;
    assert_eq!(
        (tail.status, tail.body.as_slice()),
        (206, &bytes[299_990..])
    );
    let suffix = app.get(&path, &[("Range", "bytes=-10")]).await;
    assert_eq!(
        (suffix.status, suffix.body.as_slice()),
        (206, &bytes[299_990..])
    );
    let beyond = app.get(&path, &[("Range", "bytes=300000-")]).await;
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */300000"));
    // A range of another version: the whole file.
    let other = app
        .get(&path, &[("Range", "bytes=0-9"), ("If-Range", "\"other\"")])
        .await;
    assert_eq!((other.status, other.body.len()), (200, 300_000));
    let same = format!("\"{sha}\"");
    let resumed = app
        .get(
            &path,
            &[("Range", "bytes=0-9"), ("If-Range", same.as_str())],
        )
        .await;
    assert_eq!(
        (resumed.status, resumed.body.as_slice()),
        (206, &bytes[..10])
    );
    // Revalidation, HEAD.
    let again = app.get(&path, &[("If-None-Match", same.as_str())]).await;
    assert_eq!((again.status, again.body.len()), (304, 0));
    let head = app.req("HEAD", &path, &[], b"").await;
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("300000"))
    );
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn many_clients_download_at_once() {
    let bytes = body(1 << 20);
    let (app, sha) = with_file(MIRROR, &bytes).await;
    let mut downloads = tokio::task::JoinSet::new();
    for i in 0..8u64 {
        let client = Client::new(app.addr);
        let path = format!("/content/{sha}");
        downloads.spawn(async move {
            let from = i * 100_000;
            let range = format!("bytes={from}-");
            (from, client.get(&path, &[("Range", range.as_str())]).await)
        });
    }
    while let Some(done) = downloads.join_next().await {
        let (from, r) = done.unwrap();
        assert_eq!(r.status, 206);
        assert_eq!(r.body, bytes[from as usize..]);
    }
}

#[tokio::test]
async fn unknown_or_malformed_hashes_are_404() {
    let (app, sha) = with_file(MIRROR, b"hello").await;
    for path in [
        format!("/content/{}", "0".repeat(64)),
        format!("/content/{}", sha.to_uppercase()),
        "/content/../../etc/passwd".to_string(),
        "/content/abc".to_string(),
    ] {
        let r = app.get(&path, &[]).await;
        assert_eq!((r.status, r.problem()), (404, "not_found".into()), "{path}");
    }
    // Without mirroring there is no content store: 404 too.
    let plain = TestApp::builder().spawn().await;
    assert_eq!(plain.get(&format!("/content/{sha}"), &[]).await.status, 404);
    let put = app.req("PUT", &format!("/content/{sha}"), &[], b"x").await;
    assert_eq!(put.status, 405);
}

#[tokio::test]
async fn reading_a_file_needs_read_on_a_feed_that_references_it() {
    let toml = format!(
        "{MIRROR}\n[credentials.reader]\ntoken_sha256 = \"{}\"\nroles = {{ news = \"read\" }}\n\
         [credentials.other]\ntoken_sha256 = \"{}\"\nroles = {{ other = \"read\" }}\n\
         [credentials.admin]\ntoken_sha256 = \"{}\"\nroles = {{ \"*\" = \"admin\" }}\n",
        hash_secret("t-reader"),
        hash_secret("t-other"),
        hash_secret("t-admin"),
    );
    let (app, sha) = with_file(&toml, b"hello").await;
    let path = format!("/content/{sha}");
    assert_eq!(app.get(&path, &[]).await.status, 401);
    assert_eq!(
        app.get(&path, &[("Authorization", "Bearer t-other")])
            .await
            .status,
        403
    );
    let ok = app
        .get(&path, &[("Authorization", "Bearer t-reader")])
        .await;
    assert_eq!((ok.status, ok.body.as_slice()), (200, b"hello".as_slice()));
    let query = app.get(&format!("{path}?access_token=t-reader"), &[]).await;
    assert_eq!(query.status, 200);
}

#[test]
fn mirroring_needs_a_base_url_and_origins() {
    use feedgate::config::Config;
    let bad = |toml: &str| Config::from_toml(toml).map(|c| c.validate().is_err()) != Ok(false);
    let feed = "[feeds.news]\n[feeds.news.content]\nmirror = true\n";
    assert!(
        bad(&format!("{feed}allow = [\"https://m.example\"]\n")),
        "no base_url"
    );
    assert!(
        bad(&format!("base_url = \"https://f.example\"\n{feed}")),
        "no origins"
    );
    assert!(!bad(&format!(
        "base_url = \"https://f.example\"\n{feed}allow = [\"https://m.example\"]\n"
    )));
}
