//! A WebSub subscriber for the hub's tests: an HTTP/1.1 server (hyper) on
//! 127.0.0.1:0 that answers verifications of intent (echoing
//! `hub.challenge`, or refusing when told to), records every verification
//! and delivery, and can fail a number of deliveries first.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// One delivery as the subscriber got it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// Answered 2xx (taken), or failed on purpose.
    pub taken: bool,
}

#[derive(Default)]
struct State {
    verifications: Mutex<Vec<HashMap<String, String>>>,
    deliveries: Mutex<Vec<Delivery>>,
    fail_next: AtomicUsize,
    refuse: AtomicBool,
    gone: AtomicBool,
    requests: AtomicUsize,
}

pub struct Subscriber {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Subscriber {
    pub async fn start() -> Subscriber {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(s.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Subscriber { addr, state }
    }

    /// This subscriber's origin, for `[websub] allow`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn callback(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answer the next `n` deliveries 500.
    pub fn fail_next(&self, n: usize) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Do not confirm verifications (answer 404).
    pub fn refuse(&self, yes: bool) {
        self.state.refuse.store(yes, Ordering::SeqCst);
    }

    /// Answer deliveries `410 Gone`.
    pub fn gone(&self, yes: bool) {
        self.state.gone.store(yes, Ordering::SeqCst);
    }

    pub fn verifications(&self) -> Vec<HashMap<String, String>> {
        self.state.verifications.lock().unwrap().clone()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().unwrap().clone()
    }

    /// Every request it was sent.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Wait (at most 15 s) until `done` holds of this subscriber.
    pub async fn until(&self, what: &str, done: impl Fn(&Subscriber) -> bool) {
        for _ in 0..3000 {
            if done(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!(
            "subscriber: {what} did not happen; verifications {:?}, {} deliveries",
            self.verifications(),
            self.deliveries().len()
        );
    }
}

async fn answer(
    s: Arc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let reply = |status: u16, body: Vec<u8>| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        Ok(r)
    };
    if req.method() == Method::GET {
        let q: HashMap<String, String> =
            form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let challenge = q.get("hub.challenge").cloned().unwrap_or_default();
        s.verifications.lock().unwrap().push(q);
        if s.refuse.load(Ordering::SeqCst) {
            return reply(404, Vec::new());
        }
        return reply(200, challenge.into_bytes());
    }
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
    let failing = s
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let gone = s.gone.load(Ordering::SeqCst);
    s.deliveries.lock().unwrap().push(Delivery {
        headers,
        body,
        taken: !failing && !gone,
    });
    match (gone, failing) {
        (true, _) => reply(410, Vec::new()),
        (_, true) => reply(500, Vec::new()),
        _ => reply(202, Vec::new()),
    }
}
