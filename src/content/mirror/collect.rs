//! Collection: the files no item points at any more go, and each file
//! records which feeds point at it (what reading it needs).

use super::Mirror;
use crate::app::App;
use crate::store::StoreError;
use std::collections::{BTreeMap, BTreeSet};

impl Mirror {
    /// Remove the files no item of any feed points at any more (after
    /// deletes, updates and compaction), and record which feeds point at
    /// the rest. Returns the files and bytes removed.
    pub async fn collect(&self, app: &App) -> Result<(usize, u64), StoreError> {
        let _exclusive = self.gc.write().await;
        let mut referenced: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for feed in app.feeds() {
            for (_, item) in feed.log().items().await? {
                for e in &item.payload.enclosures {
                    if let Some(sha) = e.url.strip_prefix(&self.prefix) {
                        let feeds = referenced.entry(sha.to_string()).or_default();
                        feeds.insert(feed.name().to_string());
                    }
                }
            }
        }
        let (mut files, mut bytes) = (0, 0);
        let mut per_feed: BTreeMap<&str, (u64, u64)> =
            self.feeds.keys().map(|f| (f.as_str(), (0, 0))).collect();
        for sha in self.store.list() {
            let Some(object) = self.store.get(&sha) else {
                continue;
            };
            let result = match referenced.remove(&sha) {
                None => {
                    files += 1;
                    bytes += object.meta.length;
                    self.store.remove(&sha)
                }
                Some(feeds) => {
                    for f in &feeds {
                        if let Some((n, b)) = per_feed.get_mut(f.as_str()) {
                            *n += 1;
                            *b += object.meta.length;
                        }
                    }
                    let feeds: Vec<String> = feeds.into_iter().collect();
                    if feeds == object.meta.feeds {
                        continue;
                    }
                    self.store.set_feeds(&sha, feeds)
                }
            };
            if let Err(e) = result {
                tracing::warn!(sha256 = %sha, error = %e, "content collection cannot update a file");
            }
        }
        for (feed, (n, b)) in per_feed {
            app.metrics().content.stored(feed, n, b);
        }
        if files > 0 {
            tracing::info!(files, bytes, "content no item references any more removed");
        }
        Ok((files, bytes))
    }
}
