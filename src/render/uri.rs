//! URIs and media types as documents carry them, in the forms strict feed
//! validators accept (the W3C feed validator's grammars, RFC 3986, RFC 4287).
//!
//! This file owns:
//! - [`uri`]: the IRI-to-URI mapping of RFC 3987 §3.1 for every URI a
//!   document writes in an attribute or `<link>` (payload links, enclosure
//!   URLs, the configured feed link, self and next links): characters a URI
//!   cannot hold (non-ASCII, spaces, `"<>\^`{|}`, a `%` that starts no
//!   escape) are percent-encoded as UTF-8; a URI is left as it is.
//! - [`item_url`]: an item's URL, `{feed_url}/items/{id}` with the id
//!   percent-encoded as one path segment (the Atom alternate link of an
//!   entry with neither link nor content, RFC 4287 §4.1.1).
//! - [`media_type`]: a MIME type in the strict `type/subtype *(; name=value)`
//!   form, else its essence, else none.
//! - [`is_http_url`]: what an RSS `<enclosure url>` must be.

use std::borrow::Cow;

use super::xml::clean_attr;

/// May `b` stand as itself in a URI (RFC 3986 unreserved and reserved)?
pub(crate) fn uri_char(b: u8) -> bool {
    URI_CHARS[usize::from(b)]
}

/// [`uri_char`] but `%`, `[` and `]`: bytes that stand as themselves wherever they are.
static PLAIN: [bool; 256] = {
    let mut t = URI_CHARS;
    t[b'%' as usize] = false;
    t[b'[' as usize] = false;
    t[b']' as usize] = false;
    t
};

/// [`uri_char`] as a table: ASCII letters and digits and `-._~:/?#[]@!$&'()*+,;=`.
static URI_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        // `c` < 256.
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let marks = b"-._~:/?#[]@!$&'()*+,;=";
    let mut i = 0;
    while i < marks.len() {
        t[marks[i] as usize] = true;
        i += 1;
    }
    t
};

/// `s` as a URI: cleaned like an attribute value, then every byte that may
/// not stand in a URI percent-encoded (a `%` followed by two hex digits is
/// kept: it already is an escape). Borrows when nothing changes.
pub(crate) fn uri(s: &str) -> Cow<'_, str> {
    let s = clean_attr(s);
    let b = s.as_bytes();
    // The common case: nothing to escape, no escape or bracket to look at.
    if b.iter().all(|&c| PLAIN[usize::from(c)]) {
        return s;
    }
    // `[` and `]` only delimit an IP literal host (RFC 3986 §3.2.2).
    let host = authority(&s);
    let escape = |i: usize| {
        let c = b[i];
        let kept = match c {
            b'%' => hex2(b.get(i + 1..i + 3)),
            b'[' | b']' => host.contains(&i),
            _ => uri_char(c),
        };
        !kept
    };
    if !(0..b.len()).any(escape) {
        return s;
    }
    let mut out = String::with_capacity(b.len() + 16);
    for (i, &c) in b.iter().enumerate() {
        if escape(i) {
            push_escape(&mut out, c);
        } else {
            out.push(char::from(c));
        }
    }
    Cow::Owned(out)
}

/// The byte range of the authority of `scheme://authority…`, if any.
fn authority(s: &str) -> std::ops::Range<usize> {
    let Some(colon) = s.find("://") else {
        return 0..0;
    };
    let scheme = &s.as_bytes()[..colon];
    if !scheme.first().is_some_and(u8::is_ascii_alphabetic)
        || !scheme
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(c))
    {
        return 0..0;
    }
    let start = colon + 3;
    let end = s[start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |n| start + n);
    start..end
}

fn hex2(b: Option<&[u8]>) -> bool {
    b.is_some_and(|b| b.len() == 2 && b.iter().all(u8::is_ascii_hexdigit))
}

pub(crate) fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

/// The URL of item `id` under `feed_url` (`{base}/feeds/{feed}`, as a URI): the id is
/// one path segment, every byte but `A-Z a-z 0-9 - _ ~` percent-encoded, and
/// `.` too when the id is `.` or `..` (a dot segment would be removed).
pub fn item_url(feed_url: &str, id: &str) -> String {
    let mut out = String::with_capacity(feed_url.len() + 7 + id.len() * 3);
    out.push_str(&uri(feed_url));
    out.push_str("/items/");
    let dots = id == "." || id == "..";
    for &b in id.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') || (b == b'.' && !dots) {
            out.push(char::from(b));
        } else {
            push_escape(&mut out, b);
        }
    }
    out
}

/// RFC 9110 `token` (also what `content.rs` checks a MIME type's parts with).
pub(super) fn token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// A parameter value: a token or a quoted string without a bare quote.
fn param_value(v: &str) -> bool {
    token(v)
        || (v.len() >= 2
            && v.starts_with('"')
            && v.ends_with('"')
            && !v[1..v.len() - 1].replace("\\\"", "").contains('"'))
}

