//! Raw exchanges over TCP, for the tests where the bytes on the wire are the
//! point: malformed requests, framing, keep-alive, HTTP/1.0, `Host` rules,
//! slow clients. Ordinary requests go through [`Client`](super::Client).

use super::Resp;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
