//! The load client of `scripts/bench` (g): long-poll waiters and event streams.
//!
//! `cargo run --release --example immediate -- waiters ADDR FEED N [PID]`
//! `cargo run --release --example immediate -- sse ADDR FEED STREAMS BURST [PID]`
//!
//! `waiters`: N long-polls (`If-None-Match` at the head, `Prefer: wait=30`);
//! once `/metrics` counts them all waiting (`feedgate_waiting{kind=
//! "long_poll"}`; without that gauge: once all are sent, plus a settle delay),
//! one PUT, and each answer is timed from its acknowledgement. Once all are
//! answered, each asks again with its answer's ETag: the next round. `sse`:
//! STREAMS event streams (`Last-Event-ID` at the head); once all have their
//! response head, BURST PUTs at once, and each stream is timed from the last
//! acknowledgement to the end of its BURST-th event. With PID, the server's
//! `VmRSS` before the first connection and once all are registered, and its
//! CPU time per round. One current-thread runtime, raw HTTP/1.1 on tokio
//! `TcpStream`s; the PUTs on a thread and runtime of their own, so their
//! acknowledgements are timed as they arrive. Environment: `IMMEDIATE_ROUNDS`
//! (3), `IMMEDIATE_WAIT` (30 s), `IMMEDIATE_SETTLE_MS` (2000). Prints one JSON
//! line; latencies in ms, negative when an answer came before the ack.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Connections the clients may open: granted as the server registers the
/// previous ones (its accept queue is finite: 10k connects at once overflow it
/// and cost SYN retransmissions of a second or more).
static CONNECTING: Semaphore = Semaphore::const_new(0);

/// Connections opened ahead of those registered (under the listen backlog, 128 with tokio).
const AHEAD: usize = 100;

/// A response's head: its status, its length in bytes, its text.
struct Head {
    status: u16,
    len: usize,
    text: String,
}

impl Head {
    /// The value of the first header called `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.text.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, Error> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let (text, len) = (String::from_utf8(buf[..end].to_vec())?, end + 4);
    let status = text.split(' ').nth(1).ok_or("no status line")?.parse()?;
    Ok(Some(Head { status, len, text }))
}

/// Decode the complete chunks at the start of `raw` into `out`: (bytes
/// consumed, whether the last chunk was among them). No trailers expected.
fn dechunk(raw: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), Error> {
    let mut pos = 0;
    while let Some(nl) = find(&raw[pos..], b"\r\n") {
        let line = std::str::from_utf8(&raw[pos..pos + nl])?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)?;
        let start = pos + nl + 2;
        if raw.len() < start + size + 2 {
            break;
        }
        out.extend_from_slice(&raw[start..start + size]);
        pos = start + size + 2;
        if size == 0 {
            return Ok((pos, true));
        }
    }
    Ok((pos, false))
}

/// Read one whole response (it has a `Content-Length`, or no body), its head
/// and body; what follows it stays in `buf`.
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(Head, Vec<u8>), Error> {
    loop {
        if let Some(h) = parse_head(buf)? {
            let length = match (h.status, h.get("content-length")) {
                (204 | 304, _) => 0,
                (_, Some(n)) => n.parse()?,
                _ => return Err(format!("no Content-Length: {:?}", h.text).into()),
            };
            if buf.len() >= h.len + length {
                let body = buf.drain(..h.len + length).skip(h.len).collect();
                return Ok((h, body));
            }
        }
        buf.reserve(8192);
        if s.read_buf(buf).await? == 0 {
            return Err("connection closed mid-response".into());
        }
    }
}

/// A fresh connection, one request: the response's head and body.
async fn request(addr: &str, req: &str) -> Result<(Head, Vec<u8>), Error> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    s.write_all(req.as_bytes()).await?;
    read_response(&mut s, &mut Vec::new()).await
}

async fn fetch(addr: &str, path: &str) -> Result<Vec<u8>, Error> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    Ok(request(addr, &req).await?.1)
}

fn env(name: &str, default: u64) -> u64 {
    let value = std::env::var(name).ok().and_then(|v| v.parse().ok());
    value.unwrap_or(default)
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of a process (all its threads) in ms, by
/// `/proc/PID/stat` (clock ticks of 10 ms: USER_HZ is 100 on Linux).
fn cpu_ms(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) * 10.0)
}

/// n, p50, p99 and max of `ms`, as JSON.
fn summary(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    let q = |q: f64| ms.get(((q * ms.len() as f64).ceil() as usize).max(1) - 1);
    json!({"n": ms.len(), "p50": q(0.5), "p99": q(0.99), "max": ms.last()})
}

