//! The producer side of the model: the server on a manual clock, the writes
//! (what each must answer, from the producer's own state), and the
//! reference log every response is checked against.

use super::consumer::Consumer;
use super::gen::{Step, Write};
use super::{IDS, START_MS};
use crate::support::{enc, Resp, TestApp};
use feedgate::clock::{Clock, ManualClock};
use feedgate::store::LogRef;
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

/// A write, ready to send, with what it must do.
#[derive(Debug)]
pub struct Planned {
    pub method: &'static str,
    pub path: String,
    pub body: String,
    pub status: u16,
    /// The `action` of a PUT or DELETE answer.
    pub action: Option<&'static str>,
    /// The transactions it appends, in order: (id, title or delete, existed before).
    pub txns: Vec<(String, Option<String>, bool)>,
    /// The producer's items once it is done (the touched ones).
    pub items: Vec<(String, Option<String>)>,
}

/// The server, the producer's truth, and the consumers.
pub struct World {
    pub app: TestApp,
    /// The feed's log in the server's store, read only to see what is being
    /// written (never to decide what a response should be).
    pub store: LogRef,
    pub clock: Arc<ManualClock>,
    pub epoch: String,
    /// The hard cap on a date-selected page's second (`max_second_entries`).
    pub cap: usize,
    pub log: Vec<Ref>,
    pub items: BTreeMap<String, String>,
    pub versions: u64,
    pub consumers: [Consumer; 3],
}

impl World {
    pub async fn start(cap: usize) -> World {
        let clock = Arc::new(ManualClock::new(START_MS));
        let app = TestApp::builder()
            .toml(&format!("max_second_entries = {cap}"))
            .feeds("[feeds.news]\ntitle = \"News\"\n")
            .clock(clock.clone())
            .spawn()
            .await;
        let store = app.app().store().feed("news").unwrap();
        World {
            app,
            epoch: store.epoch().to_string(),
            store,
            clock,
            cap,
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

    pub async fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Write(w) => {
                let plan = self.plan(w);
                let r = self.send(&plan).await;
                let seqs = check_write(&plan, &r)?;
                let want: Vec<u64> = (self.head() + 1..).take(seqs.len()).collect();
                ensure!(seqs == want, "{plan:?}: seqs {seqs:?}, expected {want:?}");
                if let (Some(last), Some(head)) = (seqs.last(), r.json()["head"].as_u64()) {
                    ensure!(head == *last, "batch head: {r:?}");
                }
                let stamp = self.stamp();
                self.commit(plan, seqs.into_iter().map(|s| (s, stamp)).collect());
            }
            Step::Tick(ms) => self.clock.advance(*ms),
            Step::Poll(p) => {
                let req = self.request(p);
                let (t, h) = (self.now(), self.head());
                let r = self.app.get(&req.url, &req.header_pairs()).await;
                self.settle(&req, r, (t, t), (h, h))?;
            }
            Step::Together {
                writes,
                polls,
                tick,
            } => self.together(writes, polls, *tick).await?,
        }
        Ok(())
    }

