//! The mirror: for each feed with `[feeds.NAME.content] mirror = true`, a
//! task follows the feed's log (from where it stopped, `ContentStore::cursor`)
//! and, for every enclosure at an allowed origin that a transaction adds or
//! changes, fetches the file in the background (never on a request's path),
//! at most `concurrency` at once per feed; then appends an `update` whose
//! enclosure points at `{base_url}/content/{sha256}`, the original URL kept
//! as its `via` ([`Op::Replace`]: a producer's write in between wins, and
//! the mirror reads the item again). A file that cannot be fetched leaves
//! the item as it is and is reported ([`FeedState`]).
//!
//! The cursor moves past a batch of transactions once its files are stored
//! or given up: a restart reads the batch again, and a download it cut off
//! resumes from its partial file.

use super::fetch::{self, Download, FetchError};
use super::rewrite::{content_sha, pointed};
use super::{ContentConfig, ContentStore, Object};
use crate::app::App;
use crate::store::{Op, StoreError};
use crate::sync::lock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

/// Transactions read per step.
const STEP: usize = 64;

mod collect;
/// How often files no item references are looked for (also after each compaction pass).
const COLLECT_EVERY: Duration = Duration::from_secs(600);

/// A feed's content state, as `GET /feeds` and the status page show it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FeedState {
    /// Files being fetched (URLs).
    pub pending: BTreeSet<String>,
    /// Files given up on, with the last error (until the item changes or a restart).
    pub failed: BTreeMap<String, String>,
    pub stored_files: u64,
    pub stored_bytes: u64,
    pub downloads: u64,
    pub download_failures: u64,
}

/// One file to mirror for one item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Job {
    id: String,
    url: String,
    want: Option<u64>,
}

pub struct Mirror {
    store: Arc<ContentStore>,
    client: reqwest::Client,
    /// `content_downloads`: every feed's downloads together.
    downloads: Semaphore,
    /// Held (shared) from a download to the item pointing at its copy, and
    /// (exclusively) by [`Mirror::collect`]: a file is never collected in
    /// between.
    gc: tokio::sync::RwLock<()>,
    /// `{base_url}/content/`: what the mirrored URLs start with.
    prefix: String,
    feeds: BTreeMap<String, (ContentConfig, Arc<Semaphore>, Mutex<FeedState>)>,
}

impl Mirror {
    /// The mirror of every feed whose config says so (`None`: no feed does).
    pub fn new(app_config: &crate::config::Config, store: Arc<ContentStore>) -> Option<Mirror> {
        let feeds: BTreeMap<_, _> = app_config
            .feeds
            .iter()
            .filter(|(_, f)| f.content.mirror)
            .map(|(name, f)| {
                let slots = Arc::new(Semaphore::new(f.content.concurrency));
                (name.clone(), (f.content.clone(), slots, Mutex::default()))
            })
            .collect();
        if feeds.is_empty() {
            return None;
        }
        let allowed: Vec<String> = feeds.values().flat_map(|(c, ..)| c.allow.clone()).collect();
        // Redirects only to origins some feed allows; no decompression (ranges are of the raw bytes).
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let ok = crate::websub::config::origin_of(attempt.url().as_str())
                .is_some_and(|o| allowed.contains(&o));
            if !ok || attempt.previous().len() >= 5 {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .no_gzip()
            .redirect(policy)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!(
                "feedgate/",
                env!("CARGO_PKG_VERSION"),
                " (content mirror)"
            ))
            .build()
            .ok()?;
        let prefix = format!("{}/content/", app_config.base_url.as_deref().unwrap_or(""));
        Some(Mirror {
            store,
            client,
            downloads: Semaphore::new(app_config.content_downloads.max(1)),
            gc: tokio::sync::RwLock::new(()),
            prefix,
            feeds,
        })
    }

    /// The content state of `feed`, if it mirrors.
    pub fn state(&self, feed: &str) -> Option<FeedState> {
        self.feeds.get(feed).map(|(_, _, s)| lock(s).clone())
    }

