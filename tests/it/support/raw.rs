//! Raw exchanges over TCP, for the tests where the bytes on the wire are the
//! point: malformed requests, framing, keep-alive, HTTP/1.0, `Host` rules,
//! slow clients, connections that close or stay idle. Ordinary requests go
//! through [`Client`](super::Client).

use super::Resp;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Send `raw`, read the whole response (the request asks to close).
pub async fn send(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    Resp::parse(&buf)
}

/// Read exactly one response from a keep-alive connection, within `limit`.
pub async fn read_one(s: &mut TcpStream, limit: Duration) -> Option<Resp> {
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

/// `method target` with `headers` and `body`, written as is (after `Host`
/// and `Connection: close`, with a `Content-Length` for a body or a PUT or
/// POST), for targets an URL parser would rewrite (dot segments).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "PUT" || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    send(addr, &raw).await
}

/// Send `raw` on a new connection and read until the server closes (at most
/// `limit`); `None` if it neither answered nor closed in time. The server
/// may close before it has read everything: write errors are ignored, and a
/// reset after a response still leaves the response in the bytes read.
pub async fn exchange(addr: SocketAddr, raw: &[u8], limit: Duration) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(raw).await;
    let mut buf = Vec::new();
    match timeout(limit, s.read_to_end(&mut buf)).await {
        Ok(_) => Some(buf),
        Err(_) => None,
    }
}

/// [`exchange`] that expects one complete response.
pub async fn answer(addr: SocketAddr, raw: &[u8], limit: Duration) -> Resp {
    let buf = exchange(addr, raw, limit).await.unwrap_or_else(|| {
        panic!(
            "no answer within {limit:?} to {}",
            String::from_utf8_lossy(raw)
        )
    });
    assert!(
        buf.windows(4).any(|w| w == b"\r\n\r\n"),
        "closed without a response: {:?}",
        String::from_utf8_lossy(&buf)
    );
    Resp::parse(&buf)
}

/// Whether the server has closed `s` (EOF or reset) within `limit`.
pub async fn closed(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        timeout(limit, s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}
