//! Problem documents for the answers hyper writes itself.
//!
//! A request head hyper cannot parse (a malformed line: `400`; a head over
//! the size limits: `431`; a target too long: `414`) never reaches the
//! service: hyper answers it on its own, with an empty body, and closes the
//! connection. hyper 1.x has no hook to supply that answer (its
//! `on_parse_error` writes a bare status line), so [`ProblemIo`] sits between
//! hyper and the socket and replaces those bytes with the same status as an
//! `application/problem+json` document with a stable `code`
//! (`bad_request`, `uri_too_long`, `headers_too_large`).
//!
//! It recognises hyper's answer by its exact shape: one write holding a
//! whole `HTTP/1.1 4xx` head with `connection: close` and
//! `content-length: 0` and nothing after it. feedgate's own 4xx answers
//! always carry a body, so they never match. Any other write passes
//! through untouched (a first-byte check: a 304 or 200 status line is
//! rejected after comparing one byte).

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's socket, with hyper's bare error answers rewritten.
pub struct ProblemIo<S> {
    inner: S,
    /// A replacement still being written, and how much of it is out.
    pending: Option<(Bytes, usize)>,
}

impl<S> ProblemIo<S> {
    pub fn new(inner: S) -> Self {
        ProblemIo {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> ProblemIo<S> {
    /// Write out the pending replacement, if any.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.pending {
            if *done == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Take `buf` in place of hyper if it is one of hyper's bare answers.
    fn intercept(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Option<io::Result<usize>> {
        let replacement = replacement(buf)?;
        self.pending = Some((replacement, 0));
        // Started now; finished by later writes, the flush or the shutdown.
        match self.drain(cx) {
            Poll::Ready(Err(e)) => Some(Err(e)),
            _ => Some(Ok(buf.len())),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ProblemIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProblemIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        ready!(me.drain(cx))?;
        if let Some(done) = me.intercept(cx, buf) {
            return Poll::Ready(done);
        }
        Pin::new(&mut me.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        ready!(me.drain(cx))?;
        let mut written = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (written.next(), written.next()) {
            if let Some(done) = me.intercept(cx, only) {
                return Poll::Ready(done);
            }
        }
        Pin::new(&mut me.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(me.drain(cx))?;
        Pin::new(&mut me.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(me.drain(cx))?;
        Pin::new(&mut me.inner).poll_shutdown(cx)
    }
}

/// The problem+json answer that replaces `buf`, if `buf` is hyper's bare
/// answer to an unparseable request.
fn replacement(buf: &[u8]) -> Option<Bytes> {
    if buf.get(9) != Some(&b'4') || !buf.starts_with(b"HTTP/1.1 ") {
        return None;
    }
    let head = buf.strip_suffix(b"\r\n\r\n")?;
    let has = |line: &[u8]| {
        head.split(|&b| b == b'\n').any(|l| {
            l.strip_suffix(b"\r")
                .unwrap_or(l)
                .eq_ignore_ascii_case(line)
        })
    };
    if head.windows(4).any(|w| w == b"\r\n\r\n")
        || !has(b"content-length: 0")
        || !has(b"connection: close")
    {
        return None;
    }
    let (status, code, detail) = match buf.get(9..12)? {
        b"400" => (
            hyper::StatusCode::BAD_REQUEST,
            "bad_request",
            "the request is not valid HTTP/1.1 (its request line or a header line is malformed)",
        ),
        b"414" => (
            hyper::StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "the request target is too long",
        ),
        b"431" => (
            hyper::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request head is larger than 64 KiB or has more than 100 header lines",
        ),
        _ => return None,
    };
    let date = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| l.len() > 6 && l[..6].eq_ignore_ascii_case(b"date: "));
    let body = crate::error::problem_json(status, code, detail);
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\nconnection: close\r\ncontent-length: {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    if let Some(date) = date {
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 29 Nov 2026 12:41:24 GMT\r\n\r\n";

    #[test]
    fn only_hypers_bare_answers_are_replaced() {
        let out = replacement(HYPER_431).expect("replaced");
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.contains("content-type: application/problem+json\r\n"));
        assert!(text.contains("date: Sun, 29 Nov 2026 12:41:24 GMT\r\n"));
        let body = text.split("\r\n\r\n").nth(1).unwrap();
        assert!(text.contains(&format!("content-length: {}\r\n", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            (v["status"].as_u64(), v["code"].as_str()),
            (Some(431), Some("headers_too_large"))
        );
        let bad = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert!(replacement(bad).is_some());
        for kept in [
            &b"HTTP/1.1 304 Not Modified\r\netag: \"e.1\"\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            b"body bytes 4xx",
            b"",
        ] {
            assert!(replacement(kept).is_none(), "{}", String::from_utf8_lossy(kept));
        }
    }

    #[tokio::test]
    async fn the_replacement_is_written_whole_through_a_slow_socket() {
        let (client, server) = tokio::io::duplex(16);
        let mut io = ProblemIo::new(server);
        let writer = tokio::spawn(async move {
            io.write_all(HYPER_431).await.unwrap();
            io.write_all(b"").await.unwrap();
            io.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        let mut client = client;
        tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got)
            .await
            .unwrap();
        writer.await.unwrap();
        assert_eq!(got, replacement(HYPER_431).unwrap());
    }
}
