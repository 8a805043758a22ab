//! [`Client`]: ordinary requests to a gateway (one started in-process or the
//! real binary), each on a connection of its own, and the shorthands of the
//! push API.

use super::{raw, Resp};
use std::net::SocketAddr;

/// Requests to the gateway at `addr`.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
}

/// Percent-encode an id for a path segment.
pub fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr }
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
        raw::send(self.addr, &raw).await
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
