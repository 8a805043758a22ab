//! Retention and compaction over HTTP: the background task removes
//! superseded states and old tombstones, and a consumer left behind gets a
//! catch-up (`syncMode` catchUp), never a silent gap, and converges exactly.

use crate::support::*;
use std::collections::BTreeMap;
use std::time::Duration;

const RETENTION: &str =
    "[feeds.news.retention]\ncompact_after = \"0s\"\ntombstones = \"0s\"\ninterval = \"100ms\"\n";

/// Poll from `etag` to the head, following next links; a catch-up replaces the state.
async fn follow(app: &TestApp, etag: &str, items: &mut BTreeMap<String, String>) -> (String, bool) {
    let mut etag = etag.to_string();
    let mut caught_up = false;
    loop {
        let r = app
            .get(&format!("/feeds/news.atom?etag={etag}&limit=2"), &[])
            .await;
        if r.status == 304 {
            return (etag, caught_up);
        }
        let f = r.feed();
        if f.sync_mode == "catchUp" {
            caught_up = true;
            items.clear();
        }
        for e in &f.entries {
            let held = items.contains_key(&e.id);
            match e.action.as_str() {
                "add" => assert!(!held, "add of held {}", e.id),
                _ => assert!(held, "{} of unheld {}", e.action, e.id),
            }
            if e.action == "delete" {
                items.remove(&e.id);
            } else {
                items.insert(e.id.clone(), e.title.clone().unwrap_or_default());
            }
        }
        etag = f.etag;
    }
}

#[tokio::test]
async fn consumers_left_behind_by_compaction_converge() {
    let app = TestApp::builder().toml(RETENTION).spawn().await;
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    for id in ["a", "b", "c", "d"] {
        app.put("news", id, &format!(r#"{{"title":"{id}0"}}"#))
            .await;
    }
    // Consumers at every position so far.
    let mut consumers: Vec<(String, BTreeMap<String, String>)> = vec![];
    let mut items = BTreeMap::new();
    let (e, _) = follow(&app, &format!("{epoch}.0"), &mut items).await;
    consumers.push((format!("{epoch}.0"), BTreeMap::new()));
    consumers.push((e, items.clone()));
    // Many changes: updates supersede, a delete becomes a tombstone.
    for round in 1..=5 {
        for id in ["a", "b", "c"] {
            app.put("news", id, &format!(r#"{{"title":"{id}{round}"}}"#))
                .await;
        }
    }
    app.delete("news", "d").await;
    app.put("news", "e", r#"{"title":"e0"}"#).await;
    app.put("news", "a", r#"{"title":"a-final"}"#).await;
    let head = app.head("news").await;
    // Wait until the background compaction has dropped d's tombstone (once
    // it is out of the current second): the consumer holding d is sent to a catch-up.
    let holder = consumers[1].0.clone();
    let mut dropped = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if app
            .get(&format!("/feeds/news?etag={holder}"), &[])
            .await
            .feed()
            .sync_mode
            == "catchUp"
        {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "compaction did not drop the tombstone");
    // Superseded states are gone: a raw read from 0 shows far fewer transactions than the head.
    let raw = app
        .get(&format!("/feeds/news?etag={epoch}.0&limit=1000"), &[])
        .await
        .feed();
    assert_eq!(raw.etag, format!("{epoch}.{head}"));
    let expected: BTreeMap<String, String> =
        [("a", "a-final"), ("b", "b5"), ("c", "c5"), ("e", "e0")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
    // The head did not move, and every consumer converges; the one that held
    // `d` (older than its dropped tombstone) gets a catch-up.
    assert_eq!(app.head("news").await, head);
    for (etag, mut items) in consumers {
        let (end, caught_up) = follow(&app, &etag, &mut items).await;
        assert_eq!(items, expected, "from {etag}");
        assert_eq!(end, format!("{epoch}.{head}"));
        // From 0 a read is a catch-up anyway; the holder of d is sent to one.
        assert!(caught_up, "from {etag}");
    }
    // A consumer after the dropped tombstone gets a plain delta.
    let r = app
        .get(&format!("/feeds/news?etag={epoch}.{}", head - 1), &[])
        .await
        .feed();
    assert_eq!(
        (r.sync_mode.as_str(), r.ids()),
        ("immediate", vec![("a", "update")])
    );
    app.stop().await;
}
