//! The status page (`GET /`) over HTTP: who may see it, what it is sent
//! as, and that its figures are the ones the consumer report computes.

use crate::support::*;
use feedgate::auth::hash_secret;

fn credentials() -> String {
    format!(
        r#"
[credentials.reader]
token_sha256 = "{}"
roles = {{ news = "read" }}
[credentials.newsadmin]
token_sha256 = "{}"
roles = {{ news = "admin" }}
[credentials.admin]
token_sha256 = "{}"
roles = {{ "*" = "admin" }}
"#,
        hash_secret("t-reader"),
        hash_secret("t-newsadmin"),
        hash_secret("t-admin"),
    )
}

#[tokio::test]
async fn with_credentials_only_an_admin_of_every_feed_sees_it() {
    let app = TestApp::builder().toml(&credentials()).spawn().await;
    let r = app.get("/", &[]).await;
    assert_eq!((r.status, r.problem()), (401, "unauthorized".into()));
    // A browser offers its login for a Basic challenge on a line of its own.
    let challenges = r.header_all("www-authenticate");
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(challenges[0].starts_with("Basic realm="), "{challenges:?}");
    assert!(challenges[1].starts_with("Bearer realm="), "{challenges:?}");
    // Elsewhere both stay on one line (an EventSource must not wait on a login).
    let feed = app.get("/feeds/news", &[]).await;
    assert_eq!(feed.header_all("www-authenticate").len(), 1);
    for token in ["Bearer t-reader", "Bearer t-newsadmin"] {
        let r = app.get("/", &[("Authorization", token)]).await;
        assert_eq!(
            (r.status, r.problem()),
            (403, "forbidden".into()),
            "{token}"
        );
    }
    let r = app.get("/", &[("Authorization", "Bearer t-admin")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let csp = r.header("content-security-policy").expect("a CSP");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(r.text().starts_with("<!DOCTYPE html>"));
    let head = app
        .req("HEAD", "/", &[("Authorization", "Bearer t-admin")], b"")
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // The API description is for everyone.
    assert_eq!(app.get("/openapi.json", &[]).await.status, 200);
}

#[tokio::test]
async fn it_shows_each_consumer_as_far_behind_as_the_report_says() {
    let app = TestApp::builder().spawn().await;
    let mut etag = String::new();
    for i in 0..6 {
        let ack = app.put("news", &format!("i{i}"), "{}").await.json();
        etag = ack["etag"].as_str().unwrap_or_default().to_string();
    }
    let epoch = etag
        .rsplit_once('.')
        .map(|(e, _)| e.to_string())
        .unwrap_or_default();
    // Four consumers poll at once, each from its own position.
    let mut polls = tokio::task::JoinSet::new();
    for (name, pos) in [("a", 1), ("b", 4), ("c", 6), ("d", 1)] {
        let client = Client::new(app.addr);
        let inm = format!("\"{epoch}.{pos}\"");
        polls.spawn(async move {
            let path = format!("/feeds/news?consumer={name}");
            client
                .get(&path, &[("If-None-Match", inm.as_str())])
                .await
                .status
        });
    }
    while let Some(status) = polls.join_next().await {
        assert!(matches!(status, Ok(200 | 304)), "{status:?}");
    }
    let page = app.get("/", &[]).await.text().to_string();
    let report = app.get("/feeds/news/consumers", &[]).await.json();
    for c in report["consumers"].as_array().expect("consumers") {
        let name = c["name"].as_str().unwrap_or_default();
        let lag = c["lag_transactions"].as_u64().unwrap_or(u64::MAX);
        let row = page
            .split(&format!("<tr data-consumer=\"{name}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no row for {name}"));
        let cell = format!("data-field=\"lag-transactions\" class=\"num\">{lag}</td>");
        assert!(
            row.split("</tr>").next().is_some_and(|r| r.contains(&cell)),
            "{name}"
        );
        let marked = row.starts_with(" class=\"furthest\"");
        assert_eq!(marked, lag == 5, "{name}: lag {lag}");
    }
    assert_eq!(report["consumers"].as_array().map(Vec::len), Some(4));
    assert!(page.contains(&format!("<code>{epoch}.6</code>")));
}

#[tokio::test]
async fn websub_subscribers_show_their_delivery_state() {
    use crate::support::subscriber::Subscriber;
    let sub = Subscriber::start().await;
    let toml = format!(
        "[websub]\nallow = [{:?}]\nretry_min = \"20ms\"\nretry_max = \"50ms\"\n",
        sub.origin()
    );
    let app = TestApp::builder().toml(&toml).spawn().await;
    let callback = sub.callback("/cb");
    let body = format!(
        "hub.mode=subscribe&hub.topic={}&hub.callback={}",
        enc(&format!("http://{}/feeds/news", app.addr)),
        enc(&callback)
    );
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    assert_eq!(
        app.req("POST", "/websub", &form, body.as_bytes())
            .await
            .status,
        202
    );
    sub.until("verified", |s| !s.verifications().is_empty())
        .await;
    sub.fail_next(1_000_000);
    app.put("news", "a", "{}").await;
    app.put("news", "b", "{}").await;
    sub.until("failures", |s| s.deliveries().len() >= 3).await;
    let page = app.get("/", &[]).await.text().to_string();
    let row = format!("<tr data-subscriber=\"{callback}\" data-state=\"failing\">");
    let tail = page.split(&row).nth(1).unwrap_or_else(|| panic!("{page}"));
    let tail = tail.split("</tr>").next().unwrap_or_default();
    assert!(
        tail.contains("data-field=\"lag-transactions\" class=\"num\">2</td>"),
        "{tail}"
    );
    assert!(tail.contains("failing ("), "{tail}");
    // Once the callback takes deliveries again, it is up to date.
    sub.fail_next(0);
    sub.until("delivered", |s| s.deliveries().iter().any(|d| d.taken))
        .await;
    let mut shown = String::new();
    for _ in 0..400 {
        shown = app.get("/", &[]).await.text().to_string();
        if shown.contains(&format!(
            "data-subscriber=\"{callback}\" data-state=\"up_to_date\""
        )) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("not up to date: {shown}");
}
