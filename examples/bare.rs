//! The limit for `scripts/bench`: a hyper 1.x server with no logic at all.
//!
//! `cargo run --release --example bare -- ADDR BODY_FILE ETAG CONTENT_TYPE`
//!
//! It answers every request with a fixed response, built once at start: a
//! request carrying `If-None-Match` gets `304` with the same headers
//! feedgate's 304 carries (`ETag`, `Last-Modified`, `Cache-Control`, `Vary`;
//! hyper adds `Date`); any other request gets `200` with `BODY_FILE`'s bytes.
//! Nothing is parsed, looked up or rendered, so what feedgate costs beyond
//! this is the cost of its own work. Same stack as feedgate: tokio's
//! multi-thread runtime, hyper's HTTP/1 server, `TCP_NODELAY`. It logs
//! `listening on http://ADDR` (the bound address, for port 0) and runs until
//! killed.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LAST_MODIFIED, VARY,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;

/// The two fixed answers.
struct Fixed {
    body: Bytes,
    etag: HeaderValue,
    content_type: HeaderValue,
}

impl Fixed {
    fn answer(&self, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let not_modified = req.headers().contains_key(IF_NONE_MATCH);
        let mut res = Response::new(Full::new(if not_modified {
            Bytes::new()
        } else {
            self.body.clone()
        }));
        let h = res.headers_mut();
        h.insert(ETAG, self.etag.clone());
        h.insert(
            LAST_MODIFIED,
            HeaderValue::from_static("Wed, 25 Nov 2026 12:24:23 GMT"),
        );
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            VARY,
            HeaderValue::from_static("Accept, A-IM, If-None-Match, If-Modified-Since"),
        );
        if not_modified {
            *res.status_mut() = StatusCode::NOT_MODIFIED;
        } else {
            h.insert(CONTENT_TYPE, self.content_type.clone());
        }
        res
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, body_file, etag, content_type] = args.as_slice() else {
        return Err("usage: bare ADDR BODY_FILE ETAG CONTENT_TYPE".into());
    };
    let fixed = Arc::new(Fixed {
        body: Bytes::from(std::fs::read(body_file)?),
        etag: HeaderValue::from_str(etag)?,
        content_type: HeaderValue::from_str(content_type)?,
    });
    let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let fixed = fixed.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let res = fixed.answer(&req);
                async move { Ok::<_, Infallible>(res) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