/// `at - since` in ms, negative when `at` came first.
fn ms(at: Instant, since: Instant) -> f64 {
    ((at.max(since) - since).as_secs_f64() - (since.max(at) - at).as_secs_f64()) * 1e3
}

/// What the clients and the run share.
#[derive(Default)]
struct Ctx {
    addr: String,
    feed: String,
    etag: String,
    rounds: usize,
    burst: usize,
    wait: u64,
    /// Clients ready for round r: a long-poll sent; a stream at the head, or through round r-1.
    ready: Vec<AtomicUsize>,
    /// Clients that have not failed.
    live: AtomicUsize,
    /// Connections granted so far (`CONNECTING`).
    granted: AtomicUsize,
    /// The round long-polls may ask for: the next begins once one is all answered.
    go: tokio::sync::watch::Sender<usize>,
    /// Per round, (when, status): a long-poll's answer; a stream's BURST-th event of the round.
    done: Mutex<Vec<Vec<(Instant, u16)>>>,
    errors: Mutex<Vec<String>>,
    retry: AtomicUsize,
    disorder: AtomicUsize,
}

impl Ctx {
    async fn connect(&self) -> Result<TcpStream, Error> {
        CONNECTING.acquire().await?.forget();
        let s = TcpStream::connect(&self.addr).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    /// Let the clients open connections up to `total` in all.
    fn grant(&self, total: usize) {
        let before = self.granted.fetch_max(total, SeqCst);
        CONNECTING.add_permits(total.saturating_sub(before));
    }

    fn note(&self, round: usize, status: u16) {
        self.done.lock().unwrap()[round].push((Instant::now(), status));
    }

    /// Until the run has begun `round` (the last: until it is over).
    async fn until(&self, round: usize) -> Result<(), Error> {
        self.go.subscribe().wait_for(|&go| go >= round).await?;
        Ok(())
    }

    /// Requests of `kind` waiting now by the server's `/metrics`, if it has such a gauge.
    async fn gauge(&self, kind: &str) -> Option<usize> {
        let body = fetch(&self.addr, "/metrics").await.ok()?;
        let line = format!("feedgate_waiting{{kind=\"{kind}\"}} ");
        let text = String::from_utf8(body).ok()?;
        let value = text.lines().find_map(|l| l.strip_prefix(&line))?;
        value.trim().parse::<f64>().ok().map(|v| v as usize)
    }

    /// Wait until every live client is ready for `round` and, by the gauge of
    /// `kind`, waits on the server (true); without a gauge, until all are ready
    /// and the settle delay passed. And when all were ready. Connections are
    /// granted meanwhile, AHEAD of those registered.
    async fn registered(&self, kind: &str, round: usize) -> (bool, Option<Instant>) {
        let (deadline, mut ready) = (Instant::now() + Duration::from_secs(60), None);
        while Instant::now() < deadline {
            let (live, at) = (self.live.load(SeqCst), self.ready[round].load(SeqCst));
            // A stream's head is the server's word that it is registered.
            let seen = if kind == "sse" { at } else { 0 };
            if at >= live {
                ready = ready.or(Some(Instant::now()));
            }
            match self.gauge(kind).await {
                Some(n) if n >= live && ready.is_some() => return (true, ready),
                Some(n) => self.grant(n.max(seen) + AHEAD),
                None if ready.is_some() => break,
                None => self.grant(1 << 40),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(env("IMMEDIATE_SETTLE_MS", 2000))).await;
        (false, ready)
    }

    /// `burst` PUTs at once, one per fresh connection, on a thread and runtime of
    /// their own: when they were sent and when the last was acknowledged (200/201).
    async fn burst(&self, round: usize) -> Result<(Instant, Instant), Error> {
        let (addr, feed, n) = (self.addr.clone(), self.feed.clone(), self.burst);
        let since = std::time::UNIX_EPOCH.elapsed().unwrap_or_default();
        let tag = format!("imm-{}-{}-{round}", std::process::id(), since.as_nanos());
        let body = r#"{"title":"x"}"#;
        let puts = async move {
            let (sent, mut puts) = (Instant::now(), tokio::task::JoinSet::new());
            for i in 0..n {
                let req = format!(
                    "PUT /feeds/{feed}/items/{tag}-{i} HTTP/1.1\r\nHost: {addr}\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let addr = addr.clone();
                puts.spawn(async move {
                    match request(&addr, &req).await?.0.status {
                        200 | 201 => Ok::<_, Error>(Instant::now()),
                        other => Err(format!("a PUT answered {other}").into()),
                    }
                });
            }
            let mut last = sent;
            while let Some(at) = puts.join_next().await {
                last = last.max(at??);
            }
            Ok((sent, last))
        };
        tokio::task::spawn_blocking(move || {
            let mut rt = tokio::runtime::Builder::new_current_thread();
            rt.enable_all().build()?.block_on(puts)
        })
        .await?
    }
}

/// One long-poll consumer: each round one request with the ETag it has (the
/// head's at first, then its last answer's), on one keep-alive connection.
async fn waiter(ctx: &Ctx) -> Result<(), Error> {
    let (mut s, mut buf, mut etag) = (ctx.connect().await?, Vec::new(), ctx.etag.clone());
    let (feed, addr, wait) = (&ctx.feed, &ctx.addr, ctx.wait);
    for round in 0..ctx.rounds {
        ctx.until(round).await?;
        let req = format!(
            "GET /feeds/{feed} HTTP/1.1\r\nHost: {addr}\r\nIf-None-Match: {etag}\r\n\
             Prefer: wait={wait}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await?;
        ctx.ready[round].fetch_add(1, SeqCst);
        let (h, _) = read_response(&mut s, &mut buf).await?;
        ctx.note(round, h.status);
        etag = h.get("etag").map_or(etag, str::to_string);
    }
    ctx.until(ctx.rounds).await // closed once all are timed
}

/// One event stream from the head: its events counted (one ends at the blank
/// line after its `id:`), each round's end noted; done after the last round.
async fn stream(ctx: &Ctx) -> Result<(), Error> {
    let mut s = ctx.connect().await?;
    let (feed, addr, cursor) = (&ctx.feed, &ctx.addr, ctx.etag.trim_matches('"'));
    let req = format!(
        "GET /feeds/{feed} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\
         Last-Event-ID: {cursor}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let (mut raw, mut text, mut head) = (Vec::new(), Vec::new(), false);
    let (mut events, mut pending, mut last_seq) = (0, false, 0u64);
    loop {
        raw.reserve(8192);
        if s.read_buf(&mut raw).await? == 0 {
            return Err(format!("the stream closed after {events} events").into());
        }
        if !head {
            let Some(h) = parse_head(&raw)? else { continue };
            if h.status != 200
                || !h.text.contains("text/event-stream")
                || h.get("transfer-encoding") != Some("chunked")
            {
                return Err(format!("not an event stream (chunked): {:?}", h.text).into());
            }
            (head, _) = (true, raw.drain(..h.len));
            ctx.ready[0].fetch_add(1, SeqCst);
        }
        let (used, end) = dechunk(&raw, &mut text)?;
        raw.drain(..used);
        while let Some(nl) = text.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8(text.drain(..=nl).collect())?;
            let line = line.trim_end();
            if let Some(id) = line.strip_prefix("id:") {
                let seq = id.trim().rsplit('.').next().and_then(|s| s.parse().ok());
                if seq.unwrap_or(0) <= last_seq {
                    ctx.disorder.fetch_add(1, SeqCst);
                }
                (pending, last_seq) = (true, seq.unwrap_or(0));
            } else if line.starts_with("retry:") {
                ctx.retry.fetch_add(1, SeqCst);
            } else if line.is_empty() && pending {
                (events, pending) = (events + 1, false);
                if events % ctx.burst == 0 {
                    let round = events / ctx.burst - 1;
                    ctx.note(round, 200);
                    if round + 1 == ctx.rounds {
                        return ctx.until(ctx.rounds).await; // closed once all are timed
                    }
                    ctx.ready[round + 1].fetch_add(1, SeqCst);
                }
            }
        }
        if end {
            return Err(format!("the stream ended after {events} events").into());
        }
    }
}

/// Open `n` clients of `kind`, then round after round: wait until all are
/// registered, burst, and time the answers. The results as JSON.
async fn run(
    kind: &'static str,
    ctx: Arc<Ctx>,
    n: usize,
    pid: Option<u32>,
) -> Result<Value, Error> {
    let (rss_before, started) = (rss_kib(pid), Instant::now());
    for _ in 0..n {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let got = match kind {
                "sse" => stream(&ctx).await,
                _ => waiter(&ctx).await,
            };
            if let Err(e) = got {
                ctx.errors.lock().unwrap().push(e.to_string());
                ctx.live.fetch_sub(1, SeqCst);
            }
        });
    }
    let (mut out, mut all, mut first) = (vec![], vec![], json!({}));
    for round in 0..ctx.rounds {
        let (by_gauge, ready) = ctx.registered(kind, round).await;
        ctx.grant(1 << 40); // all of them, registered or not by now
        if round == 0 {
            let rss = rss_kib(pid);
            let grown = rss_before.zip(rss).map(|(a, b)| b as f64 - a as f64);
            first = json!({
                "ready_s": ready.map(|r| ms(r, started) / 1e3),
                "rss_before_kib": rss_before, "rss_registered_kib": rss,
                "rss_per_client_bytes": grown.map(|g| g * 1024.0 / n as f64),
            });
        }
        let (waiting, server) = (ctx.live.load(SeqCst), pid.map(|p| p.to_string()));
        let cpu = || (cpu_ms(server.as_deref().unwrap_or("")), cpu_ms("self"));
        let cpu_before = cpu();
        let (sent, ack) = ctx.burst(round).await?;
        let timeout = if kind == "sse" { 10 } else { ctx.wait + 5 };
        let deadline = Instant::now() + Duration::from_secs(timeout);
        let answered = || ctx.done.lock().unwrap()[round].len();
        while answered() < ctx.live.load(SeqCst) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let (got, cpu_after) = (ctx.done.lock().unwrap()[round].clone(), cpu());
        let used = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
        let lat: Vec<f64> = got.iter().map(|a| ms(a.0, ack)).collect();
        let status = |s: u16| got.iter().filter(|a| a.1 == s).count();
        out.push(json!({
            "clients": waiting, "by_gauge": by_gauge, "answered": got.len(),
            "status_200": status(200), "status_304": status(304),
            "status_other": got.len() - status(200) - status(304),
            "before_put": got.iter().filter(|a| a.0 < sent).count(),
            "burst_ms": ms(ack, sent), "after_last_ack_ms": summary(lat.clone()),
            "server_cpu_ms": used(cpu_before.0, cpu_after.0),
            "client_cpu_ms": used(cpu_before.1, cpu_after.1),
        }));
        all.extend(lat);
        ctx.go.send_replace(round + 1);
    }
    let errors = ctx.errors.lock().unwrap().clone();
    Ok(json!({
        "mode": kind, "clients": n, "burst": ctx.burst, "first": first, "rounds": out,
        "after_last_ack_ms": summary(all), "rss_after_kib": rss_kib(pid),
        "retry_lines": ctx.retry.load(SeqCst), "out_of_order_ids": ctx.disorder.load(SeqCst),
        "errors": errors.len(), "first_errors": &errors[..errors.len().min(5)],
    }))
}

const USAGE: &str = "immediate waiters ADDR FEED N [PID] | sse ADDR FEED STREAMS BURST [PID]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (kind, addr, feed, n, burst, pid) = match args[..] {
        ["waiters", addr, feed, n, ref pid @ ..] => ("long_poll", addr, feed, n, "1", pid),
        ["sse", addr, feed, n, burst, ref pid @ ..] => ("sse", addr, feed, n, burst, pid),
        _ => return Err(format!("usage: {USAGE}").into()),
    };
    // The head by `GET /feeds` (a feed's first page ends at the head only
    // while the log is shorter than a page).
    let list: Value = serde_json::from_slice(&fetch(addr, "/feeds").await?)?;
    let feeds = list["feeds"].as_array().ok_or("GET /feeds: no feeds")?;
    let it = feeds.iter().find(|f| f["name"] == feed).ok_or("no feed")?;
    let (rounds, n) = (env("IMMEDIATE_ROUNDS", 3) as usize, n.parse()?);
    let ctx = Arc::new(Ctx {
        addr: addr.to_string(),
        feed: feed.to_string(),
        etag: format!("\"{}\"", it["etag"].as_str().ok_or("GET /feeds: no etag")?),
        rounds,
        burst: burst.parse()?,
        wait: env("IMMEDIATE_WAIT", 30),
        ready: (0..rounds).map(|_| AtomicUsize::new(0)).collect(),
        done: Mutex::new(vec![Vec::new(); rounds]),
        live: AtomicUsize::new(n),
        ..Ctx::default()
    });
    let pid = pid.first().map(|p| p.parse()).transpose()?;
    println!("{}", run(kind, ctx, n, pid).await?);
    Ok(())
}
