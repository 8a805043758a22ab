//! Syncers of two processes on one shared store: one fetches, the other
//! answers from the log.

use super::*;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::store::postgres::{testing::server, Postgres};
use std::sync::atomic::AtomicUsize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A JSON origin that answers every request with `body` after `delay`;
/// its URL and the count of requests it received.
async fn origin(body: &'static str, delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/items.json", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                tokio::time::sleep(delay).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
            });
        }
    });
    (url, hits)
}

fn upstream(url: &str) -> UpstreamConfig {
    let c = Config::from_toml(&format!(
        "[feeds.news]\nupstream = {{ url = \"{url}\", format = \"json\", refresh = \"0s\" }}\n"
    ))
    .unwrap();
    c.feeds["news"].upstream.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_processes_syncing_at_once_one_fetches_and_the_other_serves_the_log() {
    let Some(server) = server() else { return };
    let db = server.database().await;
    let (url, hits) = origin(
        r#"[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]"#,
        Duration::from_millis(500),
    )
    .await;
    let config = upstream(&url);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let feeds = ["news".to_string()];
    let metrics = Arc::new(Metrics::new(["news"]));
    let mut processes = Vec::new();
    for _ in 0..2 {
        let store = Postgres::open(&db, &feeds, clock.clone()).await.unwrap();
        let ups =
            Upstreams::build([("news", config.clone())], &store, clock.clone(), &metrics).unwrap();
        processes.push((store, ups));
    }
    let (sa, sb) = (
        processes[0].1.get("news").unwrap().clone(),
        processes[1].1.get("news").unwrap().clone(),
    );
    tokio::join!(sa.sync_now(), sb.sync_now());
    assert_eq!(hits.load(Ordering::SeqCst), 1, "both processes fetched");
    let mut outcomes = [sa.status().last_outcome, sb.status().last_outcome];
    outcomes.sort();
    assert_eq!(outcomes, [Some("applied"), Some("elsewhere")]);
    let waiting = if sa.status().last_outcome == Some("elsewhere") {
        &sa
    } else {
        &sb
    };
    assert_eq!(waiting.status().state, "never");
    assert_eq!(waiting.status().syncs, 0);
    // Both processes serve what the one sync wrote.
    for (store, _) in &processes {
        let log = store.feed("news").unwrap();
        assert_eq!(log.head_at_least(2).await.unwrap(), 2);
        assert_eq!(log.items().await.unwrap().len(), 2);
    }
    // The turn was given back: the next sync fetches again, in either process.
    for _ in 0..1000 {
        waiting.sync_now().await;
        if waiting.status().last_outcome != Some("elsewhere") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(waiting.status().last_outcome, Some("unchanged"));
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}
