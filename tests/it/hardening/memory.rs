//! Memory on ingest is bounded by `ingest_memory_bytes`, asserted on
//! the real binary's peak resident memory (`VmHWM` in /proc/PID/status,
//! reset through /proc/PID/clear_refs once the binary rests), not by timing.
//! The binary is a process of its own, so the tests running beside this one
//! in the test binary do not count.
//!
//! The store keeps memory for what it holds (sled's tree grows with the
//! items written), so the same items are written twice, each time into a
//! fresh binary: one batch of 100 at a time (the reference: the store's own
//! growth), and as sixteen producers sending 2,000 items each at once. The
//! second may cost more than the first by the budget and the bodies on their
//! way in, no more: measured ~32 MiB more with a 32 MiB budget; without the
//! budget 110-140 MiB more (sled keeps a leaf copy per key until a whole
//! atomic batch is applied, ~6 KiB per item, and all sixteen ran at once).

use super::*;
use std::future::Future;

const BUDGET_MIB: u64 = 32;
/// The receiving pool: a quarter of the budget, at least one whole body.
const RECEIVING_MIB: u64 = 16;
const PRODUCERS: usize = 16;
const ITEMS: usize = 2_000;

/// A batch body of items `from..to` of producer `p`.
fn batch(p: usize, items: std::ops::Range<usize>) -> String {
    let items: Vec<String> = items
        .map(|n| format!(r#"{{"id":"p{p}-{n}","title":"Item {n}"}}"#))
        .collect();
    format!("[{}]", items.join(","))
}

/// Start a binary, let `load` write to it, and return how far its peak
/// resident memory rose above its resting size (MiB).
async fn peak_above_rest<F: Future<Output = ()>>(load: impl FnOnce(Client) -> F) -> u64 {
    let (_dir, cfg) = binary::config_file(&format!(
        "max_body_bytes = 16777216\ningest_memory_bytes = {}\n[feeds.news]\n",
        BUDGET_MIB << 20
    ));
    let p = binary::serve(&cfg, &[]);
    let (c, pid) = (Client::new(p.addr), p.child.id());
    let warm = c.batch("news", r#"[{"id":"warm","title":"up"}]"#).await;
    assert_eq!(warm.status, 200);
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let resting = binary::status_kib(pid, "VmRSS:");
    load(c.clone()).await;
    let peak = binary::status_kib(pid, "VmHWM:");
    let feeds = c.get("/feeds", &[]).await.json();
    assert_eq!(
        feeds["feeds"][0]["items"].as_u64(),
        Some((PRODUCERS * ITEMS) as u64 + 1)
    );
    p.kill();
    peak.saturating_sub(resting) >> 10
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_cost_at_most_the_ingest_budget() {
    let reference = peak_above_rest(|c| async move {
        for p in 0..PRODUCERS {
            for from in (0..ITEMS).step_by(100) {
                let r = c.batch("news", &batch(p, from..from + 100)).await;
                assert_eq!(r.status, 200);
            }
        }
    })
    .await;
    let concurrent = peak_above_rest(|c| async move {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let c = c.clone();
                tokio::spawn(async move { c.batch("news", &batch(p, 0..ITEMS)).await })
            })
            .collect();
        for producer in producers {
            let r = producer.await.unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
        }
        // A 12 MiB batch, under the raised body limit but more than the
        // budget could ever admit: refused on its declared length, unread.
        let head = format!(
            "POST /feeds/news/items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            12 << 20
        );
        let r = raw::send(c.addr, head.as_bytes()).await;
        assert_eq!((r.status, r.problem().as_str()), (413, "payload_too_large"));
        assert!(r.text().contains("ingest_memory_bytes"), "{}", r.text());
    })
    .await;
    let bound = reference + BUDGET_MIB + RECEIVING_MIB;
    eprintln!(
        "peak above rest: {reference} MiB one batch of 100 at a time, {concurrent} MiB with \
         {PRODUCERS} producers of {ITEMS} items at once (bound {bound} MiB)"
    );
    assert!(
        concurrent <= bound,
        "{concurrent} MiB above rest, bound {bound} MiB"
    );
}
