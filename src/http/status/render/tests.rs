//! The status page's HTML from hand-made snapshots.

use super::*;
use crate::http::status::{ConsumerRow, FeedRow, Snapshot, SubscriberRow, UpstreamRow};

const NOW: u64 = 1_780_000_000_000;

fn consumer(name: &str, lag: u64) -> ConsumerRow {
    ConsumerRow {
        name: name.into(),
        position: format!("e.{}", 100 - lag),
        lag_transactions: lag,
        lag_ms: lag * 1000,
        polled_ms: NOW - 5000,
    }
}

fn snapshot(consumers: Vec<ConsumerRow>) -> Snapshot {
    Snapshot {
        now_ms: NOW,
        version: "0.1.0",
        backend: "embedded (sled)",
        feeds: vec![FeedRow {
            name: "news".into(),
            title: "News <& more>".into(),
            upstream: false,
            etag: "e.100".into(),
            last_write_ms: Some(NOW - 3000),
            per_minute: 7,
            items: 42,
            consumers,
            consumers_error: None,
        }],
        upstreams: vec![UpstreamRow {
            feed: "mirror".into(),
            url: "http://127.0.0.1:9/feed.json".into(),
            format: "json",
            state: "failing",
            last_sync_ms: Some(NOW - 61_000),
            last_success_ms: None,
            last_error: Some("connect: <refused>".into()),
            consecutive_failures: 3,
            next_sync_ms: NOW + 30_000,
            scheduled: true,
        }],
        subscribers: vec![SubscriberRow {
            feed: "news".into(),
            callback: "http://sub.example/cb?a=1&b=2".into(),
            state: "failing",
            lag_transactions: 4,
            failures: 2,
            last_error: Some("HTTP 500".into()),
            last_delivery_ms: None,
            lease_until_ms: NOW + 86_400_000,
        }],
        content: vec![("news".into(), {
            let mut st = crate::content::mirror::FeedState {
                stored_files: 2,
                stored_bytes: 2048,
                ..Default::default()
            };
            st.failed
                .insert("https://m/x.mp3".into(), "the origin answered 404".into());
            st
        })],
    }
}

#[test]
fn values_are_escaped() {
    let html = page(&snapshot(vec![consumer("a\"<b>", 1)]));
    assert!(html.contains("News &lt;&amp; more&gt;"));
    assert!(html.contains("data-consumer=\"a&quot;&lt;b&gt;\""));
    assert!(html.contains("connect: &lt;refused&gt;"));
    assert!(html.contains("http://sub.example/cb?a=1&amp;b=2"));
    assert!(!html.contains("<b>"));
}

#[test]
fn the_consumer_furthest_behind_is_marked_once() {
    let html = page(&snapshot(vec![
        consumer("far", 60),
        consumer("near", 2),
        consumer("zero", 0),
    ]));
    assert_eq!(html.matches("class=\"furthest\"").count(), 1);
    let far = html
        .find("data-consumer=\"far\" class=\"furthest\"")
        .expect("far marked");
    let near = html.find("data-consumer=\"near\"").expect("near shown");
    assert!(far < near, "furthest behind first");
    assert!(html.contains("<meter min=\"0\" max=\"60\" value=\"60\""));
    assert!(html.contains("value=\"2\""));
}

#[test]
fn consumers_equally_far_behind_are_all_marked() {
    let html = page(&snapshot(vec![
        consumer("a", 9),
        consumer("b", 9),
        consumer("c", 1),
    ]));
    assert_eq!(html.matches("class=\"furthest\"").count(), 2);
    assert!(!html.contains("data-consumer=\"c\" class"));
}

#[test]
fn no_consumer_is_marked_when_all_are_at_the_head() {
    let html = page(&snapshot(vec![consumer("a", 0), consumer("b", 0)]));
    assert!(!html.contains("class=\"furthest\""));
    let html = page(&snapshot(Vec::new()));
    assert!(html.contains("No consumer has named itself yet."));
}

#[test]
fn feed_upstream_and_subscriber_rows_say_their_state() {
    let html = page(&snapshot(vec![consumer("a", 3)]));
    assert!(html.contains("data-field=\"per-minute\" class=\"num\">7</td>"));
    assert!(html.contains("data-field=\"items\" class=\"num\">42</td>"));
    assert!(html.contains("<code>e.100</code>"));
    assert!(html.contains("3 s ago"));
    assert!(html.contains("data-upstream=\"mirror\" data-state=\"failing\""));
    assert!(html.contains("failing (3 in a row)"));
    assert!(html.contains("in 30 s"));
    assert!(html.contains("1 min 1 s ago"));
    assert!(html.contains("data-state=\"failing\"><th scope=\"row\"><code>http://sub.example"));
    assert!(html.contains("failing (2 attempts)"));
    assert!(html.contains("data-content=\"news\" data-state=\"failing\""));
    assert!(html.contains("<code>https://m/x.mp3</code>: the origin answered 404"));
}

#[test]
fn the_policy_allows_exactly_the_inline_style_and_script() {
    let csp = content_security_policy();
    let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s));
    assert!(csp.starts_with("default-src 'none';"));
    assert!(csp.contains(&format!("style-src 'sha256-{}'", hash(STYLE))));
    assert!(csp.contains(&format!("script-src 'sha256-{}'", hash(SCRIPT))));
    let html = page(&snapshot(Vec::new()));
    assert!(html.contains(&format!("<style>{STYLE}</style>")));
    assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
}

#[test]
fn durations_read_as_people_say_them() {
    assert_eq!(duration(850), "850 ms");
    assert_eq!(duration(42_000), "42 s");
    assert_eq!(duration(185_000), "3 min 5 s");
    assert_eq!(duration(7_800_000), "2 h 10 min");
    assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000), "3 d 4 h");
}
