//! A scriptable origin server for upstream tests: plain HTTP/1.1 over tokio
//! TCP, one request per connection. Each path answers with a [`Reply`] the
//! test sets (a body with validators, honouring If-None-Match and
//! If-Modified-Since with 304; an error status; a hang; a truncated body; a
//! redirect), optionally after a delay; every request is recorded.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub enum Reply {
    Body {
        body: Vec<u8>,
        content_type: &'static str,
        etag: Option<String>,
        last_modified: Option<String>,
        gzip: bool,
    },
    Status(u16),
    /// Read the request, then never answer.
    Hang,
    /// Declare `declared` bytes, send `body` (shorter), close.
    Truncated {
        body: Vec<u8>,
        declared: usize,
    },
    Redirect(String),
    /// A file (content mirroring): ETag `"file"`, `Range: bytes=N-` honoured
    /// when `ranges` (206; `If-Range` other than the ETag: the whole file),
    /// and, with `cut_after`, each answer declared whole but cut off after
    /// that many of its bytes.
    File {
        body: Vec<u8>,
        ranges: bool,
        cut_after: Option<usize>,
    },
}

impl Reply {
    pub fn json(v: &serde_json::Value) -> Reply {
        Reply::body(v.to_string(), "application/json")
    }

    pub fn body(body: impl Into<Vec<u8>>, content_type: &'static str) -> Reply {
        Reply::Body {
            body: body.into(),
            content_type,
            etag: None,
            last_modified: None,
            gzip: false,
        }
    }

    pub fn with_etag(mut self, tag: &str) -> Reply {
        if let Reply::Body { etag, .. } = &mut self {
            *etag = Some(tag.to_string());
        }
        self
    }

    pub fn with_last_modified(mut self, date: &str) -> Reply {
        if let Reply::Body { last_modified, .. } = &mut self {
            *last_modified = Some(date.to_string());
        }
        self
    }

    pub fn gzipped(mut self) -> Reply {
        if let Reply::Body { gzip, .. } = &mut self {
            *gzip = true;
        }
        self
    }
}

/// A request as the origin received it (header names lower case).
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Reply>,
    delay: Duration,
    seen: Vec<Seen>,
}

pub struct Origin {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Origin {
    pub async fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (st, h) = (state.clone(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (st, h) = (st.clone(), h.clone());
                tokio::spawn(async move { serve(stream, st, h).await });
            }
        });
        Origin {
            addr,
            state,
            hits,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answer `path` with `reply` from now on.
    pub fn set(&self, path: &str, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), reply);
    }

    /// Wait this long before answering any request.
    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn last_seen(&self) -> Seen {
        self.seen().pop().expect("a request")
    }
}

async fn serve(mut s: TcpStream, state: Arc<Mutex<State>>, hits: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let seen = Seen { path, headers };
    hits.fetch_add(1, Ordering::SeqCst);
    let (reply, delay) = {
        let mut st = state.lock().unwrap();
        st.seen.push(seen.clone());
        let route = seen.path.split('?').next().unwrap_or("");
        (st.routes.get(route).cloned(), st.delay)
    };
    tokio::time::sleep(delay).await;
    let out = match reply {
        None => response(404, &[], b"no such path"),
        Some(Reply::Status(code)) => response(code, &[], b"origin error"),
        Some(Reply::Hang) => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            return;
        }
        Some(Reply::Redirect(to)) => response(302, &[("Location", to)], b""),
        Some(Reply::File {
            body,
            ranges,
            cut_after,
        }) => file(&seen, &body, ranges, cut_after),
        Some(Reply::Truncated { body, declared }) => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
            )
            .into_bytes();
            out.extend_from_slice(&body);
            out
        }
        Some(Reply::Body {
            body,
            content_type,
            etag,
            last_modified,
            gzip,
        }) => {
            let matches =
                |h: &str, v: &Option<String>| v.is_some() && seen.header(h) == v.as_deref();
            let mut hs = vec![("Content-Type", content_type.to_string())];
            if let Some(e) = &etag {
                hs.push(("ETag", e.clone()));
            }
            if let Some(d) = &last_modified {
                hs.push(("Last-Modified", d.clone()));
            }
            if matches("if-none-match", &etag) || matches("if-modified-since", &last_modified) {
                response(304, &hs, b"")
            } else if gzip {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(&body).unwrap();
                hs.push(("Content-Encoding", "gzip".into()));
                response(200, &hs, &enc.finish().unwrap())
            } else {
                response(200, &hs, &body)
            }
        }
    };
    let _ = s.write_all(&out).await;
    let _ = s.shutdown().await;
}

fn file(seen: &Seen, body: &[u8], ranges: bool, cut_after: Option<usize>) -> Vec<u8> {
    let same = seen.header("if-range").is_none_or(|v| v == "\"file\"");
    let from = seen
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|_| ranges && same);
    let mut hs = vec![
        ("Content-Type", "audio/mpeg".to_string()),
        ("ETag", "\"file\"".to_string()),
    ];
    let mut out = match from {
        Some(n) if n >= body.len() => {
            hs.push(("Content-Range", format!("bytes */{}", body.len())));
            response(416, &hs, b"")
        }
        Some(n) => {
            hs.push((
                "Content-Range",
                format!("bytes {n}-{}/{}", body.len() - 1, body.len()),
            ));
            response(206, &hs, &body[n..])
        }
        None => response(200, &hs, body),
    };
    if let Some(cut) = cut_after {
        let head = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4);
        out.truncate((head + cut).min(out.len()));
    }
    out
}

fn response(status: u16, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if status != 304 {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}
