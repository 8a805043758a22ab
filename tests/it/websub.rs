//! The WebSub hub (PROTOCOL §9): subscription with verification of intent,
//! deliveries of the delta after the stored position (in order, at least
//! once, retried with backoff, signed), nothing lost across a restart or
//! a subscriber's outage, leases, unsubscription, the allow list, and the
//! discovery links in documents.

use crate::support::subscriber::{Delivery, Subscriber};
use crate::support::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn toml(sub: &Subscriber) -> String {
    format!(
        "[websub]\nallow = [{:?}]\nretry_min = \"20ms\"\nretry_max = \"200ms\"\n",
        sub.origin()
    )
}

async fn subscribe(app: &TestApp, topic: &str, callback: &str, extra: &str) -> Resp {
    let body = format!(
        "hub.mode=subscribe&hub.topic={}&hub.callback={}{extra}",
        enc(topic),
        enc(callback)
    );
    app.req(
        "POST",
        "/websub",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .await
}

/// The ids of the entries of every delivery the subscriber took, in order.
fn taken_ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .filter(|d| d.taken)
        .flat_map(|d| Feed::parse(&d.body).entries.into_iter().map(|e| e.id))
        .collect()
}

/// A subscriber, and a gateway where it subscribed to `/feeds/news{suffix}` at `/cb`.
async fn subscribed_at(suffix: &str) -> (Subscriber, TestApp) {
    let sub = Subscriber::start().await;
    let app = TestApp::builder().toml(&toml(&sub)).spawn().await;
    let topic = format!("http://{}/feeds/news{suffix}", app.addr);
    let res = subscribe(&app, &topic, &sub.callback("/cb"), "").await;
    assert_eq!(res.status, 202);
    subscribed(&app, 1).await;
    (sub, app)
}

