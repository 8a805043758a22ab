//! Content coding of feed pages (RFC 9110 §8.4, §12.5.3): a page goes out
//! in `gzip` when the request's `Accept-Encoding` takes it, else as it is.
//!
//! - A page kept in memory (`feed::cache`) is compressed once, at
//!   [`CACHED_LEVEL`], the first time a client takes gzip, and served from
//!   there. A page that is not kept is compressed for its one response at
//!   [`FRESH_LEVEL`], the fastest (docs/benchmarks.md has the measurement).
//! - The ETag of a gzip response is weak (`W/"EPOCH.SEQ"`), the identity
//!   one strong: two codings of one position are different bytes, which a
//!   strong validator cannot name both of (RFC 9110 §8.8.1); the tag still
//!   names the position, and a consumer that sends either form back is
//!   read alike (`cursor`: `W/` is ignored).
//! - Every feed answer varies on `Accept-Encoding` (`caching::VARY`).

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use hyper::header::{self, HeaderMap, HeaderValue};
use std::io::Write;

/// A page's level when it is compressed once and served many times.
pub const CACHED_LEVEL: u32 = 6;
/// A page's level when it is compressed for one response.
pub const FRESH_LEVEL: u32 = 1;
/// Pages smaller than this go out as they are (gzip's frame would eat the gain).
pub const MIN_BYTES: usize = 256;

/// Does an `Accept-Encoding` value take `gzip` (or `x-gzip`, or `*`) with a
/// non-zero weight? A `gzip;q=0` refuses it whatever `*` says.
pub fn accepts_gzip(value: &HeaderValue) -> bool {
    let (mut gzip, mut any) = (None, None);
    for (name, q) in super::headers::weighted(value) {
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q > 0.0);
        } else if name == "*" {
            any = Some(q > 0.0);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// `body` in gzip at `level`.
pub fn gzip(body: &[u8], level: u32) -> Bytes {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        Compression::new(level),
    );
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(body);
    Bytes::from(enc.finish().unwrap_or_default())
}

/// Make the headers of an identity page (`h`) those of its gzip coding,
/// `len` bytes long.
pub fn gzip_headers(h: &mut HeaderMap, len: usize) {
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    weaken(h);
}

/// Make `h`'s strong ETag weak.
pub fn weaken(h: &mut HeaderMap) {
    let Some(tag) = h.get(header::ETAG) else {
        return;
    };
    if tag.as_bytes().starts_with(b"W/") {
        return;
    }
    let mut weak = Vec::with_capacity(tag.len() + 2);
    weak.extend_from_slice(b"W/");
    weak.extend_from_slice(tag.as_bytes());
    if let Ok(v) = HeaderValue::from_bytes(&weak) {
        h.insert(header::ETAG, v);
    }
}

impl super::request::FeedRead<'_> {
    /// The body to send for a page with identity headers `h` and `body`
    /// (`gzip`: its compressed coding, if the cache has it; `kept`: the
    /// page is in the cache under this read's key), in gzip when the
    /// request takes it, with `h` made to match.
    pub fn encoded(
        &self,
        h: &mut HeaderMap,
        body: Bytes,
        gzip: Option<Bytes>,
        kept: bool,
    ) -> Bytes {
        if !self.gzip || body.len() < MIN_BYTES {
            return body;
        }
        let z = match gzip {
            Some(z) => z,
            None if kept => {
                let z = self::gzip(&body, CACHED_LEVEL);
                if let Some(key) = &self.key {
                    self.feed.cache().set_gzip(key, &body, z.clone());
                }
                z
            }
            None => self::gzip(&body, FRESH_LEVEL),
        };
        gzip_headers(h, z.len());
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn accept_encoding_with_weights() {
        let yes = |s: &str| accepts_gzip(&HeaderValue::from_str(s).unwrap());
        assert!(yes("gzip"));
        assert!(yes("deflate, GZIP;q=0.5"));
        assert!(yes("x-gzip"));
        assert!(yes("br, *"));
        assert!(!yes("identity"));
        assert!(!yes("gzip;q=0"));
        assert!(!yes("*, gzip;q=0"));
        assert!(!yes("br;q=1, *;q=0"));
        assert!(!yes(""));
    }

    #[test]
    fn gzip_round_trips_and_the_tag_turns_weak() {
        let body = b"<rss>".repeat(100);
        let z = gzip(&body, FRESH_LEVEL);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        assert!(z.len() < body.len() / 5);
        let mut h = HeaderMap::new();
        h.insert(header::ETAG, HeaderValue::from_static("\"e.5\""));
        gzip_headers(&mut h, z.len());
        assert_eq!(h[header::ETAG], "W/\"e.5\"");
        assert_eq!(h[header::CONTENT_ENCODING], "gzip");
        weaken(&mut h);
        assert_eq!(h[header::ETAG], "W/\"e.5\"");
    }
}
