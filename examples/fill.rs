//! Fill a feed's log fast for `scripts/bench`, through the library (no HTTP).
//!
//! `cargo run --release --example fill -- DATA_DIR FEED COUNT [BATCH] [ITEMS]`
//!
//! Appends `COUNT` transactions to `FEED` in the store at `DATA_DIR` (created
//! if needed), `BATCH` per atomic append (default 10,000), each a durable
//! [`FeedLog::append`] exactly as the push API does it. The transactions
//! cycle over `ITEMS` item ids (default 10,000): the first round adds them,
//! later rounds update them with a new payload (a realistic feed: a fixed
//! set of items that keep changing, ~500 bytes per rendered entry). Then it
//! times 200 single-op appends, each waiting for its own flush: the cost of
//! one durable write here (sled `flush`, i.e. write + fsync), which bounds
//! a lone producer's rate. Prints one `RESULT` line of `key=value` pairs.
//!
//! The store must not be open in a running feedgate (sled locks it).

use feedgate::clock::SystemClock;
use feedgate::model::Payload;
use feedgate::store::embedded::Embedded;
use feedgate::store::{Backend, Op};
use std::sync::Arc;
use std::time::Instant;

/// The allocator of the `feedgate` binary, so the fill costs what serving does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The payload of item `i` in round `round`.
fn payload(i: u64, round: u64) -> Payload {
    Payload {
        title: Some(format!("Item {i}: revision {round} of a benchmark entry")),
        link: Some(format!("https://example.org/items/{i}?rev={round}")),
        summary: Some(format!(
            "Revision {round} of item {i}. A summary of about two hundred bytes, as a \
             typical feed entry carries: what changed, for whom, and where to read more \
             about it on the site."
        )),
        author: Some("Benchmark".to_string()),
        categories: vec!["bench".to_string()],
        ..Payload::default()
    }
}

fn usage() -> Box<dyn std::error::Error> {
    "usage: fill DATA_DIR FEED COUNT [BATCH] [ITEMS]".into()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, feed) = match (args.first(), args.get(1)) {
        (Some(d), Some(f)) => (d.clone(), f.clone()),
        _ => return Err(usage()),
    };
    let number = |i: usize, default: u64| -> Result<u64, Box<dyn std::error::Error>> {
        match args.get(i) {
            Some(v) => Ok(v.replace('_', "").parse()?),
            None if i == 2 => Err(usage()),
            None => Ok(default),
        }
    };
    let count = number(2, 0)?;
    let batch = number(3, 10_000)?.max(1);
    let items = number(4, 10_000)?.max(1);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let store = Embedded::open(
        std::path::Path::new(&dir),
        std::slice::from_ref(&feed),
        Arc::new(SystemClock),
    )?;
    let log = store.feed(&feed).ok_or("feed not opened")?;
    let start_head = log.published().seq;

    let started = Instant::now();
    let mut done = 0u64;
    while done < count {
        let n = batch.min(count - done);
        let ops: Vec<Op> = (0..n)
            .map(|k| {
                let seq = start_head + done + k;
                let (i, round) = (seq % items, seq / items);
                Op::Put {
                    id: format!("item-{i}"),
                    payload: payload(i, round),
                }
            })
            .collect();
        rt.block_on(log.append(&ops))?;
        done += n;
    }
    let fill_s = started.elapsed().as_secs_f64();

    // One durable single-op append at a time: the flush (fsync) cost.
    let mut lat: Vec<f64> = Vec::with_capacity(200);
    for k in 0..200u64 {
        let op = Op::Put {
            id: "flush-probe".to_string(),
            payload: payload(u64::MAX, k),
        };
        let t = Instant::now();
        rt.block_on(log.append(std::slice::from_ref(&op)))?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: usize| lat[(lat.len() - 1) * p / 100];
    rt.block_on(store.flush())?;
    println!(
        "RESULT appended={count} head={} fill_s={fill_s:.2} fill_tx_per_s={:.0} flush_p50_ms={:.3} flush_p99_ms={:.3}",
        log.published().seq,
        count as f64 / fill_s.max(1e-9),
        pct(50),
        pct(99),
    );
    Ok(())
}