async fn subscribed(app: &TestApp, n: usize) -> serde_json::Value {
    for _ in 0..2000 {
        let r = app.get("/feeds/news/consumers", &[]).await.json();
        if r["subscribers"].as_array().map_or(0, Vec::len) == n {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("{n} subscribers expected");
}

#[tokio::test]
async fn a_verified_subscriber_gets_every_write_in_order_signed() {
    let sub = Subscriber::start().await;
    let app = TestApp::builder().toml(&toml(&sub)).spawn().await;
    app.put("news", "before", r#"{"title":"old"}"#).await;
    let topic = format!("http://{}/feeds/news", app.addr);
    let res = subscribe(
        &app,
        &topic,
        &sub.callback("/cb?x=1"),
        "&hub.secret=s3cret&hub.lease_seconds=3600",
    )
    .await;
    assert_eq!(res.status, 202);
    sub.until("verification", |s| s.verifications().len() == 1)
        .await;
    let v = &sub.verifications()[0];
    assert_eq!(v["hub.mode"], "subscribe");
    assert_eq!(v["hub.topic"], topic);
    assert_eq!(v["hub.lease_seconds"], "3600");
    assert_eq!(v["x"], "1", "the callback's own query is kept");
    let report = subscribed(&app, 1).await;
    assert_eq!(
        report["subscribers"][0]["callback"],
        sub.callback("/cb?x=1")
    );
    for i in 0..5 {
        app.put("news", &format!("i{i}"), r#"{"title":"t"}"#).await;
    }
    sub.until("five entries", |s| taken_ids(&s.deliveries()).len() >= 5)
        .await;
    // What was there before the subscription is not sent; then each once, in order.
    assert_eq!(taken_ids(&sub.deliveries()), ["i0", "i1", "i2", "i3", "i4"]);
    for d in sub.deliveries() {
        assert_eq!(
            d.headers["content-type"],
            "application/rss+xml; charset=utf-8"
        );
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"s3cret").unwrap();
        mac.update(&d.body);
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(d.headers["x-hub-signature"], want);
        let link = &d.headers["link"];
        assert!(
            link.contains(&format!("<http://{}/websub>; rel=\"hub\"", app.addr)),
            "{link}"
        );
        assert!(link.contains(&format!("<{topic}>; rel=\"self\"")), "{link}");
    }
    let m = app.get("/metrics", &[]).await;
    assert!(m
        .text()
        .contains("feedgate_websub_deliveries_total{feed=\"news\",outcome=\"delivered\"}"));
}

#[tokio::test]
async fn a_callback_that_fails_five_times_then_recovers_gets_everything_once_in_order() {
    let (sub, app) = subscribed_at(".atom").await;
    sub.fail_next(5);
    for i in 0..4 {
        app.put("news", &format!("i{i}"), r#"{"title":"t"}"#).await;
    }
    sub.until("five failures", |s| {
        s.deliveries().iter().filter(|d| !d.taken).count() >= 5
    })
    .await;
    for i in 4..8 {
        app.put("news", &format!("i{i}"), r#"{"title":"t"}"#).await;
    }
    sub.until("all eight", |s| taken_ids(&s.deliveries()).len() >= 8)
        .await;
    let want: Vec<String> = (0..8).map(|i| format!("i{i}")).collect();
    assert_eq!(taken_ids(&sub.deliveries()), want);
    // An Atom topic gets Atom documents.
    assert!(sub.deliveries()[0].headers["content-type"].starts_with("application/atom+xml"));
    let m = app.get("/metrics", &[]).await;
    assert!(
        m.text()
            .contains("feedgate_websub_deliveries_total{feed=\"news\",outcome=\"failed\"} 5"),
        "{}",
        m.text()
    );
}

#[tokio::test]
async fn a_restart_during_a_subscribers_outage_loses_nothing() {
    let (sub, app) = subscribed_at("").await;
    app.put("news", "a", r#"{"title":"t"}"#).await;
    sub.until("a", |s| taken_ids(&s.deliveries()) == ["a"])
        .await;
    sub.fail_next(usize::MAX);
    app.put("news", "b", r#"{"title":"t"}"#).await;
    app.put("news", "c", r#"{"title":"t"}"#).await;
    sub.until("a failed delivery", |s| {
        s.deliveries().iter().any(|d| !d.taken)
    })
    .await;
    let dir = app.stop().await;
    let app = TestApp::builder().toml(&toml(&sub)).dir(dir).spawn().await;
    app.put("news", "d", r#"{"title":"t"}"#).await;
    sub.fail_next(0);
    sub.until("b, c, d", |s| taken_ids(&s.deliveries()).len() >= 4)
        .await;
    assert_eq!(taken_ids(&sub.deliveries()), ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn a_callback_outside_the_allow_list_is_refused_and_never_contacted() {
    let allowed = Subscriber::start().await;
    let other = Subscriber::start().await;
    let app = TestApp::builder().toml(&toml(&allowed)).spawn().await;
    let topic = format!("http://{}/feeds/news", app.addr);
    let res = subscribe(&app, &topic, &other.callback("/cb"), "").await;
    assert_eq!(res.status, 403);
    assert_eq!(res.problem(), "callback_not_allowed");
    // Bad requests are refused as such, and change nothing.
    for (topic, callback, code) in [
        ("http://x/feeds/nope", allowed.callback("/cb"), 404),
        ("http://x/not-a-feed", allowed.callback("/cb"), 400),
    ] {
        assert_eq!(
            subscribe(&app, topic, &callback, "").await.status,
            code,
            "{topic}"
        );
    }
    let long = "s".repeat(200);
    assert_eq!(
        subscribe(
            &app,
            &topic,
            &allowed.callback("/cb"),
            &format!("&hub.secret={long}")
        )
        .await
        .status,
        400
    );
    let res = app
        .req(
            "POST",
            "/websub",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"hub.mode=publish",
        )
        .await;
    assert_eq!(res.status, 400);
    app.put("news", "a", r#"{"title":"t"}"#).await;
    assert_eq!(other.requests(), 0);
    assert_eq!(allowed.requests(), 0);
    assert_eq!(
        subscribed(&app, 0).await["subscribers"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn a_subscription_the_callback_does_not_confirm_is_not_made() {
    let sub = Subscriber::start().await;
    sub.refuse(true);
    let app = TestApp::builder().toml(&toml(&sub)).spawn().await;
    let topic = format!("http://{}/feeds/news", app.addr);
    assert_eq!(
        subscribe(&app, &topic, &sub.callback("/cb"), "")
            .await
            .status,
        202
    );
    sub.until("verification", |s| s.verifications().len() == 1)
        .await;
    app.put("news", "a", r#"{"title":"t"}"#).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(sub.deliveries().is_empty());
    assert_eq!(
        subscribed(&app, 0).await["subscribers"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn unsubscribe_leases_and_gone_end_deliveries() {
    let sub = Subscriber::start().await;
    let app = TestApp::builder().toml(&toml(&sub)).spawn().await;
    let topic = format!("http://{}/feeds/news", app.addr);
    subscribe(&app, &topic, &sub.callback("/a"), "").await;
    subscribed(&app, 1).await;
    let body = format!(
        "hub.mode=unsubscribe&hub.topic={}&hub.callback={}",
        enc(&topic),
        enc(&sub.callback("/a"))
    );
    let res = app
        .req(
            "POST",
            "/websub",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(res.status, 202);
    subscribed(&app, 0).await;
    assert_eq!(
        sub.verifications().last().unwrap()["hub.mode"],
        "unsubscribe"
    );
    // A one-second lease ends by itself.
    subscribe(&app, &topic, &sub.callback("/b"), "&hub.lease_seconds=1").await;
    subscribed(&app, 1).await;
    subscribed(&app, 0).await;
    // A subscriber that answers 410 Gone is dropped.
    subscribe(&app, &topic, &sub.callback("/c"), "").await;
    subscribed(&app, 1).await;
    sub.gone(true);
    app.put("news", "a", r#"{"title":"t"}"#).await;
    subscribed(&app, 0).await;
    let after = sub.deliveries().len();
    app.put("news", "b", r#"{"title":"t"}"#).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(sub.deliveries().len(), after);
}

#[tokio::test]
async fn documents_name_the_hub_and_themselves() {
    let sub = Subscriber::start().await;
    let app = TestApp::builder().toml(&toml(&sub)).spawn().await;
    app.put("news", "a", r#"{"title":"t"}"#).await;
    let res = app.get("/feeds/news.atom?limit=5", &[]).await;
    let hub = format!("http://{}/websub", app.addr);
    let links = res.header("link").unwrap_or("").to_string();
    assert!(links.contains(&format!("<{hub}>; rel=\"hub\"")), "{links}");
    assert!(links.contains("rel=\"self\""), "{links}");
    assert!(res.text().contains(&format!("href=\"{hub}\"")));
    assert!(res.text().contains("rel=\"hub\""));
    // Without [websub], no hub: no links, and the path is not found.
    let plain = TestApp::builder().spawn().await;
    let res = plain.get("/feeds/news", &[]).await;
    assert!(!res.text().contains("rel=\"hub\""));
    let res = plain
        .req(
            "POST",
            "/websub",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"",
        )
        .await;
    assert_eq!(res.status, 404);
}

#[tokio::test]
async fn on_postgres_one_process_delivers_and_another_takes_over() {
    let Some(pg) = crate::migrate::pg::server() else {
        return;
    };
    let sub = Subscriber::start().await;
    let url = pg.database().await;
    let config = format!("store = {url:?}\n{}", toml(&sub));
    let a = TestApp::builder().toml(&config).spawn().await;
    let b = TestApp::builder().toml(&config).spawn().await;
    // Subscribed through b; a, started first, holds the hub's turn.
    let topic = format!("http://{}/feeds/news", b.addr);
    assert_eq!(
        subscribe(&b, &topic, &sub.callback("/cb"), "").await.status,
        202
    );
    sub.until("verification", |s| s.verifications().len() == 1)
        .await;
    for i in 0..3 {
        b.put("news", &format!("i{i}"), r#"{"title":"t"}"#).await;
    }
    sub.until("three", |s| taken_ids(&s.deliveries()).len() >= 3)
        .await;
    a.stop().await;
    for i in 3..6 {
        b.put("news", &format!("i{i}"), r#"{"title":"t"}"#).await;
    }
    sub.until("six", |s| taken_ids(&s.deliveries()).len() >= 6)
        .await;
    let want: Vec<String> = (0..6).map(|i| format!("i{i}")).collect();
    assert_eq!(taken_ids(&sub.deliveries()), want);
}
