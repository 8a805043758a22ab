//! Helpers for upstream tests: the config of an upstream feed `mirror`, its
//! sync status from `GET /feeds`, and a consumer that polls with ETags and
//! keeps what it has seen (to check it never sees a transaction twice and ends
//! with the origin's state).

use crate::support::{FeedEntry, TestApp};
use std::collections::BTreeMap;

/// TOML for [`TestApp::builder`]: a feed `mirror` with `upstream` = `url`, `keys`,
/// and unless `keys` say otherwise `refresh = "0s"` (sync on every read) and
/// `wait = "5s"`.
pub fn mirror(url: &str, format: &str, keys: &str) -> String {
    let mut toml = format!(
        "[feeds.mirror]\ntitle = \"Mirror\"\n[feeds.mirror.upstream]\nurl = \"{url}\"\nformat = \"{format}\"\n{keys}\n"
    );
    for (key, default) in [("refresh", "0s"), ("wait", "5s")] {
        if !keys.contains(&format!("{key} =")) {
            toml.push_str(&format!("{key} = \"{default}\"\n"));
        }
    }
    toml
}

/// The feed's entry in `GET /feeds` (no sync is triggered by it).
pub async fn feed_info(app: &TestApp, feed: &str) -> serde_json::Value {
    let v = app.get("/feeds", &[]).await.json();
    v["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == feed)
        .cloned()
        .unwrap_or_else(|| panic!("no feed {feed}"))
}

/// The `upstream` status of `feed`.
pub async fn status(app: &TestApp, feed: &str) -> serde_json::Value {
    feed_info(app, feed).await["upstream"].clone()
}

/// (id, action, tick) of entries.
pub fn triples(entries: &[FeedEntry]) -> Vec<(String, String, u64)> {
    entries
        .iter()
        .map(|e| (e.id.clone(), e.action.clone(), e.tick))
        .collect()
}

pub fn t(id: &str, action: &str, tick: u64) -> (String, String, u64) {
    (id.to_string(), action.to_string(), tick)
}

/// A consumer of one feed that stores each response's position.
pub struct Consumer {
    pub feed: String,
    pub etag: Option<String>,
    /// Every entry received, in order.
    pub seen: Vec<FeedEntry>,
    /// The item state the entries add up to: id → title.
    pub state: BTreeMap<String, Option<String>>,
}

impl Consumer {
    pub fn new(feed: &str) -> Consumer {
        Consumer {
            feed: feed.to_string(),
            etag: None,
            seen: Vec::new(),
            state: BTreeMap::new(),
        }
    }

    /// One GET with the stored position: `Some(entries)` for a 200, `None` for a 304.
    pub async fn once(&mut self, app: &TestApp) -> Option<Vec<FeedEntry>> {
        let inm = self.etag.as_ref().map(|e| format!("\"{e}\""));
        let headers: Vec<(&str, &str)> =
            inm.iter().map(|v| ("If-None-Match", v.as_str())).collect();
        let r = app
            .get(&format!("/feeds/{}.atom?limit=1000", self.feed), &headers)
            .await;
        if r.status == 304 {
            assert_eq!(r.etag(), inm.unwrap(), "a 304 carries the position sent");
            return None;
        }
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let f = r.feed();
        for e in &f.entries {
            match e.action.as_str() {
                "delete" => {
                    assert!(
                        self.state.remove(&e.id).is_some(),
                        "delete of unknown {}",
                        e.id
                    );
                }
                "add" => {
                    assert!(
                        self.state.insert(e.id.clone(), e.title.clone()).is_none(),
                        "add of held {}",
                        e.id
                    );
                }
                _ => {
                    assert!(
                        self.state.insert(e.id.clone(), e.title.clone()).is_some(),
                        "update of unknown {}",
                        e.id
                    );
                }
            }
        }
        if let Some(last) = self.seen.last() {
            if let Some(first) = f.entries.first() {
                assert!(
                    first.tick > last.tick,
                    "transaction {} received twice",
                    first.tick
                );
            }
        }
        self.seen.extend(f.entries.iter().cloned());
        self.etag = Some(f.etag.clone());
        Some(f.entries)
    }

    /// Poll until a 304; everything received on the way.
    pub async fn poll(&mut self, app: &TestApp) -> Vec<FeedEntry> {
        let mut got = Vec::new();
        for _ in 0..50 {
            match self.once(app).await {
                Some(entries) => got.extend(entries),
                None => return got,
            }
        }
        panic!("no 304 after 50 polls");
    }

    /// id → title as the consumer holds it, for comparison with an origin.
    pub fn titles(&self) -> Vec<(String, String)> {
        self.state
            .iter()
            .map(|(id, t)| (id.clone(), t.clone().unwrap_or_default()))
            .collect()
    }
}
