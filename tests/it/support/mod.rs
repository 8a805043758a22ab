//! Test harness: start the real server on 127.0.0.1:0 over a temporary data
//! dir, talk HTTP/1.1 to it over plain TCP, and read feeds back with a strict
//! XML parser. `binary` starts the real binary instead, `origin` is a
//! scriptable upstream origin and `upstream_kit` the helpers of upstream tests.

pub mod binary;
pub mod origin;
pub mod upstream_kit;

use feedgate::app::App;
use feedgate::clock::SystemClock;
use feedgate::config::Config;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub struct TestApp {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Start a gateway with feeds `news` and `other` plus `extra` TOML.
pub async fn spawn_app(extra: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_app_in(dir, extra).await
}

pub async fn spawn_app_in(dir: tempfile::TempDir, extra: &str) -> TestApp {
    let toml = format!(
        "data_dir = {:?}\n{extra}\n[feeds.news]\ntitle = \"News\"\nlink = \"https://example.org/news\"\ndescription = \"Company news\"\n[feeds.other]\n",
        dir.path().join("data")
    );
    let config = Config::from_toml(&toml).unwrap();
    let app = Arc::new(App::build(config, Arc::new(SystemClock)).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        feedgate::server::run(listener, app, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        addr,
        dir,
        stop: Some(tx),
        task: Some(task),
    }
}

impl TestApp {
    /// Stop the server and wait for it to drain and flush.
    pub async fn stop(self) -> tempfile::TempDir {
        let TestApp {
            dir, stop, task, ..
        } = self;
        if let Some(tx) = stop {
            let _ = tx.send(());
        }
        if let Some(task) = task {
            task.await.unwrap();
        }
        dir
    }

    pub async fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "PUT" || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(body);
        raw_request(self.addr, &raw).await
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.req("GET", path, headers, b"").await
    }

    pub async fn put(&self, feed: &str, id: &str, json: &str) -> Resp {
        let path = format!("/feeds/{feed}/items/{}", enc(id));
        self.req(
            "PUT",
            &path,
            &[("Content-Type", "application/json")],
            json.as_bytes(),
        )
        .await
    }

    pub async fn delete(&self, feed: &str, id: &str) -> Resp {
        self.req(
            "DELETE",
            &format!("/feeds/{feed}/items/{}", enc(id)),
            &[],
            b"",
        )
        .await
    }

    pub async fn batch(&self, feed: &str, json: &str) -> Resp {
        let path = format!("/feeds/{feed}/items");
        self.req(
            "POST",
            &path,
            &[("Content-Type", "application/json")],
            json.as_bytes(),
        )
        .await
    }

    /// The feed's head seq, from `GET /feeds`.
    pub async fn head(&self, feed: &str) -> u64 {
        let v = self.get("/feeds", &[]).await.json();
        v["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == feed)
            .unwrap()["head"]
            .as_u64()
            .unwrap()
    }
}

/// Percent-encode an id for a path segment.
pub fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Read exactly one response from a keep-alive connection, within `limit`.
pub async fn read_one(s: &mut TcpStream, limit: std::time::Duration) -> Option<Resp> {
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = Resp::parse(&buf[..end + 4]);
                let len: usize = head
                    .header("content-length")
                    .map_or(0, |v| v.parse().unwrap());
                if buf.len() >= end + 4 + len {
                    return Some(Resp::parse(&buf[..end + 4 + len]));
                }
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok().flatten()
}

/// Send raw bytes, read the whole response (the request asks to close).
pub async fn raw_request(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    Resp::parse(&buf)
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn parse(buf: &[u8]) -> Resp {
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete response head");
        let head = std::str::from_utf8(&buf[..split]).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        Resp {
            status,
            headers,
            body: buf[split + 4..].to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn etag(&self) -> String {
        self.header("etag").expect("an ETag").to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub fn feed(&self) -> Feed {
        Feed::parse(&self.body)
    }

    /// The problem document's `code`, after checking its media type.
    pub fn problem(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let v = self.json();
        assert_eq!(v["status"].as_u64(), Some(self.status as u64));
        v["code"].as_str().unwrap().to_string()
    }
}

pub const NS_IBMFS: &str = "http://purl.org/net/ibmfeedsvc/feedsvc/1.0";
pub const NS_WCM: &str = "http://purl.org/net/ibmfeedsvc/wcm/1.0";
pub const NS_SYNC: &str = "http://schemas.sage.com/sdata/sync/2008/1";
pub const NS_ATOM: &str = "http://www.w3.org/2005/Atom";
pub const NS_AT: &str = "http://purl.org/atompub/tombstones/1.0";

/// What a consumer reads from a feed document, RSS or Atom.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub atom: bool,
    pub etag: String,
    /// `lastBuildDate` (RSS) or `updated` (Atom).
    pub date: Option<String>,
    pub sync_mode: String,
    pub next: Option<String>,
    pub tick: u64,
    pub entries: Vec<FeedEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub id: String,
    pub action: String,
    pub tick: u64,
    pub title: Option<String>,
}

fn child<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name)
}

fn plain<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| {
        c.is_element() && c.tag_name().namespace().is_none() && c.tag_name().name() == name
    })
}