    /// What `w` must do on top of the producer's items. Takes a new title
    /// for every payload it sends.
    pub fn plan(&mut self, w: &Write) -> Planned {
        let mut planned = Planned {
            method: "PUT",
            path: String::new(),
            body: String::new(),
            status: 200,
            action: None,
            txns: vec![],
            items: vec![],
        };
        match w {
            Write::Put(i) | Write::Same(i) => {
                let id = IDS[*i].to_string();
                let current = self.items.get(&id).cloned();
                let title = match (matches!(w, Write::Same(_)), &current) {
                    (true, Some(t)) => t.clone(),
                    _ => self.new_title(),
                };
                planned.path = format!("/feeds/news/items/{}", enc(&id));
                planned.body = format!(r#"{{"title":"{title}"}}"#);
                let (status, action) = match &current {
                    Some(t) if *t == title => (200, "unchanged"),
                    Some(_) => (200, "update"),
                    None => (201, "add"),
                };
                planned.status = status;
                planned.action = Some(action);
                if action != "unchanged" {
                    let existed = current.is_some();
                    planned
                        .txns
                        .push((id.clone(), Some(title.clone()), existed));
                    planned.items.push((id, Some(title)));
                }
            }
            Write::Delete(i) => {
                let id = IDS[*i].to_string();
                planned.method = "DELETE";
                planned.path = format!("/feeds/news/items/{}", enc(&id));
                if self.items.contains_key(&id) {
                    planned.action = Some("delete");
                    planned.txns.push((id.clone(), None, true));
                    planned.items.push((id, None));
                } else {
                    planned.status = 404;
                }
            }
            Write::Batch(ops) => {
                planned.method = "POST";
                planned.path = "/feeds/news/items".into();
                let mut items = self.items.clone();
                let mut body = vec![];
                let mut missing = false;
                for &(i, delete) in ops {
                    let id = IDS[i].to_string();
                    if delete {
                        missing |= items.remove(&id).is_none();
                        body.push(serde_json::json!({"id": id, "deleted": true}));
                        planned.txns.push((id.clone(), None, true));
                        planned.items.push((id, None));
                    } else {
                        let title = self.new_title();
                        let existed = items.insert(id.clone(), title.clone()).is_some();
                        body.push(serde_json::json!({"id": id, "title": title}));
                        planned
                            .txns
                            .push((id.clone(), Some(title.clone()), existed));
                        planned.items.push((id, Some(title)));
                    }
                }
                planned.body = serde_json::Value::Array(body).to_string();
                if missing {
                    planned.status = 404;
                    planned.txns.clear();
                    planned.items.clear();
                }
            }
        }
        planned
    }

    fn new_title(&mut self) -> String {
        self.versions += 1;
        format!("v{}", self.versions)
    }

    pub async fn send(&self, p: &Planned) -> Resp {
        let json = [("Content-Type", "application/json")];
        let headers: &[(&str, &str)] = if p.method == "DELETE" { &[] } else { &json };
        self.app
            .req(p.method, &p.path, headers, p.body.as_bytes())
            .await
    }

    /// Record a write that the server acknowledged: its transactions got
    /// these (seq, stamp)s, in order.
    pub fn commit(&mut self, plan: Planned, at: Vec<(u64, u64)>) {
        for ((id, title, existed), (seq, stamp)) in plan.txns.into_iter().zip(at) {
            debug_assert_eq!(seq, self.head() + 1);
            self.log.push(Ref {
                id,
                title,
                created: !existed,
                stamp,
            });
        }
        for (id, title) in plan.items {
            match title {
                Some(t) => self.items.insert(id, t),
                None => self.items.remove(&id),
            };
        }
    }

    /// The second of the transaction at `seq` (`seq` > 0).
    pub fn sec(&self, seq: u64) -> u64 {
        self.log[seq as usize - 1].stamp / 1000
    }

    /// Last seq stamped in Unix second `sec` or earlier.
    pub fn seconds_end(&self, sec: u64) -> u64 {
        self.log.partition_point(|t| t.stamp / 1000 <= sec) as u64
    }

    /// The end of what a response not selected by an ETag may show at `now`.
    pub fn visible_at(&self, now: u64) -> u64 {
        self.seconds_end((now / 1000).saturating_sub(1))
    }

    /// The items a consumer holds at position `p`.
    pub fn state_at(&self, p: u64) -> BTreeMap<String, String> {
        let mut items = BTreeMap::new();
        for t in &self.log[..p as usize] {
            match &t.title {
                Some(title) => items.insert(t.id.clone(), title.clone()),
                None => items.remove(&t.id),
            };
        }
        items
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

/// Check a write's answer against its plan; the seqs of its transactions.
pub fn check_write(plan: &Planned, r: &Resp) -> Result<Vec<u64>, TestCaseError> {
    ensure!(
        r.status == plan.status,
        "{plan:?}: {r:?}, expected {}",
        plan.status
    );
    if plan.status == 404 {
        return Ok(vec![]);
    }
    let v = r.json();
    if let Some(action) = plan.action {
        ensure!(v["action"] == action, "{plan:?}: {r:?}, expected {action}");
        return Ok(match plan.txns.is_empty() {
            true => vec![],
            false => vec![v["seq"].as_u64().unwrap_or(0)],
        });
    }
    let items = v["items"].as_array().cloned().unwrap_or_default();
    ensure!(items.len() == plan.txns.len(), "{plan:?}: {r:?}");
    Ok(items
        .iter()
        .map(|i| i["seq"].as_u64().unwrap_or(0))
        .collect())
}
