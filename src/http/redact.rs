//! Keeping `access_token` (RFC 6750 §2.3) out of logs and documents.
//!
//! A parameter is the token when its name, *once percent-decoded* as the
//! authorization check decodes it (`form_urlencoded`), is `access_token` in
//! any letter case: `?access_%74oken=…` authenticates exactly as
//! `?access_token=…` does, so it is redacted exactly as well. The request
//! log shows such a value as `REDACTED` (the name as sent); self links drop
//! the parameter.

use hyper::Uri;
use std::borrow::Cow;

const NAME: &[u8] = b"access_token";

/// Whether one `name=value` pair of a query string carries the token.
pub fn is_token_param(pair: &str) -> bool {
    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
    if !name.contains('%') && !name.contains('+') {
        return name.as_bytes().eq_ignore_ascii_case(NAME);
    }
    form_urlencoded::parse(name.as_bytes())
        .next()
        .is_some_and(|(k, _)| k.as_bytes().eq_ignore_ascii_case(NAME))
}

/// Whether `query` may hold the token: a cheap scan, so a query without one
/// (almost every poll) is used as it is.
fn may_hold_token(query: &str) -> bool {
    query.contains('%')
        || query
            .as_bytes()
            .windows(NAME.len())
            .any(|w| w.eq_ignore_ascii_case(NAME))
}

/// The request target for logs, with the value of every token parameter
/// replaced by `REDACTED`.
pub fn redacted_target(uri: &Uri) -> Cow<'_, str> {
    let Some(query) = uri.query().filter(|q| may_hold_token(q)) else {
        return Cow::Borrowed(uri.path_and_query().map_or("/", |p| p.as_str()));
    };
    let query: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((name, _)) if is_token_param(kv) => Cow::Owned(format!("{name}=REDACTED")),
            _ => Cow::Borrowed(kv),
        })
        .collect();
    Cow::Owned(format!("{}?{}", uri.path(), query.join("&")))
}

/// Path and query of `uri` without any token parameter (for self links).
pub fn without_access_token(uri: &Uri) -> Cow<'_, str> {
    let Some(query) = uri.query() else {
        return Cow::Borrowed(uri.path());
    };
    if !may_hold_token(query) {
        return Cow::Borrowed(uri.path_and_query().map_or(uri.path(), |p| p.as_str()));
    }
    let kept: Vec<&str> = query.split('&').filter(|kv| !is_token_param(kv)).collect();
    if kept.is_empty() {
        Cow::Borrowed(uri.path())
    } else if kept.len() == query.split('&').count() {
        Cow::Borrowed(uri.path_and_query().map_or(uri.path(), |p| p.as_str()))
    } else {
        Cow::Owned(format!("{}?{}", uri.path(), kept.join("&")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn token_parameters_are_found_after_decoding() {
        for token in [
            "access_token=x",
            "access_token",
            "access_%74oken=x",
            "%61%63%63%65%73%73%5F%74%6F%6B%65%6E=x",
            "ACCESS_TOKEN=x",
            "Access_Token%3D=x",
        ] {
            let decoded_eq = token != "Access_Token%3D=x";
            assert_eq!(is_token_param(token), decoded_eq, "{token}");
        }
        for other in [
            "etag=access_token",
            "access_tokens=x",
            "access+token=x",
            "x=1",
        ] {
            assert!(!is_token_param(other), "{other}");
        }
    }

    #[test]
    fn logs_redact_every_spelling() {
        assert_eq!(
            redacted_target(&uri("/feeds/a?access_%74oken=s3cret&limit=1")),
            "/feeds/a?access_%74oken=REDACTED&limit=1"
        );
        assert_eq!(
            redacted_target(&uri("/feeds/a?etag=e.1&access_token=s3cret")),
            "/feeds/a?etag=e.1&access_token=REDACTED"
        );
        assert_eq!(
            redacted_target(&uri("/feeds/a?etag=e%2E1")),
            "/feeds/a?etag=e%2E1"
        );
        assert_eq!(redacted_target(&uri("/feeds/a")), "/feeds/a");
    }

    #[test]
    fn self_links_drop_every_spelling() {
        assert_eq!(
            without_access_token(&uri("/feeds/a?access_token=x&etag=e.1")),
            "/feeds/a?etag=e.1"
        );
        assert_eq!(
            without_access_token(&uri("/feeds/a?access_%74oken=x&etag=e.1")),
            "/feeds/a?etag=e.1"
        );
        assert_eq!(
            without_access_token(&uri("/feeds/a?access_token=x")),
            "/feeds/a"
        );
        assert_eq!(
            without_access_token(&uri("/feeds/a?etag=e%2E1")),
            "/feeds/a?etag=e%2E1"
        );
        assert_eq!(
            without_access_token(&uri("/feeds/a?etag=e.1")),
            "/feeds/a?etag=e.1"
        );
        assert_eq!(without_access_token(&uri("/feeds/a")), "/feeds/a");
    }
}
