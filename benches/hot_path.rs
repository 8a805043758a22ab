//! Micro-benchmarks of feedgate's hot paths (criterion, statistics only).
//!
//! `cargo bench --bench hot_path` measures; `cargo test --all-targets` (and
//! `cargo bench -- --test`) runs each benchmark once as a test, so CI checks
//! they work without timing anything.
//!
//! - `cursor/*`: choosing a request's cursor from its validators (the first
//!   thing every poll does): one ETag, a list of three, an `etag` query
//!   parameter, an HTTP date.
//! - `plan/*`: deciding a 304 (through `plan`, and at once as polls are
//!   answered: `plan_at_once`), and planning a 100-entry delta page over a
//!   store of 10,000 transactions (scan, decode, one entry per item).
//! - `render/*`: a 100-entry page (~500 bytes per entry) as RSS and as Atom.
//! - `append/*`: one durable append of a single item and of a batch of 1,000
//!   (apply under the writer lock, then the group-commit flush: sled `flush`,
//!   i.e. write + fsync, in a temporary store under the system temp dir).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use feedgate::clock::SystemClock;
use feedgate::cursor::{self, Cursor, Validators};
use feedgate::model::{Action, Entry, Payload};
use feedgate::protocol::{self, Limits};
use feedgate::render::{self, Document, Format, SyncMode};
use feedgate::store::embedded::Embedded;
use feedgate::store::{Backend, Op};
use std::hint::black_box;
use std::sync::Arc;

/// The allocator of the `feedgate` binary, so each path costs what serving does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EPOCH: &str = "3f0c9a1e2b7d4c55";
const NOW_SECS: u64 = 1_764_073_463;
const FEED_URL: &str = "http://127.0.0.1:8080/feeds/bench";

/// An item's payload of the size `scripts/bench` uses (~500 bytes rendered).
fn payload(i: u64) -> Payload {
    Payload {
        title: Some(format!("Item {i}: revision 1 of a benchmark entry")),
        link: Some(format!("https://example.org/items/{i}?rev=1")),
        summary: Some(format!(
            "Revision 1 of item {i}. A summary of about two hundred bytes, as a typical \
             feed entry carries: what changed, for whom, and where to read more about it."
        )),
        author: Some("Benchmark".to_string()),
        categories: vec!["bench".to_string()],
        ..Payload::default()
    }
}

fn put(i: u64) -> Op {
    Op::Put {
        id: format!("item-{i}"),
        payload: payload(i),
    }
}

fn cursors(c: &mut Criterion) {
    let one = format!("\"{EPOCH}.9000\"");
    let list = format!("W/\"other.5\", \"{EPOCH}.8000\", \"{EPOCH}.9000\"");
    let query = format!("{EPOCH}.9000");
    let cases = [
        (
            "if_none_match",
            Validators {
                if_none_match: Some(&one),
                ..Validators::default()
            },
        ),
        (
            "if_none_match_list",
            Validators {
                if_none_match: Some(&list),
                ..Validators::default()
            },
        ),
        (
            "etag_parameter",
            Validators {
                etag: Some(&query),
                ..Validators::default()
            },
        ),
        (
            "if_modified_since",
            Validators {
                if_modified_since: Some("Tue, 25 Nov 2025 12:24:23 GMT"),
                ..Validators::default()
            },
        ),
    ];
    let mut g = c.benchmark_group("cursor");
    for (name, v) in cases {
        let expected = cursor::resolve(&v, EPOCH, 10_000, NOW_SECS);
        assert_ne!(expected, Cursor::CatchUp, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| cursor::resolve(black_box(&v), EPOCH, 10_000, NOW_SECS))
        });
    }
    g.finish();
}

/// A 100-entry delta page: 95 updates and 5 deletes.
fn entries() -> Vec<Entry> {
    (0..100u64)
        .map(|i| {
            let delete = i % 20 == 19;
            Entry {
                seq: 9_001 + i,
                id: format!("item-{i}"),
                action: if delete {
                    Action::Delete
                } else {
                    Action::Update
                },
                stamp: 1_764_073_400_000 + i * 7,
                payload: (!delete).then(|| payload(i)),
            }
        })
        .collect()
}