/// `ct` (trimmed) when it is `type/subtype` with well-formed `; name=value`
/// parameters; its essence when only that is well-formed; else `None`.
pub(crate) fn media_type(ct: &str) -> Option<Cow<'_, str>> {
    let ct = ct.trim();
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let (ty, sub) = essence.split_once('/')?;
    if !token(ty) || !token(sub) {
        return None;
    }
    let params_ok = parts.all(|p| {
        p.trim()
            .split_once('=')
            .is_some_and(|(n, v)| token(n.trim()) && param_value(v.trim()))
    });
    Some(if params_ok && ct.len() == ct.trim_end_matches(';').len() {
        Cow::Borrowed(ct)
    } else {
        Cow::Borrowed(essence)
    })
}

/// `http://` or `https://` (ASCII case-insensitively) and a host.
pub(crate) fn is_http_url(url: &str) -> bool {
    let lower = |n: usize| url.get(..n).map(str::to_ascii_lowercase);
    let rest = if lower(7).as_deref() == Some("http://") {
        &url[7..]
    } else if lower(8).as_deref() == Some("https://") {
        &url[8..]
    } else {
        return false;
    };
    rest.bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_kept_and_iris_mapped() {
        for ok in [
            "http://example.org/a?b=1&c='2'#f",
            "https://x.example/%E2%9C%93?q=%20",
            "mailto:x@example.org",
            "http://[::1]:8080/",
        ] {
            assert!(matches!(uri(ok), Cow::Borrowed(s) if s == ok), "{ok}");
        }
        assert_eq!(
            uri("http://例え.jp/パス"),
            "http://%E4%BE%8B%E3%81%88.jp/%E3%83%91%E3%82%B9"
        );
        assert_eq!(
            uri("http://x/a b\"c<d>{e}|f\\g^h`i"),
            "http://x/a%20b%22c%3Cd%3E%7Be%7D%7Cf%5Cg%5Eh%60i"
        );
        assert_eq!(uri("http://x/100%"), "http://x/100%25");
        assert_eq!(uri("http://x/%zz%4"), "http://x/%25zz%254");
        assert_eq!(uri("http://[::1]/a[1]"), "http://[::1]/a%5B1%5D");
        assert_eq!(uri("/a[1]"), "/a%5B1%5D");
        // Attribute cleaning first: controls go, TAB/LF become spaces, then %20.
        assert_eq!(uri("http://x/a\tb\u{1}"), "http://x/a%20b");
        // Idempotent.
        let once = uri("http://例え.jp/a b%");
        assert_eq!(uri(&once), once);
    }

    #[test]
    fn uri_char_table_is_the_definition() {
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b);
            assert_eq!(uri_char(b), want, "{b}");
        }
    }

    #[test]
    fn item_urls() {
        let f = "http://gw/feeds/news";
        assert_eq!(
            item_url(f, "a-1_b~c.d"),
            "http://gw/feeds/news/items/a-1_b~c.d"
        );
        assert_eq!(
            item_url(f, "a b/c?d#e%"),
            "http://gw/feeds/news/items/a%20b%2Fc%3Fd%23e%25"
        );
        assert_eq!(
            item_url(f, "Grüße"),
            "http://gw/feeds/news/items/Gr%C3%BC%C3%9Fe"
        );
        assert_eq!(item_url(f, ".."), "http://gw/feeds/news/items/%2E%2E");
        assert_eq!(item_url(f, "."), "http://gw/feeds/news/items/%2E");
        assert_eq!(item_url(f, "..."), "http://gw/feeds/news/items/...");
    }

    #[test]
    fn media_types() {
        assert_eq!(media_type("audio/mpeg").as_deref(), Some("audio/mpeg"));
        assert_eq!(
            media_type(" text/plain; charset=utf-8 ").as_deref(),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(
            media_type("text/plain;charset=\"a b\"").as_deref(),
            Some("text/plain;charset=\"a b\"")
        );
        assert_eq!(
            media_type("text/plain; junk").as_deref(),
            Some("text/plain")
        );
        assert_eq!(media_type("text/plain;").as_deref(), Some("text/plain"));
        assert_eq!(
            media_type("text/plain; a=\"b").as_deref(),
            Some("text/plain")
        );
        for bad in ["", "html", "xhtml", "a/", "/b", "a b/c", "a/b/c", "<x>/y"] {
            assert_eq!(media_type(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_urls() {
        for ok in ["http://x", "HTTPS://x.example/a", "http://[::1]/"] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in ["ftp://x", "http:/x", "http://", "/a", "x", "https:///a"] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