    /// Start following every mirrored feed; the tasks end when `stop` turns true.
    pub fn start(app: &Arc<App>, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let Some(mirror) = app.mirror() else {
            return Vec::new();
        };
        let mut tasks: Vec<_> = mirror
            .feeds
            .keys()
            .map(|name| tokio::spawn(follow(app.clone(), name.clone(), stop.clone())))
            .collect();
        let (app, mut stop) = (app.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut first = true;
            loop {
                if !std::mem::take(&mut first) {
                    tokio::select! {
                        () = tokio::time::sleep(COLLECT_EVERY) => {}
                        _ = stop.changed() => return,
                    }
                }
                if let Some(m) = app.mirror() {
                    if let Err(e) = m.collect(&app).await {
                        tracing::warn!(error = %e, "content collection failed");
                    }
                }
            }
        }));
        tasks
    }

    /// Point the enclosures of a producer's `ops` whose files are mirrored
    /// already at their copies, so that writing an item again as its origin
    /// has it (a republishing CMS) appends nothing, instead of an update to
    /// the origin's URL and another back to the copy.
    pub fn known(&self, feed: &str, ops: &mut [Op]) {
        let Some((config, ..)) = self.feeds.get(feed) else {
            return;
        };
        for op in ops {
            let Op::Put { payload, .. } = op else {
                continue;
            };
            for e in &mut payload.enclosures {
                if e.via.is_some() || !self.wanted(config, &e.url) {
                    continue;
                }
                if let Some(object) = self.store.recall(&e.url) {
                    e.via = Some(std::mem::replace(
                        &mut e.url,
                        format!("{}{}", self.prefix, object.sha256),
                    ));
                }
            }
        }
    }

    /// Is the file at `url` one to mirror: at an allowed origin, and not our own copy?
    fn wanted(&self, config: &ContentConfig, url: &str) -> bool {
        !url.starts_with(&self.prefix) && config.allows(url)
    }

    /// The files `txns` ask for: enclosures at allowed origins, not ours.
    fn jobs(&self, config: &ContentConfig, txns: &[crate::model::Txn]) -> Vec<Job> {
        let mut jobs: Vec<Job> = txns
            .iter()
            .filter_map(|t| Some((t, t.payload.as_ref()?)))
            .flat_map(|(t, p)| {
                p.enclosures
                    .iter()
                    .filter(|e| self.wanted(config, &e.url))
                    .map(|e| Job {
                        id: t.id.clone(),
                        url: e.url.clone(),
                        want: (e.length > 0).then_some(e.length),
                    })
            })
            .collect();
        jobs.sort();
        jobs.dedup();
        jobs
    }
}

