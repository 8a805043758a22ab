//! The HTTP client of one upstream: connect and total timeouts, a body size
//! limit (after gzip decoding), bounded redirects, rustls with the bundled
//! webpki roots (no system OpenSSL), hickory DNS (no glibc NSS), extra
//! request headers marked sensitive, and conditional GET.
//!
//! Requests go to the configured origin only (scheme, host and port of the
//! configured URL): a redirect elsewhere fails the sync
//! ([`SyncError::ForeignOrigin`]) instead of carrying the configured headers
//! (`Authorization`, `X-Api-Key`, …) to a host that was never configured;
//! no `Referer` is sent. Redirects within the origin are followed, up to
//! `max_redirects`.
//!
//! Error texts never carry the URL's credentials, its query string or a
//! header value: they name the upstream by [`redact`]ed URL only.

use super::config::UpstreamConfig;
use super::SyncError;
use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use std::time::Duration;

pub struct Client {
    http: reqwest::Client,
    url: Url,
    max_bytes: usize,
    timeout: Duration,
}

/// Validators to send back to the origin.
#[derive(Debug, Default, Clone, Copy)]
pub struct Conditional<'a> {
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
}

/// An origin's answer.
#[derive(Debug)]
pub enum Fetched {
    /// 304: what we hold is current.
    NotModified,
    /// 2xx with its complete body and validators.
    Body {
        body: Bytes,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

impl Client {
    pub fn new(cfg: &UpstreamConfig) -> Result<Client, SyncError> {
        let url = Url::parse(&cfg.url).map_err(|e| SyncError::Client(e.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &cfg.headers.0 {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SyncError::Client(format!("bad header name {name:?}")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| SyncError::Client(format!("bad value for header {name}")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("feedgate/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .redirect(same_origin_redirects(&url, cfg.max_redirects))
            .referer(false)
            .gzip(true)
            .use_rustls_tls()
            .build()
            .map_err(|e| SyncError::Client(chain(&e)))?;
        Ok(Client {
            http,
            url,
            max_bytes: cfg.max_bytes,
            timeout: cfg.timeout,
        })
    }

    /// The configured URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// GET `url` with `cond` and `accept`; the body in full, or an error.
    pub async fn get(
        &self,
        url: &Url,
        cond: Conditional<'_>,
        accept: &'static str,
    ) -> Result<Fetched, SyncError> {
        let mut req = self.http.get(url.clone()).header(header::ACCEPT, accept);
        if let Some(v) = cond.if_none_match {
            req = req.header(header::IF_NONE_MATCH, v);
        }
        if let Some(v) = cond.if_modified_since {
            req = req.header(header::IF_MODIFIED_SINCE, v);
        }
        let mut res = req.send().await.map_err(|e| self.error(e))?;
        let text = |h: HeaderName| -> Option<String> {
            res.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = text(header::ETAG);
        let last_modified = text(header::LAST_MODIFIED);
        let status = res.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(SyncError::Status(status.as_u16()));
        }
        if res
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(SyncError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| self.error(e))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(SyncError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            body: Bytes::from(body),
            etag,
            last_modified,
        })
    }

    fn error(&self, e: reqwest::Error) -> SyncError {
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = source {
            if let Some(ForeignRedirect(origin)) = err.downcast_ref() {
                return SyncError::ForeignOrigin {
                    what: "redirect",
                    origin: origin.clone(),
                };
            }
            source = err.source();
        }
        if e.is_timeout() {
            SyncError::Timeout(self.timeout)
        } else if e.is_connect() {
            SyncError::Connect(chain(&e))
        } else if e.is_body() || e.is_decode() {
            SyncError::Body(chain(&e))
        } else {
            SyncError::Request(chain(&e))
        }
    }
}

/// Follow a redirect only within `configured`'s origin, at most `max` times.
fn same_origin_redirects(configured: &Url, max: usize) -> reqwest::redirect::Policy {
    let origin = configured.origin();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.url().origin() != origin {
            let to = attempt.url().origin().ascii_serialization();
            attempt.error(ForeignRedirect(to))
        } else if attempt.previous().len() > max {
            // The first of `previous` is the request's own URL.
            attempt.error(TooManyRedirects(max))
        } else {
            attempt.follow()
        }
    })
}

/// A redirect out of the configured origin (its origin, no path or query).
#[derive(Debug, thiserror::Error)]
#[error("redirect to another origin ({0})")]
struct ForeignRedirect(String);

#[derive(Debug, thiserror::Error)]
#[error("too many redirects (max_redirects = {0})")]
struct TooManyRedirects(usize);

/// Whether `url` is on `configured`'s origin (scheme, host, port).
pub fn same_origin(configured: &Url, url: &Url) -> bool {
    configured.origin() == url.origin()
}

/// An error and its causes on one line, each once (`error::join_causes`),
/// without the URL (which may carry credentials) and without the layers
/// that only wrap the cause (`error::without_wrappers`): `Connection refused
/// (os error 111)` rather than five levels of it.
fn chain(e: &reqwest::Error) -> String {
    let mut parts = vec![];
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        let text = match err.downcast_ref::<reqwest::Error>() {
            Some(r) if r.url().is_some() => {
                // Display without the URL: rebuild the message from a URL-less copy.
                strip_url(&r.to_string(), r.url())
            }
            _ => err.to_string(),
        };
        parts.push(text);
        source = err.source();
    }
    crate::error::without_wrappers(parts)
}

fn strip_url(text: &str, url: Option<&Url>) -> String {
    match url {
        Some(u) => text
            .replace(&format!(" ({u})"), "")
            .replace(u.as_str(), "<url>"),
        None => text.to_string(),
    }
}

/// The URL as logs and status show it: no user info, no query, no fragment.
pub fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let query = u.query().is_some();
    u.set_query(None);
    u.set_fragment(None);
    let mut s = u.to_string();
    if query {
        s.push_str("?…");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        let u = Url::parse("https://user:pw@example.org:8443/feed.json?token=abc#x").unwrap();
        let r = redact(&u);
        assert_eq!(r, "https://example.org:8443/feed.json?…");
        assert!(!r.contains("pw") && !r.contains("abc") && !r.contains("user"));
        let plain = Url::parse("http://127.0.0.1:9000/items.json").unwrap();
        assert_eq!(redact(&plain), "http://127.0.0.1:9000/items.json");
        assert_eq!(
            strip_url(
                "error sending request for url (http://a/x?k=1)",
                Some(&Url::parse("http://a/x?k=1").unwrap())
            ),
            "error sending request for url"
        );
    }
}
