//! What shared caches may do with a feed response (PROTOCOL §3 "Caches",
//! §10 "Cacheable backlog pages"), as header values: its `Cache-Control` and
//! `Vary`, and the one answer a cache may ask for instead of a 304. Which
//! response is which is decided by `protocol::outcome`; the rules:
//!
//! - A page of the **query form** (`?etag=`, no `If-None-Match` and no
//!   `If-Modified-Since`) that is **full** (it ends before the head) never
//!   changes: `public, max-age=31536000, immutable`, and its `sync:digest`
//!   names the page's end instead of the head, so its bytes are the same on
//!   every request and process. With authorization configured it is
//!   `private` instead: a shared cache must not hand a protected page to
//!   anyone who asks.
//! - Everything else is `no-store`: responses selected by request headers
//!   (a cache strips them on a miss and would store a delta as the feed),
//!   catch-ups and date cursors (their end depends on the clock), and every
//!   response that reaches the head (it grows with the next write), 304s
//!   included.
//! - **`Prefer: return=representation`** (RFC 7240 §4.2) on a request without
//!   conditional headers turns the 304 at the head into a `200` page with no
//!   entries (same position, `no-store`, `Preference-Applied`). A caching
//!   proxy's own fetch may not receive a 304 it did not ask for: Varnish
//!   answers it with `503` ("304 response but not conditional fetch"). Its
//!   VCL (`deploy/varnish/feedgate.vcl`) sends the preference and turns the
//!   empty page back into a 304 for its client.

use hyper::header::{HeaderName, HeaderValue};

/// The request headers a feed response is selected by: of a feed with
/// `im_feed` (where `A-IM` selects the answer) and of any other feed (where
/// it changes nothing).
pub const VARY_IM: HeaderValue =
    HeaderValue::from_static("Accept, Accept-Encoding, A-IM, If-None-Match, If-Modified-Since");
pub const VARY: HeaderValue =
    HeaderValue::from_static("Accept, Accept-Encoding, If-None-Match, If-Modified-Since");
/// [`VARY`] and [`VARY_IM`] for the page that `Prefer` turned a 304 into.
pub const VARY_PREFER: HeaderValue =
    HeaderValue::from_static("Accept, Accept-Encoding, If-None-Match, If-Modified-Since, Prefer");
pub const VARY_PREFER_IM: HeaderValue = HeaderValue::from_static(
    "Accept, Accept-Encoding, A-IM, If-None-Match, If-Modified-Since, Prefer",
);
/// Every feed response but a full query-form page.
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const IMMUTABLE_PUBLIC: HeaderValue =
    HeaderValue::from_static("public, max-age=31536000, immutable");
const IMMUTABLE_PRIVATE: HeaderValue =
    HeaderValue::from_static("private, max-age=31536000, immutable");
pub const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");
pub const RETURN_REPRESENTATION: HeaderValue = HeaderValue::from_static("return=representation");

/// `Cache-Control` of an immutable page (`protocol::PageOutcome`);
/// `protected`: the gateway requires credentials to read.
pub fn immutable_cache_control(protected: bool) -> HeaderValue {
    if protected {
        IMMUTABLE_PRIVATE
    } else {
        IMMUTABLE_PUBLIC
    }
}

/// Does a `Prefer` value ask for `return=representation`? Preferences are
/// comma-separated, their names case-insensitive, their values tokens or
/// quoted strings (RFC 7240 §2).
pub fn prefers_representation(value: &HeaderValue) -> bool {
    value.to_str().is_ok_and(|v| {
        v.split(',').any(|pref| {
            let pref = pref.split(';').next().unwrap_or("");
            let (name, value) = pref.split_once('=').unwrap_or((pref, ""));
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            name.trim().eq_ignore_ascii_case("return")
                && value.eq_ignore_ascii_case("representation")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_return_representation() {
        let yes = |s: &str| prefers_representation(&HeaderValue::from_str(s).unwrap());
        assert!(yes("return=representation"));
        assert!(yes("wait=5, Return=\"representation\""));
        assert!(yes("respond-async, return = representation; x=y"));
        assert!(!yes("return=minimal"));
        assert!(!yes("wait=5"));
        assert!(!yes("representation"));
        assert!(!prefers_representation(
            &HeaderValue::from_bytes(b"return=representation\xff").unwrap()
        ));
    }
}
