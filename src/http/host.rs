//! RFC 9112 §3.2: a server MUST answer `400` to an HTTP/1.1 request without a
//! `Host` header, to any request with more than one `Host` line, and to one
//! whose `Host` is not a valid `uri-host [":" port]`. hyper serves such
//! requests as they are; [`check`] turns them away first (with a
//! problem+json `400 bad_request`, see `ApiError::BadRequest`).
//!
//! HTTP/1.0 requests may come without `Host` (decision in docs/decisions.md,
//! "Reliability"); an empty `Host` is valid (RFC 9112 §3.2: the target URI
//! has no authority).

use crate::error::ApiError;
use hyper::header::{HeaderMap, HOST};
use hyper::Version;

/// Whether the request's `Host` lines are acceptable.
pub fn check(version: Version, headers: &HeaderMap) -> Result<(), ApiError> {
    let mut hosts = headers.get_all(HOST).iter();
    let Some(host) = hosts.next() else {
        if version >= Version::HTTP_11 {
            return Err(ApiError::BadRequest(
                "an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)".into(),
            ));
        }
        return Ok(());
    };
    if hosts.next().is_some() {
        return Err(ApiError::BadRequest(
            "a request has one Host header, not several (RFC 9112 §3.2)".into(),
        ));
    }
    if !valid(host.as_bytes()) {
        return Err(ApiError::BadRequest(
            "the Host header is not a host name or address with an optional port".into(),
        ));
    }
    Ok(())
}

/// Bytes of a reg-name or IPv4 address: unreserved, sub-delims, `%`.
const NAME: [bool; 256] = table(b"-._~%!$&'()*+,;=");
/// Bytes inside an IP literal's brackets.
const LITERAL: [bool; 256] = table(b":.%-_~");

/// ASCII letters and digits, and `extra`.
const fn table(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

/// `uri-host [":" port]` (RFC 3986 §3.2.2), or empty: a reg-name (unreserved,
/// sub-delims, percent-escapes), an IPv4 address, or an IP literal in
/// brackets; then digits after one `:`. No user info, no spaces.
fn valid(host: &[u8]) -> bool {
    let (name, port) = match host.first() {
        Some(b'[') => match host.iter().position(|&b| b == b']') {
            Some(end) => {
                let literal = &host[1..end];
                if literal.is_empty() || !literal.iter().all(|&b| LITERAL[b as usize]) {
                    return false;
                }
                (&host[..0], &host[end + 1..])
            }
            None => return false,
        },
        _ => match host.iter().position(|&b| b == b':') {
            Some(colon) => (&host[..colon], &host[colon..]),
            None => (host, &host[host.len()..]),
        },
    };
    let name_ok = name.iter().all(|&b| NAME[b as usize]);
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    name_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(hosts: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in hosts {
            h.append(HOST, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn one_valid_host_is_required_of_http_1_1() {
        for ok in [
            "example.org",
            "127.0.0.1:8080",
            "[::1]:8080",
            "[::1]",
            "a-b_c.example:80",
            "",
            "xn--bcher-kva.example",
        ] {
            assert!(check(Version::HTTP_11, &headers(&[ok])).is_ok(), "{ok:?}");
        }
        for bad in [
            "user@example.org",
            "a b",
            "example.org:80:80",
            "example.org:http",
            "[::1",
            "[]:80",
            "example.org/path",
            "example.org:123456",
        ] {
            assert!(
                matches!(
                    check(Version::HTTP_11, &headers(&[bad])),
                    Err(ApiError::BadRequest(_))
                ),
                "{bad:?}"
            );
        }
        assert!(check(Version::HTTP_11, &headers(&[])).is_err());
        assert!(check(Version::HTTP_11, &headers(&["a", "a"])).is_err());
    }

    #[test]
    fn http_1_0_may_omit_host_but_not_repeat_it() {
        assert!(check(Version::HTTP_10, &headers(&[])).is_ok());
        assert!(check(Version::HTTP_10, &headers(&["a"])).is_ok());
        assert!(check(Version::HTTP_10, &headers(&["a", "b"])).is_err());
    }
}
