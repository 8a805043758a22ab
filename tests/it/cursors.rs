//! Every cursor is lossless (PROTOCOL §2-3): four followers, each keeping a
//! different validator, poll while several writers append, and each ends up
//! having seen every seq; writes whose clients hang up are published like
//! acknowledged ones; and the small rules around validators.

use crate::support::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// What a follower keeps between polls.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Keeps {
    /// `Last-Modified`, sent back as `If-Modified-Since`.
    IfModifiedSince,
    /// `<lastBuildDate>`, sent back as `?lastMod=`.
    LastMod,
    /// The `ETag`, sent back as `If-None-Match`.
    IfNoneMatch,
    /// `<ibmfs:etag>` as `?etag=`, following `next` links.
    EtagAndNext,
}

struct Follower {
    keeps: Keeps,
    /// The validator it stores after processing a response.
    stored: Option<String>,
    /// The next URL to fetch (`EtagAndNext`).
    next: Option<String>,
    /// Every seq it has processed, in order.
    seen: Vec<u64>,
    polls: usize,
}

impl Follower {
    fn new(keeps: Keeps) -> Follower {
        Follower {
            keeps,
            stored: None,
            next: None,
            seen: vec![],
            polls: 0,
        }
    }

    /// One poll; returns whether it got a page.
    async fn poll(&mut self, app: &TestApp) -> bool {
        self.polls += 1;
        let (path, headers) = match (self.keeps, &self.stored) {
            (Keeps::IfModifiedSince, Some(v)) => ("/feeds/news?limit=4".into(), vec![v.clone()]),
            (Keeps::LastMod, Some(v)) => {
                (format!("/feeds/news?limit=4&lastMod={}", enc(v)), vec![])
            }
            (Keeps::IfNoneMatch, Some(v)) => ("/feeds/news?limit=4".into(), vec![v.clone()]),
            (Keeps::EtagAndNext, Some(v)) => match &self.next {
                // The next link is absolute; ask the same server for its path.
                Some(next) => (path_of(next), vec![]),
                None => (format!("/feeds/news?limit=4&etag={}", enc(v)), vec![]),
            },
            (_, None) => ("/feeds/news?limit=4".into(), vec![]),
        };
        let name = match self.keeps {
            Keeps::IfModifiedSince => "If-Modified-Since",
            _ => "If-None-Match",
        };
        let hdrs: Vec<(&str, &str)> = headers.iter().map(|v| (name, v.as_str())).collect();
        let r = app.get(&path, &hdrs).await;
        assert!(
            r.header("last-modified").is_some(),
            "{:?}: no Last-Modified",
            self.keeps
        );
        if r.status == 304 {
            return false;
        }
        assert_eq!(r.status, 200, "{:?} {path}: {r:?}", self.keeps);
        let feed = r.feed();
        self.seen.extend(feed.entries.iter().map(|e| e.tick));
        self.stored = Some(match self.keeps {
            Keeps::IfModifiedSince => r.header("last-modified").unwrap().to_string(),
            Keeps::LastMod => feed.date.clone().expect("lastBuildDate"),
            Keeps::IfNoneMatch => r.etag(),
            Keeps::EtagAndNext => feed.etag.clone(),
        });
        self.next = feed.next.clone();
        true
    }
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".into(), |i| rest[i..].to_string())
}

/// Writers add new items (so no collapse hides a seq) for 10 s while
/// four followers poll; then the seconds close and everyone catches up.
const WRITERS: u64 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_followers_see_every_seq_under_concurrent_writes() {
    let app = Arc::new(TestApp::builder().spawn().await);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = vec![];
    for w in 0..WRITERS {
        let (app, stop) = (app.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r = app
                    .put("news", &format!("w{w}-{n}"), r#"{"title":"t"}"#)
                    .await;
                assert_eq!(r.status, 201, "{r:?}");
                n += 1;
                if n % 7 == 0 {
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            }
            n
        }));
    }
    // Each follower polls on its own, as fast as it can.
    let mut tasks = vec![];
    for keeps in [
        Keeps::IfModifiedSince,
        Keeps::LastMod,
        Keeps::IfNoneMatch,
        Keeps::EtagAndNext,
    ] {
        let (app, stop) = (app.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut f = Follower::new(keeps);
            while !stop.load(Ordering::Relaxed) {
                f.poll(&app).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            f
        }));
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop.store(true, Ordering::Relaxed);
    let mut written = 0;
    for w in writers {
        written += w.await.unwrap();
    }
    let mut followers = vec![];
    for t in tasks {
        followers.push(t.await.unwrap());
    }
    // Let the last second close, then poll until each is at the head.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let head = app.head("news").await;
    assert_eq!(head, written, "every write appended one transaction");
    for f in &mut followers {
        for _ in 0..(head as usize + 10) {
            if !f.poll(&app).await && f.next.is_none() {
                break;
            }
        }
        let got: BTreeSet<u64> = f.seen.iter().copied().collect();
        let missed: Vec<u64> = (1..=head).filter(|s| !got.contains(s)).collect();
        assert!(
            missed.is_empty(),
            "{:?} missed {} of {head} seqs in {} polls: {missed:?}",
            f.keeps,
            missed.len(),
            f.polls
        );
    }
    // Followers by ETag never see a seq twice.
    for f in &followers[2..] {
        assert_eq!(f.seen.len() as u64, head, "{:?} repeated seqs", f.keeps);
    }
    eprintln!(
        "{head} transactions from {WRITERS} writers; polls: {:?}",
        followers.iter().map(|f| f.polls).collect::<Vec<_>>()
    );
}