/// The 100-entry document the render and gzip benchmarks share.
fn document(entries: &[Entry]) -> Document<'_> {
    Document {
        title: "Bench",
        link: "https://example.org/bench",
        description: "Benchmark feed",
        feed_url: FEED_URL,
        self_url: FEED_URL,
        next_url: Some("http://127.0.0.1:8080/feeds/bench?etag=3f0c9a1e2b7d4c55.9100"),
        hub_url: None,
        etag: "3f0c9a1e2b7d4c55.9100",
        last_modified: Some(1_764_073_400_693),
        sync_mode: SyncMode::Immediate,
        head_tick: 10_001,
        head_stamp: Some(1_764_073_463_000),
        entries,
        upstream: None,
    }
}

fn rendering(c: &mut Criterion) {
    let entries = entries();
    let doc = document(&entries);
    let mut g = c.benchmark_group("render");
    for (name, format) in [("rss_100", Format::Rss), ("atom_100", Format::Atom)] {
        let bytes = render::render(format, &doc).len();
        assert!(bytes > 40_000, "{name}: {bytes} bytes");
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(name, |b| b.iter(|| render::render(format, black_box(&doc))));
    }
    g.finish();
}

/// gzip of a 100-entry RSS page at the two levels feed pages use: once
/// per kept page (`CACHED_LEVEL`), per response otherwise (`FRESH_LEVEL`).
fn compressing(c: &mut Criterion) {
    let entries = entries();
    let doc = document(&entries);
    let page = render::render(Format::Rss, &doc);
    let mut g = c.benchmark_group("gzip_page_100");
    g.throughput(Throughput::Bytes(page.len() as u64));
    for (name, level) in [
        ("cached_level", feedgate::http::CACHED_LEVEL),
        ("fresh_level", feedgate::http::FRESH_LEVEL),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| feedgate::http::gzip(black_box(&page), level))
        });
    }
    g.finish();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn planning(c: &mut Criterion) {
    let rt = runtime();
    let store = Embedded::temporary(&["bench".to_string()], Arc::new(SystemClock)).expect("store");
    let log = store.feed("bench").expect("feed");
    for chunk in 0..10u64 {
        let ops: Vec<Op> = (0..1_000).map(|i| put(chunk * 1_000 + i)).collect();
        rt.block_on(log.append(&ops)).expect("append");
    }
    let limits = Limits {
        max_entries: 100,
        max_bytes: 1 << 20,
        second_entries: usize::MAX,
        second_bytes: usize::MAX,
    };
    let now = NOW_SECS * 1000;
    let head = log.head();
    let mut g = c.benchmark_group("plan");
    g.bench_function("not_modified", |b| {
        b.iter(|| {
            rt.block_on(protocol::plan(
                log.as_ref(),
                Cursor::Seq(black_box(head)),
                now,
                limits,
            ))
        })
    });
    g.bench_function("at_once_304", |b| {
        b.iter(|| protocol::plan_at_once(log.as_ref(), Cursor::Seq(black_box(head)), now))
    });
    g.bench_function("delta_100_of_10k", |b| {
        b.iter(|| {
            rt.block_on(protocol::plan(
                log.as_ref(),
                Cursor::Seq(black_box(9_000)),
                now,
                limits,
            ))
        })
    });
    g.finish();
}

fn appending(c: &mut Criterion) {
    let rt = runtime();
    let store = Embedded::temporary(&["bench".to_string()], Arc::new(SystemClock)).expect("store");
    let log = store.feed("bench").expect("feed");
    let mut next = 0u64;
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    g.bench_function("single", |b| {
        b.iter_batched(
            || {
                next += 1;
                vec![put(next)]
            },
            |ops| rt.block_on(log.append(&ops)).expect("append"),
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(1_000));
    g.sample_size(20);
    g.bench_function("batch_1000", |b| {
        b.iter_batched(
            || {
                next += 1_000;
                (next..next + 1_000).map(put).collect::<Vec<_>>()
            },
            |ops| rt.block_on(log.append(&ops)).expect("append"),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    cursors,
    planning,
    rendering,
    compressing,
    appending
);
criterion_main!(benches);
