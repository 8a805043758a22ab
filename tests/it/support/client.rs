//! [`Client`]: ordinary requests to a gateway (one started in-process or the
//! real binary) through reqwest, and the shorthands of the push API.
//!
//! What goes on the wire is what the test wrote plus the client's own
//! headers: `Host` (unless the test sends one), `Connection: close` (each
//! request on a connection of its own, as the server sees a one-shot client),
//! `Accept: */*` (reqwest's default, which the server takes as no
//! preference, unless the test sends an `Accept`), and `Content-Length`
//! (`0` on a PUT or POST without a body). Nothing is followed, decompressed
//! or proxied. A request target the URL parser would rewrite (dot segments
//! such as `..` or `%2E%2E`, which the id `..` becomes; characters it
//! escapes) is written as given by [`raw::request`] instead.

use super::{raw, Resp};
use reqwest::header::{HeaderMap, HeaderValue, CONNECTION, CONTENT_LENGTH};
use reqwest::{Method, Url};
use std::net::SocketAddr;

/// Requests to the gateway at `addr`.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
    http: reqwest::Client,
}

/// Percent-encode an id for a path segment.
pub fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .no_proxy()
            .no_gzip()
            .no_hickory_dns()
            .build()
            .unwrap();
        Client { addr, http }
    }

    /// `method target` with `headers` and `body`, answered in full.
    pub async fn req(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let url = Url::parse(&format!("http://{}{target}", self.addr)).unwrap();
        let sent = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        if sent != target {
            return raw::request(self.addr, method, target, headers, body).await;
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method.clone(), url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if !body.is_empty() {
            request = request.body(body.to_vec());
        } else if method == Method::PUT || method == Method::POST {
            request = request.header(CONTENT_LENGTH, "0");
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {target}: {e:?}"));
        Resp::read(response).await
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
        self.feed_info(feed).await["head"].as_u64().unwrap()
    }

    /// The ETag of the feed's head, `"EPOCH.SEQ"`, from `GET /feeds`.
    pub async fn head_etag(&self, feed: &str) -> String {
        let f = self.feed_info(feed).await;
        format!("\"{}.{}\"", f["epoch"].as_str().unwrap(), f["head"])
    }

    async fn feed_info(&self, feed: &str) -> serde_json::Value {
        let v = self.get("/feeds", &[]).await.json();
        let f = v["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == feed);
        f.unwrap().clone()
    }
}