/// A 200 KB PUT whose client closes the socket right after sending: if the
/// item is stored, it is visible, and an identical retry names a visible seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_writes_are_published_or_not_applied() {
    let app = TestApp::builder().spawn().await;
    let big = format!(r#"{{"title":"big","content":"{}"}}"#, "x".repeat(200_000));
    let mut applied = 0;
    for i in 0..20 {
        let id = format!("abandoned-{i}");
        let head = format!(
            "PUT /feeds/news/items/{id} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            big.len()
        );
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(big.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        drop(s);
        // Give the server time to decide; then what it stored must be visible.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let item = app.get(&format!("/feeds/news/items/{id}"), &[]).await;
        if item.status == 404 {
            continue;
        }
        assert_eq!(item.status, 200);
        applied += 1;
        let visible = app.head("news").await;
        let catch_up = app.get("/feeds/news?limit=1000", &[]).await;
        let mut ids: Vec<String> = catch_up.feed().entries.into_iter().map(|e| e.id).collect();
        let mut etag = catch_up.etag();
        loop {
            let r = app.get("/feeds/news", &[("If-None-Match", &etag)]).await;
            if r.status == 304 {
                break;
            }
            ids.extend(r.feed().entries.into_iter().map(|e| e.id));
            etag = r.etag();
        }
        assert!(ids.contains(&id), "{id} stored but not in the feed");
        let retry = app.put("news", &id, &big).await;
        assert_eq!(retry.status, 200);
        let v = retry.json();
        assert_eq!(v["action"], "unchanged");
        let seq = v["seq"].as_u64().unwrap();
        assert!(
            seq <= visible,
            "retry names seq {seq} beyond the head {visible}"
        );
        assert!(retry
            .etag()
            .ends_with(&format!(".{}\"", app.head("news").await)));
    }
    eprintln!("{applied} of 20 abandoned writes were applied");
}

#[tokio::test]
async fn validator_edges() {
    let app = TestApp::builder().spawn().await;
    for i in 1..=3 {
        app.put("news", &format!("i{i}"), r#"{"title":"t"}"#).await;
    }
    let epoch = app.get("/feeds", &[]).await.json()["feeds"][0]["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    // A `*` inside a list is no tag: the list's position counts.
    let list = format!("\"{epoch}.1\", *");
    let r = app.get("/feeds/news", &[("If-None-Match", &list)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.etag(), format!("\"{epoch}.3\""));
    assert_eq!(
        r.feed().entries.iter().map(|e| e.tick).collect::<Vec<_>>(),
        [2, 3]
    );
    // Several If-None-Match lines are one list: the highest position wins.
    let (one, two) = (format!("\"{epoch}.1\""), format!("\"{epoch}.2\""));
    let r = app
        .get(
            "/feeds/news",
            &[("If-None-Match", &one), ("If-None-Match", &two)],
        )
        .await;
    assert_eq!(
        r.feed().entries.iter().map(|e| e.tick).collect::<Vec<_>>(),
        [3]
    );
    // A limit with too many digits is clamped like any large one.
    let r = app
        .get("/feeds/news?limit=99999999999999999999999", &[])
        .await;
    assert_eq!(r.status, 200);
    for bad in ["-1", "1e3", "0"] {
        let r = app.get(&format!("/feeds/news?limit={bad}"), &[]).await;
        assert_eq!((r.status, r.problem().as_str()), (400, "invalid_parameter"));
    }
    // Item ids no item can have are bad requests, for GET and DELETE alike.
    let long = "a".repeat(257);
    for id in ["a%01b", long.as_str()] {
        let r = app.get(&format!("/feeds/news/items/{id}"), &[]).await;
        assert_eq!((r.status, r.problem().as_str()), (400, "invalid_parameter"));
        let r = app
            .req("DELETE", &format!("/feeds/news/items/{id}"), &[], b"")
            .await;
        assert_eq!((r.status, r.problem().as_str()), (400, "invalid_parameter"));
    }
    assert_eq!(app.head("news").await, 3, "nothing changed");
}

/// Position 0 has a Last-Modified too (the second before the log was
/// created), so `curl -R -z` and `wget -N` never date their copy by their
/// own clock; a date at it selects everything.
#[tokio::test]
async fn an_empty_feed_has_a_last_modified_that_loses_nothing() {
    let app = TestApp::builder().spawn().await;
    let r = app.get("/feeds/news", &[]).await;
    let lm = r
        .header("last-modified")
        .expect("Last-Modified at position 0")
        .to_string();
    assert_eq!(r.feed().date.as_deref(), Some(lm.as_str()));
    let at_0 = app.get("/feeds/news", &[("If-Modified-Since", &lm)]).await;
    assert_eq!(at_0.status, 304);
    assert_eq!(at_0.header("last-modified"), Some(lm.as_str()));
    app.put("news", "a", r#"{"title":"t"}"#).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = app.get("/feeds/news", &[("If-Modified-Since", &lm)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.feed().ids(), [("a", "add")]);
}
