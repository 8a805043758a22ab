//! The WebSub hub (W3C Recommendation; PROTOCOL §9): feedgate is the hub
//! of its own feeds.
//!
//! - A subscription request (`http::hub`, `POST /websub`) is checked at
//!   the edge (topic, callback origin in `[websub] allow`, secret), then
//!   verified here with `hub.challenge` ([`verify`]) and only then stored
//!   (`Backend::hub_records`), with the feed's head as its first position.
//! - One process delivers for the hub at a time (`Backend::hub_turn`: the
//!   only one, or the holder of a PostgreSQL advisory lock). The leader
//!   keeps one delivery task per stored subscription ([`deliver`]),
//!   reloading the records when a subscription changes here, and every
//!   [`RELOAD`] on a shared store (a request may reach any process).
//! - A delivery is the document of the transactions after the stored
//!   position, `POST`ed in order; the position is stored once the callback
//!   took it (2xx), so a restart or an outage resumes from there: at least
//!   once, in order.

pub mod config;
mod deliver;
mod subscription;
mod verify;

pub use config::{origin_of, WebSubConfig};
pub use subscription::{parse_topic, Subscription};

use crate::app::App;
use crate::render::Format;
use crate::sync::lock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// How often the leader reloads the subscriptions of a shared store.
pub const RELOAD: Duration = Duration::from_secs(2);

/// What a subscriber asked for (`hub.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Subscribe,
    Unsubscribe,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// A subscription request that passed the edge's checks.
#[derive(Debug, Clone)]
pub struct Request {
    pub mode: Mode,
    pub feed: String,
    pub format: Format,
    pub topic: String,
    pub callback: String,
    pub secret: Option<String>,
    /// `hub.lease_seconds`, if given.
    pub lease_seconds: Option<u64>,
}

/// A subscription the leader delivers to, and how its deliveries go.
struct Active {
    sub: Mutex<Subscription>,
    state: Mutex<State>,
    cancel: watch::Sender<bool>,
}

/// How a subscription's deliveries go (this process's view).
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Failed attempts since the last delivery.
    pub failures: u32,
    pub last_error: Option<String>,
    /// When the last delivery was taken (ms).
    pub delivered_ms: Option<u64>,
}

/// One subscriber as the consumer report shows it.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub sub: Subscription,
    /// `None` where this process does not deliver (another one leads).
    pub state: Option<State>,
}

impl Subscriber {
    /// Transactions behind `head` of the log of `epoch` (the whole head for
    /// a position of another epoch).
    pub fn lag(&self, epoch: &str, head: u64) -> u64 {
        if self.sub.epoch == epoch {
            head.saturating_sub(self.sub.position)
        } else {
            head
        }
    }

    /// `delivered_elsewhere` (another process leads), `failing`,
    /// `delivering` (`lag` > 0) or `up_to_date`.
    pub fn delivery_state(&self, lag: u64) -> &'static str {
        match &self.state {
            None => "delivered_elsewhere",
            Some(st) if st.failures > 0 => "failing",
            Some(_) if lag > 0 => "delivering",
            Some(_) => "up_to_date",
        }
    }
}

pub struct Hub {
    config: WebSubConfig,
    client: Option<reqwest::Client>,
    active: Mutex<HashMap<String, Arc<Active>>>,
    /// A subscription changed here: the leader reloads now.
    changed: Notify,
}

