//! Durability of large items against the real binary: sled writes any log
//! message above a quarter of a segment (a large value, or a tree leaf whose
//! values add up to that) to a file of its own under `DATA_DIR/blobs`, which
//! it never syncs, so a power loss could lose such a write after it was
//! acknowledged. Every accepted size must stay in sled's synced log instead:
//! after each acknowledgement no blob file exists, and every acknowledged
//! item reads back intact after the process is killed and restarted.

use crate::support::{binary::start, *};
use std::path::Path;

/// The files under sled's blob directory (`sled::Config::blob_path`).
fn blobs(data: &Path) -> Vec<String> {
    match std::fs::read_dir(data.join("blobs")) {
        Ok(dir) => dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// `len` bytes of text that differ from item to item (an item read back
/// in another one's place, or with a piece out of order, does not match).
fn text(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

fn item(id: &str, seed: u64, len: usize) -> serde_json::Value {
    serde_json::json!({"id": id, "title": format!("t-{seed}"), "content": text(seed, len)})
}

/// The PUT body for `item` (without its id).
fn body(item: &serde_json::Value) -> String {
    let mut v = item.clone();
    v.as_object_mut().unwrap().remove("id");
    v.to_string()
}

#[tokio::test]
async fn acknowledged_large_items_never_leave_unsynced_blob_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("feedgate.toml");
    std::fs::write(&cfg, format!("data_dir = {data:?}\n[feeds.news]\n")).unwrap();
    let args = [
        "serve",
        "--config",
        cfg.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    let p = start(&args, &[]);
    let c = Client::new(p.addr);
    // What each item must read back as (None: deleted).
    let mut expect = std::collections::BTreeMap::new();
    let mut seed = 0;
    let ack = |what: String, r: Resp, expect_status: u16| {
        assert_eq!(r.status, expect_status, "{what}: {}", r.text());
        let found = blobs(&data);
        assert!(
            found.is_empty(),
            "after {what}: sled wrote {} unsynced blob file(s): {found:?}",
            found.len()
        );
    };

    // 40 items of 60 KiB: each record and each log chunk fits sled's limit
    // alone, but 17 of them side by side make a leaf far above it.
    for i in 0..40 {
        seed += 1;
        let it = item(&format!("mid-{i:02}"), seed, 60 << 10);
        let r = c.put("news", &format!("mid-{i:02}"), &body(&it)).await;
        ack(format!("PUT mid-{i:02}"), r, 201);
        expect.insert(format!("mid-{i:02}"), Some(it));
    }
    // Items just under the default body limit (1 MiB).
    for i in 0..3 {
        seed += 1;
        let it = item(&format!("big-{i}"), seed, (1 << 20) - 200);
        let b = body(&it);
        assert!(b.len() <= 1 << 20, "{}", b.len());
        let r = c.put("news", &format!("big-{i}"), &b).await;
        ack(format!("PUT big-{i}"), r, 201);
        expect.insert(format!("big-{i}"), Some(it));
    }
    // A large item replaced by a small one and a small one by a large one,
    // a large one deleted.
    seed += 1;
    let small = item("big-0", seed, 100);
    ack(
        "PUT big-0 small".into(),
        c.put("news", "big-0", &body(&small)).await,
        200,
    );
    expect.insert("big-0".into(), Some(small));
    seed += 1;
    let large = item("mid-00", seed, 900 << 10);
    ack(
        "PUT mid-00 large".into(),
        c.put("news", "mid-00", &body(&large)).await,
        200,
    );
    expect.insert("mid-00".into(), Some(large));
    ack("DELETE big-1".into(), c.delete("news", "big-1").await, 200);
    expect.insert("big-1".into(), None);
    // One atomic batch of ~1 MiB: 12 new items of 80 KiB and a deletion.
    let mut batch = Vec::new();
    for i in 0..12 {
        seed += 1;
        let it = item(&format!("batch-{i:02}"), seed, 80 << 10);
        expect.insert(format!("batch-{i:02}"), Some(it.clone()));
        batch.push(it);
    }
    batch.push(serde_json::json!({"id": "mid-01", "deleted": true}));
    expect.insert("mid-01".into(), None);
    let b = serde_json::Value::Array(batch).to_string();
    assert!(b.len() <= 1 << 20, "{}", b.len());
    ack("the batch".into(), c.batch("news", &b).await, 200);
    // The body limit still bounds a single PUT.
    let over = item("over", 0, 1 << 20);
    let r = c.put("news", "over", &body(&over)).await;
    assert_eq!(r.problem(), "payload_too_large");
    let head = c.head("news").await;
    assert_eq!(head, 40 + 3 + 3 + 13);

    // Power loss cannot be simulated here; what is on disk is checked above.
    // Kill the process (no shutdown flush) and read everything back.
    p.kill();
    let p = start(&args, &[]);
    let c = Client::new(p.addr);
    assert_eq!(c.head("news").await, head);
    for (id, want) in &expect {
        let r = c.get(&format!("/feeds/news/items/{id}"), &[]).await;
        match want {
            Some(want) => {
                assert_eq!(r.status, 200, "{id}");
                assert!(r.json() == *want, "{id} read back differently");
            }
            None => assert_eq!(r.problem(), "item_not_found", "{id}"),
        }
    }
    // The log reads back too: walk it page by page; each item's last entry
    // is its current state.
    let mut last = std::collections::HashMap::new();
    let mut path = "/feeds/news".to_string();
    let mut reached = false;
    for _ in 0..200 {
        let f = c.get(&path, &[]).await.feed();
        for e in f.entries {
            last.insert(e.id, (e.action, e.title));
        }
        if f.etag.ends_with(&format!(".{head}")) {
            reached = true;
            break;
        }
        path = format!("/feeds/news?etag={}", f.etag);
    }
    assert!(reached, "the walk did not reach the head");
    for (id, want) in &expect {
        match (want, last.get(id)) {
            (Some(want), Some((action, title))) => {
                assert_ne!(action, "delete", "{id}");
                assert_eq!(title.as_deref(), want["title"].as_str(), "{id}");
            }
            (None, None) => {}
            (None, Some((action, _))) => assert_eq!(action, "delete", "{id}"),
            (Some(_), None) => panic!("{id} is missing from the log"),
        }
    }
    let found = blobs(&data);
    assert!(found.is_empty(), "after restart: {found:?}");
    p.kill();
}
