//! One second holding 50,000 transactions, read by 16 date consumers at once
//! with `limit=1`, against the real binary: each read is bounded by the
//! whole-second hard cap (`max_second_entries`), ends with a `next` link, and
//! the process's peak memory (`VmHWM`) stays bounded. The binary is a process
//! of its own, so the tests running beside this one in the test binary do
//! not count.

use crate::support::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_second_is_read_in_bounded_parts() {
    let (_dir, config) = binary::config_file(
        "max_body_bytes = 16777216\ningest_memory_bytes = 1073741824\nmax_second_entries = 2000\n[feeds.news]\n",
    );
    let mut proc = binary::serve(&config, &[]);
    let app = Client::new(proc.addr);
    // One batch: every transaction in one second.
    let items: Vec<String> = (0..50_000)
        .map(|i| {
            format!(
                r#"{{"id":"i{i}","title":"item {i}","summary":"{}"}}"#,
                "s".repeat(60)
            )
        })
        .collect();
    let r = app.batch("news", &format!("[{}]", items.join(","))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = r.json()["head"].as_u64().unwrap();
    assert_eq!(head, 50_000);
    // A fresh process for the reads, so the ingest's own peak is not counted.
    proc.term();
    assert_eq!(proc.wait_exit(), 0);
    let mut proc = binary::serve(&config, &[]);
    let app = Client::new(proc.addr);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = binary::status_kib(proc.child.id(), "VmHWM:");
    let first = app.get("/feeds/news?limit=1", &[]).await;
    assert_eq!(first.feed().entries.len(), 2000, "a catch-up is capped too");
    // It ends inside the batch's second: its date is the second before.
    let before_batch = first.header("last-modified").unwrap().to_string();
    let reads = (0..16).map(|i| {
        let app = Client::new(proc.addr);
        let date = before_batch.clone();
        tokio::spawn(async move {
            let r = if i % 2 == 0 {
                app.get("/feeds/news?limit=1", &[("If-Modified-Since", &date)])
                    .await
            } else {
                app.get(&format!("/feeds/news?limit=1&lastMod={}", enc(&date)), &[])
                    .await
            };
            assert_eq!(r.status, 200);
            // Past the cap the page ends inside the second: the date stays
            // at the second before, and `next` continues by ETag.
            assert_eq!(r.header("last-modified"), Some(date.as_str()));
            let feed = r.feed();
            assert!(feed.next.is_some());
            (feed.entries.len(), r.body.len())
        })
    });
    let mut sizes = vec![];
    for read in reads {
        sizes.push(read.await.unwrap());
    }
    let after = binary::status_kib(proc.child.id(), "VmHWM:");
    assert!(sizes.iter().all(|&(n, _)| n == 2000), "{sizes:?}");
    let body = sizes[0].1;
    eprintln!(
        "16 concurrent reads of a 50,000-transaction second: {} entries, {body} bytes each; \
         VmHWM {before} KiB before, {after} KiB after",
        sizes[0].0
    );
    // 16 pages of ~0.9 MB with their transactions and renderings (17 MiB in
    // a debug build here): far below
    // what the whole second would take (16 x 50,000 entries).
    let grew = after.saturating_sub(before);
    assert!(grew < 64 * 1024, "peak grew by {grew} KiB");
    proc.term();
    assert_eq!(proc.wait_exit(), 0);
}
