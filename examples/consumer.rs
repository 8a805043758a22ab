//! A feedgate consumer loop in Rust: poll a feed, process each page, keep
//! the ETag in a state file.
//!
//! `cargo run --example consumer -- http://127.0.0.1:8080/feeds/news --state news.etag [--once] [--interval SECONDS]`
//!
//! The same loop as `examples/consumer.py` and `examples/consumer.sh`
//! (docs/consuming.md): poll with `If-None-Match` = the stored ETag; `304`:
//! nothing new, sleep; `200`: process every entry ([`process`]: one line per
//! entry on stdout), then, and only then, store the page's ETag (a temporary
//! file, synced, renamed over the state file), so a consumer killed while
//! processing replays the page: at least once, nothing skipped. A `next`
//! link is fetched at once; `sync:syncMode` `catchUp` while holding a
//! position means the feed starts over ([`reset`]). Errors are retried from
//! the stored ETag after a pause; SIGTERM or Ctrl-C stops it between pages
//! (a page being fetched is dropped unprocessed, never half-processed);
//! `--once` exits once caught up. RSS only (the feed's default URL).
//!
//! reqwest (async, as feedgate's upstream client uses it) and the `rss`
//! crate, both already dependencies of feedgate.

use std::path::{Path, PathBuf};
use std::time::Duration;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One entry of a page, as the application sees it.
struct Entry {
    action: String,
    id: String,
    title: Option<String>,
}

/// Apply one entry. Here: print `ACTION ID TITLE`. Runs at least once per
/// entry, so make it idempotent (set "the latest state of ID").
fn process(entry: &Entry) {
    match &entry.title {
        Some(title) => println!("{} {} {title}", entry.action, entry.id),
        None => println!("{} {}", entry.action, entry.id),
    }
}

/// The feed starts over (a catch-up while holding a position): drop what
/// came from it.
fn reset() {
    println!("reset");
}

struct Args {
    feed: String,
    state: PathBuf,
    interval: Duration,
    once: bool,
}

fn args() -> Result<Args, Error> {
    let usage = "usage: consumer FEED_URL [--state FILE] [--interval SECONDS] [--once]";
    let mut it = std::env::args().skip(1);
    let (mut feed, mut state, mut interval, mut once) = (None, "feed.etag".into(), 5.0, false);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--state" => state = it.next().ok_or(usage)?,
            "--interval" => interval = it.next().ok_or(usage)?.parse::<f64>()?,
            "--once" => once = true,
            _ if feed.is_none() && !a.starts_with('-') => feed = Some(a),
            _ => return Err(usage.into()),
        }
    }
    Ok(Args {
        feed: feed.ok_or(usage)?,
        state: PathBuf::from(state),
        interval: Duration::from_secs_f64(interval),
        once,
    })
}

fn read_state(path: &Path) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Replace the state file with `etag`, atomically and durably.
fn write_state(path: &Path, etag: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    writeln!(f, "{etag}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The SEQ of an ETag `W/"EPOCH.SEQ"` (0 when there is none).
fn held_seq(etag: Option<&str>) -> u64 {
    etag.and_then(|e| e.trim_end_matches('"').rsplit_once('.'))
        .and_then(|(_, seq)| seq.parse().ok())
        .unwrap_or(0)
}

/// The target of a `Link: <…>; rel="next"`, among all `Link` headers.
fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let next = params
                .split(';')
                .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
            next.then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
        })
}

/// The page's sync mode and its entries, in order.
fn parse(body: &[u8]) -> Result<(Option<String>, Vec<Entry>), Error> {
    let channel = rss::Channel::read_from(body)?;
    let ext = |map: &rss::extension::ExtensionMap, prefix: &str, name: &str| {
        map.get(prefix)?
            .get(name)?
            .first()?
            .value()
            .map(str::to_string)
    };
    let mode = ext(channel.extensions(), "sync", "syncMode");
    let entries = channel
        .items()
        .iter()
        .map(|item| Entry {
            action: ext(item.extensions(), "ibmwcm", "action").unwrap_or_default(),
            id: item
                .guid()
                .map(|g| g.value().to_string())
                .unwrap_or_default(),
            title: item.title().map(str::to_string),
        })
        .collect();
    Ok((mode, entries))
}

/// What one poll did.
enum Polled {
    /// A page was processed; `Some(url)`: its `next` link.
    Page(Option<String>),
    /// 304: nothing new.
    AtHead,
}

async fn poll(client: &reqwest::Client, url: &str, args: &Args) -> Result<Polled, Error> {
    let etag = read_state(&args.state);
    let mut req = client.get(url);
    // A `next` link carries the position in its query: no header needed.
    if let (Some(etag), true) = (&etag, url == args.feed) {
        req = req.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    let res = req.send().await?;
    match res.status().as_u16() {
        304 => Ok(Polled::AtHead),
        200 => {
            let page_etag = res
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .ok_or("a page without an ETag")?
                .to_string();
            let next = next_link(res.headers());
            let (mode, entries) = parse(&res.bytes().await?)?;
            if mode.as_deref() == Some("catchUp") && held_seq(etag.as_deref()) > 0 {
                reset();
            }
            for entry in &entries {
                process(entry);
            }
            write_state(&args.state, &page_etag)?; // only now: the page is processed
            Ok(Polled::Page(next))
        }
        status => {
            let body = res.text().await.unwrap_or_default();
            Err(format!("{status}: {}", body.chars().take(300).collect::<String>()).into())
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args = args()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    );
    let mut url = args.feed.clone();
    loop {
        // A signal during a poll drops it before its page is processed: every
        // await of `poll` comes before `process`, none between it and the
        // stored ETag.
        let polled = tokio::select! {
            polled = poll(&client, &url, &args) => polled,
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        };
        let pause = match polled {
            Ok(Polled::Page(Some(next))) => {
                url = next;
                continue;
            }
            Ok(Polled::Page(None) | Polled::AtHead) if args.once => return Ok(()),
            Ok(Polled::Page(None) | Polled::AtHead) => args.interval,
            Err(e) if args.once => return Err(e),
            Err(e) => {
                eprintln!("poll of {url} failed: {e}");
                args.interval
            }
        };
        url.clone_from(&args.feed);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}
