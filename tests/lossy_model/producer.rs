//! The producer side of the model: the server on a manual clock, the writes,
//! and the reference log every response is checked against.

use crate::common::TestApp;
use crate::consumer::Consumer;
use crate::{Step, IDS, START_MS};
use feedgate::app::App;
use feedgate::clock::{Clock, ManualClock};
use feedgate::config::Config;
use proptest::test_runner::TestCaseError;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One transaction of the reference log.
#[derive(Debug, Clone)]
pub struct Ref {
    pub id: String,
    /// `None` for a delete.
    pub title: Option<String>,
    /// The item did not exist before this transaction.
    pub created: bool,
    pub stamp: u64,
}

/// The server, the producer's truth, and the two consumers.
pub struct World {
    pub app: TestApp,
    pub clock: Arc<ManualClock>,
    pub epoch: String,
    pub log: Vec<Ref>,
    pub items: BTreeMap<String, String>,
    pub versions: u64,
    pub consumers: [Consumer; 2],
}

impl World {
    pub async fn start(dir: &tempfile::TempDir) -> World {
        let toml = format!(
            "data_dir = {:?}\n[feeds.news]\ntitle = \"News\"\n",
            dir.path().join("data")
        );
        let config = Config::from_toml(&toml).unwrap();
        let clock = Arc::new(ManualClock::new(START_MS));
        let app = Arc::new(App::build(config, clock.clone()).await.unwrap());
        let epoch = app.store.feed("news").unwrap().epoch().to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(feedgate::server::run(listener, app, std::future::pending()));
        World {
            app: TestApp::client(addr),
            clock,
            epoch,
            log: vec![],
            items: BTreeMap::new(),
            versions: 0,
            consumers: Default::default(),
        }
    }

    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn head(&self) -> u64 {
        self.log.len() as u64
    }

    /// The stamp the next transaction gets (stamps never go backwards).
    pub fn stamp(&self) -> u64 {
        self.now().max(self.log.last().map_or(0, |t| t.stamp))
    }

    pub fn new_title(&mut self) -> String {
        self.versions += 1;
        format!("v{}", self.versions)
    }

    pub async fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Put(i) | Step::Same(i) => {
                let id = IDS[*i];
                let same = matches!(step, Step::Same(_));
                let title = match (same, self.items.get(id)) {
                    (true, Some(t)) => t.clone(),
                    _ => self.new_title(),
                };
                let r = self
                    .app
                    .put("news", id, &format!(r#"{{"title":"{title}"}}"#))
                    .await;
                let v = r.json();
                let held = self.items.get(id) == Some(&title);
                let (status, action) = match (held, self.items.contains_key(id)) {
                    (true, _) => (200, "unchanged"),
                    (false, true) => (200, "update"),
                    (false, false) => (201, "add"),
                };
                ensure!(
                    r.status == status && v["action"] == action,
                    "PUT {id}: {r:?}, expected {status} {action}"
                );
                if !held {
                    let existed = self.items.contains_key(id);
                    self.append(id, Some(title.clone()), existed);
                    ensure!(v["seq"] == self.head(), "PUT seq {v} != {}", self.head());
                    self.items.insert(id.to_string(), title);
                }
            }
            Step::Delete(i) => {
                let id = IDS[*i];
                let r = self.app.delete("news", id).await;
                if self.items.remove(id).is_some() {
                    self.append(id, None, true);
                    ensure!(
                        r.status == 200 && r.json()["seq"] == self.head(),
                        "DELETE {id}: {r:?}"
                    );
                } else {
                    ensure!(r.status == 404, "DELETE of a missing {id}: {r:?}");
                }
            }
            Step::Batch(ops) => {
                let mut items = self.items.clone();
                let mut body = vec![];
                let mut txns = vec![];
                let mut missing = false;
                for &(i, delete) in ops {
                    let id = IDS[i];
                    if delete {
                        missing |= items.remove(id).is_none();
                        body.push(serde_json::json!({"id": id, "deleted": true}));
                        txns.push((id, None, true));
                    } else {
                        let title = self.new_title();
                        let existed = items.insert(id.to_string(), title.clone()).is_some();
                        body.push(serde_json::json!({"id": id, "title": title}));
                        txns.push((id, Some(title), existed));
                    }
                }
                let r = self
                    .app
                    .batch("news", &serde_json::Value::Array(body).to_string())
                    .await;
                if missing {
                    ensure!(r.status == 404, "batch deleting a missing item: {r:?}");
                } else {
                    ensure!(r.status == 200, "batch: {r:?}");
                    for (id, title, existed) in txns {
                        self.append(id, title, existed);
                    }
                    self.items = items;
                    ensure!(r.json()["head"] == self.head(), "batch head: {r:?}");
                }
            }
            Step::Tick(ms) => self.clock.advance(*ms),
            Step::Poll {
                consumer,
                query,
                atom,
                limit,
                loss,
            } => {
                self.poll(*consumer, *query, *atom, *limit, *loss).await?;
            }
        }
        Ok(())
    }

    /// Record a transaction; `existed`: the item was live before it.
    pub fn append(&mut self, id: &str, title: Option<String>, existed: bool) {
        let stamp = self.stamp();
        let created = !existed;
        self.log.push(Ref {
            id: id.to_string(),
            title,
            created,
            stamp,
        });
    }

    /// Last seq stamped in Unix second `sec` or earlier.
    pub fn seconds_end(&self, sec: u64) -> u64 {
        self.log
            .iter()
            .take_while(|t| t.stamp / 1000 <= sec)
            .count() as u64
    }

    /// The end of what a response not selected by an ETag may show.
    pub fn visible(&self) -> u64 {
        self.seconds_end((self.now() / 1000).saturating_sub(1))
    }

    /// PROTOCOL §3: one entry per item, its latest state in (after, last].
    pub fn collapse(&self, after: u64, last: u64) -> Vec<(String, String, u64, Option<String>)> {
        let range = &self.log[after as usize..last as usize];
        let mut order: Vec<(usize, bool)> = vec![];
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, t) in range.iter().enumerate() {
            match index.get(t.id.as_str()) {
                Some(&k) => order[k].0 = i,
                None => {
                    index.insert(&t.id, order.len());
                    // Held before the page unless its first transaction here creates it.
                    order.push((i, !t.created));
                }
            }
        }
        order.sort();
        order
            .into_iter()
            .filter_map(|(i, held)| {
                let t = &range[i];
                let action = match (&t.title, held) {
                    (None, false) => return None,
                    (None, true) => "delete",
                    (Some(_), false) => "add",
                    (Some(_), true) => "update",
                };
                Some((
                    t.id.clone(),
                    action.to_string(),
                    after + i as u64 + 1,
                    t.title.clone(),
                ))
            })
            .collect()
    }
}
