//! An upstream origin that tries to get the configured
//! credentials (query `access_token`, `Authorization`, a custom header) sent
//! to a host nobody configured: through a feedgate page's `next` link, or a
//! redirect. Both fail the sync with a clear error; the other host is never
//! asked; a link or redirect within the origin still works.

use super::*;
use feedgate::model::{Action, Entry, Payload};
use feedgate::render::{render, Document, Format, SyncMode};
use origin::{Origin, Reply};
use upstream_kit::*;

const HEADERS: &str =
    "headers = { Authorization = \"Bearer h3ader-secret\", X-Api-Key = \"k3y-secret\" }";

/// A feedgate Atom page (catch-up, one entry) whose `next` link is `next`.
fn page(next: &str) -> Reply {
    let entries = [Entry {
        seq: 1,
        id: "a".into(),
        action: Action::Add,
        stamp: 1_714_564_800_000,
        payload: Some(Payload {
            title: Some("A".into()),
            ..Payload::default()
        }),
    }];
    let body = render(
        Format::Atom,
        &Document {
            title: "Upstream",
            link: "",
            description: "",
            feed_url: "http://upstream/feeds/news",
            self_url: "http://upstream/feeds/news",
            next_url: Some(next),
            hub_url: None,
            etag: "ep0ch.1",
            last_modified: Some(1_714_564_800_000),
            sync_mode: SyncMode::CatchUp,
            head_tick: 3,
            head_stamp: Some(1_714_564_800_000),
            entries: &entries,
            upstream: None,
        },
    );
    Reply::body(body, "application/atom+xml")
}

/// What a sync left: the feed's head and its upstream's last error.
async fn outcome(app: &TestApp) -> (u64, String) {
    assert_eq!(app.get("/feeds/mirror", &[]).await.status, 200);
    let info = feed_info(app, "mirror").await;
    let error = info["upstream"]["last_error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (info["head"].as_u64().unwrap(), error)
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let home = Origin::start().await;
    let elsewhere = Origin::start().await;
    home.set(
        "/feeds/news",
        page(&elsewhere.url("/feeds/news?etag=ep0ch.1")),
    );
    let url = home.url("/feeds/news?access_token=t0k-secret");
    let app = TestApp::builder()
        .toml(&mirror(&url, "feedgate", HEADERS))
        .spawn()
        .await;
    let (head, error) = outcome(&app).await;
    assert_eq!(
        elsewhere.hits(),
        0,
        "the other host was asked: {:?}",
        elsewhere.seen()
    );
    assert!(error.contains("next link to another origin"), "{error}");
    assert!(error.contains(&elsewhere.addr.to_string()), "{error}");
    assert!(!error.contains("secret"), "{error}");
    assert_eq!(head, 0, "a refused resync applies nothing");
    // The configured origin itself got what was configured.
    let seen = home.last_seen();
    assert!(seen.path.contains("access_token=t0k-secret"), "{seen:?}");
    assert_eq!(seen.header("x-api-key"), Some("k3y-secret"));

    // The same page with its next link on the configured origin is followed.
    home.set("/feeds/news", page(&home.url("/feeds/news2?etag=ep0ch.1")));
    home.set("/feeds/news2", Reply::Status(304));
    let (head, error) = outcome(&app).await;
    assert_eq!((head, error.as_str()), (1, ""), "{:?}", home.seen());
    let seen = home.last_seen();
    assert!(
        seen.path.starts_with("/feeds/news2?etag=ep0ch.1"),
        "{seen:?}"
    );
    assert!(seen.path.contains("access_token=t0k-secret"), "{seen:?}");
    assert_eq!(seen.header("authorization"), Some("Bearer h3ader-secret"));
    assert_eq!(elsewhere.hits(), 0);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused() {
    let home = Origin::start().await;
    let elsewhere = Origin::start().await;
    let items = Reply::json(&serde_json::json!([{"id": "a", "title": "A"}]));
    elsewhere.set("/items.json", items.clone());
    home.set("/moved", Reply::Redirect(elsewhere.url("/items.json?x=1")));
    let app = TestApp::builder()
        .toml(&mirror(&home.url("/moved?k=q-secret"), "json", HEADERS))
        .spawn()
        .await;
    let (head, error) = outcome(&app).await;
    assert_eq!(
        elsewhere.hits(),
        0,
        "the other host was asked: {:?}",
        elsewhere.seen()
    );
    assert!(error.contains("redirect to another origin"), "{error}");
    assert!(error.contains(&elsewhere.addr.to_string()), "{error}");
    assert!(
        !error.contains("secret") && !error.contains("x=1"),
        "{error}"
    );
    assert_eq!(head, 0);

    // A redirect within the origin keeps every configured header.
    home.set("/items.json", items);
    home.set("/moved", Reply::Redirect("/items.json".into()));
    let (head, error) = outcome(&app).await;
    assert_eq!((head, error.as_str()), (1, ""));
    let seen = home.last_seen();
    assert_eq!(seen.path, "/items.json");
    assert_eq!(seen.header("authorization"), Some("Bearer h3ader-secret"));
    assert_eq!(seen.header("x-api-key"), Some("k3y-secret"));
    assert_eq!(seen.header("referer"), None);
}