impl Hub {
    pub fn new(config: &WebSubConfig) -> Hub {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "feedgate/",
                env!("CARGO_PKG_VERSION"),
                " (WebSub hub)"
            ))
            .build()
            .map_err(|e| tracing::warn!(error = %e, "WebSub hub: cannot build its HTTP client"))
            .ok();
        Hub {
            config: config.clone(),
            client,
            active: Mutex::new(HashMap::new()),
            changed: Notify::new(),
        }
    }

    /// Is the hub on (`[websub] allow` names origins)?
    pub fn enabled(&self) -> bool {
        self.config.enabled() && self.client.is_some()
    }

    pub fn config(&self) -> &WebSubConfig {
        &self.config
    }

    /// Verify `req` with its callback, then apply it, in the background
    /// (the request was answered `202 Accepted`).
    pub fn accept(&self, app: &Arc<App>, req: Request) {
        let app = app.clone();
        tokio::spawn(async move { app.hub().verify_and_apply(&app, req).await });
    }

    async fn verify_and_apply(&self, app: &App, req: Request) {
        let Some(client) = &self.client else { return };
        let lease = self.lease(req.lease_seconds);
        if let Err(why) = verify::intent(client, &req, lease).await {
            tracing::info!(callback = %req.callback, mode = req.mode.as_str(), %why, "WebSub: intent not verified; nothing changed");
            return;
        }
        if let Err(e) = self.apply(app, &req, lease).await {
            tracing::warn!(callback = %req.callback, error = %e, "WebSub: cannot store the subscription");
        }
    }

    /// The lease granted for `asked` seconds.
    fn lease(&self, asked: Option<u64>) -> Duration {
        asked
            .map_or(self.config.lease, Duration::from_secs)
            .clamp(Duration::from_secs(1), self.config.max_lease)
    }

    /// Store the verified `req` (a renewal keeps its position), or remove it.
    async fn apply(
        &self,
        app: &App,
        req: &Request,
        lease: Duration,
    ) -> Result<(), crate::store::StoreError> {
        let key = subscription::key(&req.feed, &req.callback);
        let store = app.store();
        match req.mode {
            Mode::Unsubscribe => store.save_hub_record(&key, None).await?,
            Mode::Subscribe => {
                let Some(feed) = app.feed(&req.feed) else {
                    return Ok(());
                };
                let log = feed.log();
                let stored = store
                    .hub_records()
                    .await?
                    .into_iter()
                    .find(|(k, _)| *k == key);
                let old = stored.and_then(|(_, v)| Subscription::from_bytes(&v));
                let (epoch, position) = match old {
                    Some(s) => (s.epoch, s.position),
                    None => (log.epoch().to_string(), log.head()),
                };
                let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
                let sub = Subscription {
                    feed: req.feed.clone(),
                    callback: req.callback.clone(),
                    topic: req.topic.clone(),
                    format: if req.format == Format::Atom {
                        "atom"
                    } else {
                        "rss"
                    }
                    .to_string(),
                    secret: req.secret.clone(),
                    lease_until_ms: app.clock().now_ms().saturating_add(lease_ms),
                    epoch,
                    position,
                };
                store.save_hub_record(&key, Some(&sub.to_bytes())).await?;
            }
        }
        store.flush().await?;
        tracing::info!(callback = %req.callback, feed = %req.feed, mode = req.mode.as_str(), "WebSub: intent verified");
        self.changed.notify_one();
        Ok(())
    }

    /// The subscribers of `feed`, from the store, with this process's
    /// delivery state where it delivers.
    pub async fn subscribers(
        &self,
        app: &App,
        feed: &str,
    ) -> Result<Vec<Subscriber>, crate::store::StoreError> {
        let active = lock(&self.active).clone();
        let mut out = Vec::new();
        for (key, bytes) in app.store().hub_records().await? {
            let Some(mut sub) = Subscription::from_bytes(&bytes) else {
                continue;
            };
            if sub.feed != feed {
                continue;
            }
            let state = active.get(&key).map(|a| {
                // The leader's position is ahead of the stored one.
                sub.position = lock(&a.sub).position;
                lock(&a.state).clone()
            });
            out.push(Subscriber { sub, state });
        }
        Ok(out)
    }

    /// Lead deliveries whenever this process holds the hub's turn, until
    /// shutdown.
    pub fn start(app: &Arc<App>) -> Option<JoinHandle<()>> {
        if !app.hub().enabled() {
            return None;
        }
        let app = app.clone();
        Some(tokio::spawn(async move {
            let hub = app.hub();
            while !app.waiting().stopping() {
                match app.store().hub_turn().await {
                    Ok(Some(_turn)) => hub.lead(&app).await,
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "WebSub: cannot take the hub's turn"),
                }
                tokio::select! {
                    () = app.waiting().stopped() => {}
                    () = tokio::time::sleep(RELOAD) => {}
                }
            }
        }))
    }

    /// Keep a delivery task per stored subscription until shutdown.
    async fn lead(&self, app: &Arc<App>) {
        loop {
            if let Err(e) = self.reload(app).await {
                tracing::warn!(error = %e, "WebSub: cannot read the subscriptions");
            }
            let reload = async {
                if app.store().shared() {
                    tokio::time::sleep(RELOAD).await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                () = app.waiting().stopped() => break,
                () = self.changed.notified() => {}
                () = reload => {}
            }
        }
        for (_, a) in lock(&self.active).drain() {
            a.cancel.send_replace(true);
        }
    }

    /// Start deliveries for new records, stop those whose record is gone,
    /// take renewed leases and secrets in.
    async fn reload(&self, app: &Arc<App>) -> Result<(), crate::store::StoreError> {
        let records = app.store().hub_records().await?;
        let mut active = lock(&self.active);
        let mut seen = Vec::with_capacity(records.len());
        for (key, bytes) in records {
            let Some(sub) = Subscription::from_bytes(&bytes) else {
                tracing::warn!(%key, "WebSub: an unreadable subscription record; skipped");
                continue;
            };
            if app.feed(&sub.feed).is_none() {
                continue;
            }
            seen.push(key.clone());
            match active.get(&key) {
                Some(a) => {
                    let mut held = lock(&a.sub);
                    let position = held.position.max(sub.position);
                    *held = Subscription { position, ..sub };
                }
                None => {
                    let (cancel, cancelled) = watch::channel(false);
                    let a = Arc::new(Active {
                        sub: Mutex::new(sub),
                        state: Mutex::new(State::default()),
                        cancel,
                    });
                    active.insert(key, a.clone());
                    tokio::spawn(deliver::run(app.clone(), a, cancelled));
                }
            }
        }
        active.retain(|key, a| {
            let keep = seen.contains(key);
            if !keep {
                a.cancel.send_replace(true);
            }
            keep
        });
        let mut per_feed: HashMap<String, usize> = HashMap::new();
        for a in active.values() {
            *per_feed.entry(lock(&a.sub).feed.clone()).or_default() += 1;
        }
        for feed in app.feeds() {
            let n = per_feed.get(feed.name()).copied().unwrap_or(0);
            app.metrics().immediate.subscribers(feed.name(), n);
        }
        Ok(())
    }

    /// Forget `key` here (its lease ended or its callback is gone).
    pub(super) fn forget(&self, key: &str) {
        lock(&self.active).remove(key);
    }
}