/// Follow one feed's log until `stop`.
async fn follow(app: Arc<App>, name: String, mut stop: watch::Receiver<bool>) {
    let (Some(mirror), Some(feed)) = (app.mirror(), app.feed(&name)) else {
        return;
    };
    let log = feed.log_ref();
    let mut heads = log.watch_head();
    let mut cursor = mirror.store.cursor(&name, log.epoch());
    loop {
        let head = log.published().seq;
        while cursor < head && !*stop.borrow() {
            let txns = match log.scan(cursor, head, STEP, usize::MAX).await {
                Ok(t) if !t.is_empty() => t,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(feed = %name, error = %e, "content mirror cannot read the log");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let last = txns.last().map_or(cursor, |t| t.seq);
            let config = &mirror.feeds[&name].0;
            let mut tasks = tokio::task::JoinSet::new();
            for job in mirror.jobs(config, &txns) {
                let app = app.clone();
                let name = name.clone();
                tasks.spawn(async move { one(&app, &name, job).await });
            }
            // On shutdown the downloads are dropped where they are: the
            // cursor stays, and the next start resumes them from their partial files.
            loop {
                if *stop.borrow() {
                    return;
                }
                tokio::select! {
                    r = tasks.join_next() => if r.is_none() { break },
                    _ = stop.changed() => return,
                }
            }
            cursor = last;
            if let Err(e) = mirror.store.set_cursor(&name, log.epoch(), cursor) {
                tracing::warn!(feed = %name, error = %e, "content mirror cannot save its position");
            }
        }
        tokio::select! {
            r = heads.changed() => if r.is_err() { return },
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Mirror one file for one item, then point the item at the copy.
async fn one(app: &App, feed: &str, job: Job) {
    let Some(mirror) = app.mirror() else { return };
    let (config, slots, state) = &mirror.feeds[feed];
    let _no_collection = mirror.gc.read().await;
    lock(state).pending.insert(job.url.clone());
    let object = match mirror.store.recall(&job.url) {
        Some(o) => Ok(o),
        None => {
            let _slot = slots.acquire().await;
            let _download = mirror.downloads.acquire().await;
            fetch_with_retries(app, mirror, config, feed, &job).await
        }
    };
    let object = {
        let mut st = lock(state);
        st.pending.remove(&job.url);
        match object {
            Ok(o) => {
                st.failed.remove(&job.url);
                o
            }
            Err(e) => {
                tracing::warn!(feed, url = %job.url, error = %e, "content not mirrored; the item keeps its URL");
                st.failed.insert(job.url.clone(), e.to_string());
                return;
            }
        }
    };
    if let Err(e) = mirror.store.remember(&job.url, &object.sha256, feed) {
        tracing::warn!(feed, error = %e, "content store cannot record a URL");
    }
    let copy = format!("{}{}", mirror.prefix, object.sha256);
    match point(app, feed, &job, &copy).await {
        Ok(true) => {
            let mut st = lock(state);
            st.stored_files += 1;
            st.stored_bytes += object.meta.length;
            tracing::info!(feed, item = %job.id, url = %job.url, sha256 = %object.sha256, bytes = object.meta.length, "content mirrored");
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(feed, item = %job.id, error = %e, "cannot point the item at its mirrored file")
        }
    }
}

/// Fetch `job.url` into the store, retrying with doubling delays.
async fn fetch_with_retries(
    app: &App,
    mirror: &Mirror,
    config: &ContentConfig,
    feed: &str,
    job: &Job,
) -> Result<Object, FetchError> {
    let partial = mirror.store.partial_path(&job.url);
    let used = mirror.store.feed_bytes(feed);
    let room = config.max_total_bytes.saturating_sub(used);
    if room == 0 || job.want.is_some_and(|w| w > room) {
        return Err(FetchError::Full(config.max_total_bytes));
    }
    let download = Download {
        url: &job.url,
        partial: partial.clone(),
        max_bytes: config.max_bytes.min(room),
        want: job.want,
    };
    let state = &mirror.feeds[feed].2;
    let metrics = &app.metrics().content;
    let size = || std::fs::metadata(&partial).map_or(0, |m| m.len());
    let mut delay = config.retry_min;
    let mut attempt = 1;
    loop {
        lock(state).downloads += 1;
        let before = size();
        let result =
            match tokio::time::timeout(config.timeout, fetch::attempt(&mirror.client, &download))
                .await
            {
                Ok(r) => r,
                Err(_) => Err(FetchError::Http(format!(
                    "no whole file within {:?}",
                    config.timeout
                ))),
            };
        metrics.received(feed, size().saturating_sub(before));
        let result = result.and_then(|source| {
            // A file from another feedgate must be the one its URL names.
            if let Some(named) = content_sha(&job.url) {
                let (sha, _) = super::store::hash_file(&partial)?;
                if sha != named {
                    fetch::discard(&partial);
                    return Err(FetchError::Corrupt(sha));
                }
            }
            let store = &mirror.store;
            let object = store.commit(&job.url, job.want, &source.content_type, feed);
            fetch::discard(&partial);
            object.map_err(FetchError::from)
        });
        match result {
            Ok(object) => {
                metrics.attempt(feed, "stored");
                return Ok(object);
            }
            Err(e) => {
                lock(state).download_failures += 1;
                if !e.retryable() || attempt >= config.attempts {
                    metrics.attempt(feed, "given_up");
                    return Err(e);
                }
                metrics.attempt(feed, "failed");
                tracing::info!(feed, url = %job.url, attempt, error = %e, "content download failed; retrying");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(config.retry_max);
        attempt += 1;
    }
}

/// Point the item's enclosures at `url` to `copy`; `Ok(false)`: the item no
/// longer has that enclosure (or already points at the copy).
async fn point(app: &App, feed: &str, job: &Job, copy: &str) -> Result<bool, StoreError> {
    let Some(f) = app.feed(feed) else {
        return Ok(false);
    };
    for _ in 0..8 {
        let Some(item) = f.log().item(&job.id).await? else {
            return Ok(false);
        };
        let Some(payload) = pointed(&item.payload, &job.url, copy) else {
            return Ok(false);
        };
        let op = Op::Replace {
            id: job.id.clone(),
            payload,
            seq: item.seq,
        };
        match f.append(std::slice::from_ref(&op)).await {
            Ok(_) => return Ok(true),
            Err(StoreError::Conflict(_)) => continue, // a producer wrote in between: read again
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