fn text(n: Option<roxmltree::Node<'_, '_>>) -> Option<String> {
    n.map(|n| n.text().unwrap_or("").to_string())
}

impl Feed {
    /// Parse strictly (roxmltree rejects anything that is not well-formed XML 1.0).
    pub fn parse(body: &[u8]) -> Feed {
        let s = std::str::from_utf8(body).expect("UTF-8 XML");
        let doc =
            roxmltree::Document::parse(s).unwrap_or_else(|e| panic!("not well-formed: {e}\n{s}"));
        let root = doc.root_element();
        let atom = root.tag_name().namespace() == Some(NS_ATOM);
        let feed = if atom {
            root
        } else {
            plain(root, "channel").expect("channel")
        };
        let link_ns = NS_ATOM;
        let next = feed
            .children()
            .find(|c| {
                c.tag_name().namespace() == Some(link_ns)
                    && c.tag_name().name() == "link"
                    && c.attribute("rel") == Some("next")
            })
            .and_then(|c| c.attribute("href").map(String::from));
        let digest = child(feed, NS_SYNC, "digest").expect("sync:digest");
        let tick = text(child(
            child(digest, NS_SYNC, "digestEntry").unwrap(),
            NS_SYNC,
            "tick",
        ))
        .unwrap()
        .parse()
        .unwrap();
        let entry_of = |n: roxmltree::Node<'_, '_>, id: String, title: Option<String>| FeedEntry {
            id,
            action: text(child(n, NS_WCM, "action")).expect("ibmwcm:action"),
            tick: text(child(
                child(n, NS_SYNC, "syncState").expect("syncState"),
                NS_SYNC,
                "tick",
            ))
            .unwrap()
            .parse()
            .unwrap(),
            title,
        };
        let mut entries = vec![];
        for n in feed.children().filter(|n| n.is_element()) {
            if atom && n.tag_name().namespace() == Some(NS_ATOM) && n.tag_name().name() == "entry" {
                let id = text(child(n, NS_ATOM, "id")).unwrap();
                let id = feedgate::render::item_id_from_atom(&id).unwrap_or(id);
                entries.push(entry_of(n, id, text(child(n, NS_ATOM, "title"))));
            } else if atom
                && n.tag_name().namespace() == Some(NS_AT)
                && n.tag_name().name() == "deleted-entry"
            {
                let r = n.attribute("ref").unwrap().to_string();
                let id = feedgate::render::item_id_from_atom(&r).unwrap_or(r);
                entries.push(entry_of(n, id, None));
            } else if !atom && n.tag_name().name() == "item" {
                let id = text(plain(n, "guid")).expect("guid");
                entries.push(entry_of(n, id, text(plain(n, "title"))));
            }
        }
        Feed {
            atom,
            etag: text(child(feed, NS_IBMFS, "etag")).expect("ibmfs:etag"),
            date: if atom {
                text(child(feed, NS_ATOM, "updated"))
            } else {
                text(plain(feed, "lastBuildDate"))
            },
            sync_mode: text(child(feed, NS_SYNC, "syncMode")).expect("syncMode"),
            next,
            tick,
            entries,
        }
    }

    pub fn ids(&self) -> Vec<(&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.id.as_str(), e.action.as_str()))
            .collect()
    }
}

impl TestApp {
    /// A client for a server started elsewhere (no ownership, no shutdown).
    pub fn client(addr: SocketAddr) -> TestApp {
        TestApp {
            addr,
            dir: tempfile::tempdir().unwrap(),
            stop: None,
            task: None,
        }
    }
}
