//! Replica mode: gateway A (push) → gateway B (`upstream` = A's feed, format
//! feedgate) → consumer. B follows A page by page through A's ETags, converges
//! to A over rounds of adds, updates and deletes (more than a page at a
//! time), its consumer never receives a transaction twice, it keeps its
//! position across restarts, and it resyncs (with a diff) when A's epoch
//! changes.

use crate::support::{upstream_kit::*, *};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;

/// A's side: pages of 5 transactions, so a round of changes spans several pages.
const A_PAGES: &str = "default_limit = 5";

fn item(id: &str, round: u32) -> Value {
    json!({"id": id, "title": format!("{id} r{round}"), "summary": format!("<p>{id}</p>"),
           "link": format!("https://a.example/{id}"), "author": "Ann", "categories": ["c", id],
           "content": format!("<b>{round}</b>"), "content_type": "html",
           "published": "2024-05-01T10:00:00Z"})
}

/// Every item of `feed` on `app` as its JSON, via a consumer's final state.
async fn items_of(app: &TestApp, feed: &str, ids: &[(String, String)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (id, _) in ids {
        let r = app
            .get(&format!("/feeds/{feed}/items/{}", enc(id)), &[])
            .await;
        assert_eq!(r.status, 200, "{feed}/{id}");
        out.push(r.json());
    }
    out
}

/// B's consumer and an A consumer hold the same items with the same payloads.
async fn assert_converged(a: &TestApp, b: &TestApp, on_b: &mut Consumer) {
    on_b.poll(b).await;
    let mut on_a = Consumer::new("news");
    on_a.poll(a).await;
    assert_eq!(on_b.titles(), on_a.titles());
    assert_eq!(
        items_of(b, "mirror", &on_b.titles()).await,
        items_of(a, "news", &on_a.titles()).await
    );
}

#[tokio::test]
async fn a_replica_converges_and_its_consumer_never_sees_a_transaction_twice() {
    let a = TestApp::builder().toml(A_PAGES).spawn().await;
    let b = TestApp::builder()
        .toml(&mirror(
            &format!("http://{}/feeds/news", a.addr),
            "feedgate",
            "",
        ))
        .spawn()
        .await;
    let mut consumer = Consumer::new("mirror");

    // Round 1: twelve adds on A.
    let adds: Vec<Value> = (1..=12).map(|i| item(&format!("i{i:02}"), 1)).collect();
    assert_eq!(
        a.batch("news", &Value::from(adds).to_string()).await.status,
        200
    );
    assert_converged(&a, &b, &mut consumer).await;
    assert_eq!(consumer.state.len(), 12);

    // Round 2: 3 updates, 2 deletes, 7 adds = 12 transactions, three of A's pages.
    let mut ops: Vec<Value> = ["i01", "i02", "i03"].iter().map(|id| item(id, 2)).collect();
    ops.extend(
        ["i04", "i05"]
            .iter()
            .map(|id| json!({"id": id, "deleted": true})),
    );
    ops.extend((13..=19).map(|i| item(&format!("i{i:02}"), 2)));
    assert_eq!(
        a.batch("news", &Value::from(ops).to_string()).await.status,
        200
    );
    let before = consumer.seen.len();
    assert_eq!(b.get("/feeds/mirror", &[]).await.status, 200); // one sync
    let st = status(&b, "mirror").await;
    assert_eq!(st["last_mode"], "incremental");
    assert_eq!(
        st["last_pages"], 3,
        "only the new transactions, page by page: {st}"
    );
    assert_eq!(
        st["last_changes"],
        json!({"added": 7, "updated": 3, "deleted": 2})
    );
    assert_eq!(st["position"], feed_info(&a, "news").await["etag"]);
    assert_converged(&a, &b, &mut consumer).await;
    let round2: Vec<_> = consumer.seen[before..]
        .iter()
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(round2.iter().filter(|a| **a == "update").count(), 3);
    assert_eq!(round2.iter().filter(|a| **a == "delete").count(), 2);
    assert_eq!(round2.iter().filter(|a| **a == "add").count(), 7);

    // Round 3: A deletes almost everything (explicit deletes: no guard) and
    // changes one item twice.
    let mut ops: Vec<Value> = (1..=18)
        .filter(|i| ![4, 5].contains(i))
        .map(|i| json!({"id": format!("i{i:02}"), "deleted": true}))
        .collect();
    ops.push(item("i19", 3));
    assert_eq!(
        a.batch("news", &Value::from(ops).to_string()).await.status,
        200
    );
    a.put("news", "i19", &item("i19", 4).to_string()).await;
    a.put("news", "i20", &item("i20", 4).to_string()).await;
    assert_converged(&a, &b, &mut consumer).await;
    assert_eq!(
        consumer.titles(),
        [
            ("i19".into(), "i19 r4".into()),
            ("i20".into(), "i20 r4".into())
        ]
    );

    // Nothing new on A: B's consumer stays at 304, B appends nothing.
    let head = feed_info(&b, "mirror").await["head"].clone();
    assert!(consumer.once(&b).await.is_none());
    assert_eq!(feed_info(&b, "mirror").await["head"], head);
    assert_eq!(status(&b, "mirror").await["last_outcome"], "not_modified");
    let ticks: Vec<u64> = consumer.seen.iter().map(|e| e.tick).collect();
    assert!(
        ticks.windows(2).all(|w| w[0] < w[1]),
        "no transaction twice: {ticks:?}"
    );
}

#[tokio::test]
async fn a_replica_keeps_its_position_across_restarts() {
    let a = TestApp::builder().spawn().await;
    let extra = mirror(&format!("http://{}/feeds/news", a.addr), "feedgate", "");
    let b = TestApp::builder().toml(&extra).spawn().await;
    let mut consumer = Consumer::new("mirror");
    a.put("news", "x", &item("x", 1).to_string()).await;
    consumer.poll(&b).await;
    let dir = b.stop().await;
    a.put("news", "y", &item("y", 1).to_string()).await;
    let b = TestApp::builder().toml(&extra).dir(dir).spawn().await;
    let got = consumer.poll(&b).await;
    assert_eq!(triples(&got), [t("y", "add", 2)]);
    let st = status(&b, "mirror").await;
    assert_eq!(st["last_mode"], "incremental", "{st}");
    assert_converged(&a, &b, &mut consumer).await;
}

/// A gateway on a given address (so a replica can find a re-created A
/// there), with a store of its own.
async fn gateway_at(addr: SocketAddr) -> TestApp {
    TestApp::builder()
        .feeds("[feeds.news]\ntitle = \"News\"\n")
        .addr(addr)
        .spawn()
        .await
}

#[tokio::test]
async fn a_new_upstream_epoch_means_a_resync_with_a_diff() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let a1 = gateway_at(addr).await;
    let b = TestApp::builder()
        .toml(&mirror(
            &format!("http://{addr}/feeds/news"),
            "feedgate",
            "",
        ))
        .spawn()
        .await;
    let mut consumer = Consumer::new("mirror");
    for id in ["a", "b", "c"] {
        a1.put("news", id, &item(id, 1).to_string()).await;
    }
    assert_eq!(
        triples(&consumer.poll(&b).await),
        [t("a", "add", 1), t("b", "add", 2), t("c", "add", 3)]
    );
    let old_epoch = feed_info(&a1, "news").await["epoch"].clone();

    // A's log is re-created (new data dir): a new epoch, other items.
    a1.stop().await;
    let a2 = gateway_at(addr).await;
    a2.put("news", "a", &item("a", 2).to_string()).await;
    a2.put("news", "b", &item("b", 1).to_string()).await;
    a2.put("news", "d", &item("d", 1).to_string()).await;
    let new_epoch = feed_info(&a2, "news").await["epoch"].clone();
    assert_ne!(old_epoch, new_epoch);

    assert_eq!(
        triples(&consumer.poll(&b).await),
        [t("a", "update", 4), t("d", "add", 5), t("c", "delete", 6)]
    );
    let st = status(&b, "mirror").await;
    assert!(
        st["position"]
            .as_str()
            .unwrap()
            .starts_with(new_epoch.as_str().unwrap()),
        "{st}"
    );
    assert_converged(&a2, &b, &mut consumer).await;
}

#[tokio::test]
async fn max_pages_bounds_one_sync_and_the_next_sync_continues() {
    let a = TestApp::builder().toml(A_PAGES).spawn().await;
    let url = format!("http://{}/feeds/news", a.addr);
    let b = TestApp::builder()
        .toml(&mirror(&url, "feedgate", "max_pages = 2"))
        .spawn()
        .await;
    let mut consumer = Consumer::new("mirror");
    a.put("news", "first", &item("first", 1).to_string()).await;
    consumer.poll(&b).await; // B now holds a position: what follows is incremental
    let adds: Vec<Value> = (1..=12).map(|i| item(&format!("i{i:02}"), 1)).collect();
    assert_eq!(
        a.batch("news", &Value::from(adds).to_string()).await.status,
        200
    );
    b.get("/feeds/mirror", &[]).await;
    let st = status(&b, "mirror").await;
    assert_eq!(
        (st["last_pages"].as_u64(), st["more_pending"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(st["last_changes"]["added"], 10);
    b.get("/feeds/mirror", &[]).await;
    let st = status(&b, "mirror").await;
    assert_eq!(
        (st["last_pages"].as_u64(), st["more_pending"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(st["last_changes"]["added"], 2);
    assert_converged(&a, &b, &mut consumer).await;
    assert_eq!(consumer.state.len(), 13);
}

#[tokio::test]
async fn a_replica_of_a_protected_feed_authenticates_on_every_page() {
    let hash = feedgate::auth::hash_secret;
    let a = TestApp::builder().toml(&format!(
        "{A_PAGES}\n[credentials.reader]\ntoken_sha256 = \"{}\"\nroles = {{ news = \"read\" }}\n[credentials.writer]\ntoken_sha256 = \"{}\"\nroles = {{ news = \"write\" }}\n",
        hash("r-token"),
        hash("w-token")
    )).spawn().await;
    let adds: Vec<Value> = (1..=12).map(|i| item(&format!("i{i:02}"), 1)).collect();
    let pushed = a
        .req(
            "POST",
            "/feeds/news/items",
            &[
                ("Authorization", "Bearer w-token"),
                ("Content-Type", "application/json"),
            ],
            Value::from(adds).to_string().as_bytes(),
        )
        .await;
    assert_eq!(pushed.status, 200);
    let feed = format!("http://{}/feeds/news", a.addr);
    // By header, and by access_token in the URL (feedgate's next links drop
    // it; the replica adds it back on every page).
    for (url, keys) in [
        (
            feed.clone(),
            "headers = { Authorization = \"Bearer r-token\" }",
        ),
        (format!("{feed}?access_token=r-token"), ""),
    ] {
        let b = TestApp::builder()
            .toml(&mirror(&url, "feedgate", keys))
            .spawn()
            .await;
        let mut consumer = Consumer::new("mirror");
        consumer.poll(&b).await;
        assert_eq!(consumer.state.len(), 12, "{url}");
        let st = status(&b, "mirror").await;
        assert_eq!(st["state"], "ok", "{st}");
        assert!(!st.to_string().contains("r-token"), "{st}");
    }
    let b = TestApp::builder()
        .toml(&mirror(&feed, "feedgate", ""))
        .spawn()
        .await;
    b.get("/feeds/mirror", &[]).await;
    let st = status(&b, "mirror").await;
    assert_eq!(st["last_error"], "the origin answered HTTP 401", "{st}");
}

/// An item with neither link nor content gets its item URL as Atom alternate
/// link (RFC 4287 §4.1.1); a replica does not take that link for the item's.
#[tokio::test]
async fn the_item_url_link_of_a_bare_entry_is_not_replicated() {
    let a = TestApp::builder().spawn().await;
    let url = format!("http://{}/feeds/news", a.addr);
    let b = TestApp::builder()
        .toml(&mirror(&url, "feedgate", ""))
        .spawn()
        .await;
    a.put("news", "bare one", r#"{"title":"Bare"}"#).await;
    a.put(
        "news",
        "linked",
        r#"{"title":"L","link":"https://x.example/l"}"#,
    )
    .await;
    assert_eq!(b.get("/feeds/mirror", &[]).await.status, 200);
    for id in ["bare one", "linked"] {
        let on_a = a.get(&format!("/feeds/news/items/{}", enc(id)), &[]).await;
        let on_b = b
            .get(&format!("/feeds/mirror/items/{}", enc(id)), &[])
            .await;
        assert_eq!((on_b.status, on_b.json()), (200, on_a.json()), "{id}");
    }
}

/// The demo (fixtures/demo.toml) on a port of the test's choosing: its
/// replica names `/feeds/news`, a feed of the same gateway, so it follows
/// `--listen` (it used to hard-code 127.0.0.1:8080 and stay empty on any
/// other port), and the read that syncs it first shows what it synced (it
/// used to be empty: everything was stamped in the current second).
#[tokio::test]
async fn the_demo_replica_follows_the_demo_wherever_it_listens() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo.toml");
    let listen = format!("127.0.0.1:{port}");
    let data = dir.path().join("d");
    let proc = binary::start(
        &["serve", "--config", demo, "--listen", &listen],
        &[("FEEDGATE_DATA_DIR", data.to_str().unwrap())],
    );
    let client = Client::new(proc.addr);
    // The seed was written in the second the server started: a catch-up
    // shows it once that second is over.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let news = client.get("/feeds/news", &[]).await.feed();
    assert_eq!(news.entries.len(), 3, "the demo's seed");
    for path in ["/feeds/news-replica", "/feeds/news-replica.atom"] {
        let r = client.get(path, &[]).await;
        assert_eq!(r.status, 200, "{path}");
        let ids: Vec<String> = r.feed().entries.iter().map(|e| e.id.clone()).collect();
        let want: Vec<String> = news.entries.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, want, "{path}: the first read shows the synced items");
    }
    let info = client.get("/feeds", &[]).await.json();
    let replica = info["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "news-replica")
        .unwrap()
        .clone();
    assert_eq!(replica["upstream"]["state"], "ok");
    assert_eq!(
        replica["upstream"]["url"],
        format!("http://{listen}/feeds/news")
    );
    proc.kill();
}
