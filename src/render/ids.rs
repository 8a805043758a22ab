//! Atom entry ids (RFC 4287 §4.2.6: an `atom:id` is an IRI) from item ids.
//!
//! This file owns the mapping and its inverse. An item id that already is a
//! plain absolute URI is used as is: ASCII, a scheme and a non-empty rest of
//! RFC 3986 characters (no `[`, `]`; `%` only in escapes), with what strict
//! validators check per scheme (`http`, `https`, `ftp`: `//` and a host;
//! `urn`: RFC 2141 syntax, `urn:uuid:` a UUID; `tag`: RFC 4151 syntax). Any
//! other id (non-ASCII IRIs included, which the W3C feed validator rejects
//! as ids) becomes `urn:feedgate:` + the percent-encoding of its UTF-8 bytes,
//! keeping only `A-Z a-z 0-9 - . _` (hex digits upper case; `~` is encoded,
//! as RFC 2141 does not allow it in a URN).
//! The mapping is injective and reversible: an id that is a URI but starts
//! with `urn:feedgate:` (ASCII case-insensitively, as URN namespace ids
//! compare) is encoded too, so the two forms never collide. The inverse also
//! reads the forms of earlier versions (`~` unencoded, non-ASCII IRIs as is).

use std::borrow::Cow;

use super::uri::push_escape;

/// Prefix of mapped ids.
pub const URN_PREFIX: &str = "urn:feedgate:";

/// The Atom id of an item: the id itself when it is a plain absolute URI
/// (and not in the `urn:feedgate:` space), else its `urn:feedgate:` form.
pub fn atom_id(item_id: &str) -> Cow<'_, str> {
    if is_own_atom_id(item_id) {
        return Cow::Borrowed(item_id);
    }
    let mut out = String::with_capacity(URN_PREFIX.len() + item_id.len() * 3);
    out.push_str(URN_PREFIX);
    for &b in item_id.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
            out.push(char::from(b));
        } else {
            push_escape(&mut out, b);
        }
    }
    Cow::Owned(out)
}

/// Is `item_id` its own Atom id (a plain absolute URI, not in the
/// `urn:feedgate:` space)? Else [`atom_id`] is its [`push_urn`] form.
pub(crate) fn is_own_atom_id(item_id: &str) -> bool {
    is_plain_uri(item_id) && strip_urn_prefix(item_id).is_none()
}

/// Append the `urn:feedgate:` form of `item_id` (as [`atom_id`] makes it)
/// to `out`: ASCII letters, digits, `-._:` and `%`, nothing XML escapes.
pub(crate) fn push_urn(out: &mut Vec<u8>, item_id: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(URN_PREFIX.as_bytes());
    for &b in item_id.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// The item id an Atom id stands for: the `urn:feedgate:` form decoded, any
/// other id as is. `None` for an empty id or a malformed `urn:feedgate:` form
/// (a bad `%` escape, or bytes that are not UTF-8).
pub fn item_id_from_atom(id: &str) -> Option<String> {
    let item = match strip_urn_prefix(id) {
        Some(encoded) => percent_decode(encoded)?,
        None => id.to_owned(),
    };
    (!item.is_empty()).then_some(item)
}

fn strip_urn_prefix(id: &str) -> Option<&str> {
    let head = id.get(..URN_PREFIX.len())?;
    head.eq_ignore_ascii_case(URN_PREFIX)
        .then(|| &id[URN_PREFIX.len()..])
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Does `s` consist of `allowed` bytes and escapes (`%` and two hex digits)?
fn escaped_run(s: &[u8], allowed: impl Fn(u8) -> bool) -> bool {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            if !s
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
        } else if allowed(s[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// RFC 3986 characters a strict validator accepts in a URI (no brackets).
fn uri_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b";/?:@&=+$.-_!~*'(),#".contains(&c)
}

/// A plain absolute URI, as described in the module docs.
fn is_plain_uri(id: &str) -> bool {
    let Some((scheme, rest)) = id.split_once(':') else {
        return false;
    };
    let mut sc = scheme.bytes();
    let scheme_ok = sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if !scheme_ok || rest.is_empty() || !escaped_run(rest.as_bytes(), uri_byte) {
        return false;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" | "ftp" => rest
            .strip_prefix("//")
            .is_some_and(|r| r.bytes().next().is_some_and(|c| c != b'/')),
        "urn" => is_urn(rest),
        "tag" => scheme == "tag" && is_tag(rest),
        _ => true,
    }
}

/// `NID:NSS` of RFC 2141 (what follows `urn:`); a UUID after `uuid:`.
fn is_urn(rest: &str) -> bool {
    let Some((nid, nss)) = rest.split_once(':') else {
        return false;
    };
    let nid_ok = (2..=32).contains(&nid.len())
        && nid
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && nid.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
    let nss_ok = !nss.is_empty()
        && escaped_run(nss.as_bytes(), |c| {
            c.is_ascii_alphanumeric() || b"()+,.:=@;$_!*'-".contains(&c)
        });
    if !(nid_ok && nss_ok) {
        return false;
    }
    if !nid.eq_ignore_ascii_case("uuid") {
        return true;
    }
    let groups: Vec<&str> = nss.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// RFC 4151 `taggingEntity ":" specific [ "#" fragment ]` (what follows `tag:`).
fn is_tag(rest: &str) -> bool {
    let Some((authority, after)) = rest.split_once(',') else {
        return false;
    };
    let domain = match authority.rsplit_once('@') {
        Some((local, domain)) => {
            let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-._".contains(&c);
            if local.is_empty() || !local.bytes().all(ok) {
                return false;
            }
            domain
        }
        None => authority,
    };
    let domain_ok = !domain.is_empty()
        && domain
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    let Some((date, specific)) = after.split_once(':') else {
        return false;
    };
    let d = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| d[r].iter().all(u8::is_ascii_digit);
    let date_ok = match d.len() {
        4 => digits(0..4),
        7 => digits(0..4) && d[4] == b'-' && digits(5..7),
        10 => digits(0..4) && d[4] == b'-' && digits(5..7) && d[7] == b'-' && digits(8..10),
        _ => false,
    };
    let (specific, fragment) = specific.split_once('#').unwrap_or((specific, ""));
    let chars = |s: &str| s.bytes().all(|c| c != b'#' && uri_byte(c) || c == b'%');
    domain_ok && date_ok && chars(specific) && chars(fragment)
}

#[cfg(test)]
mod tests {
    use super::super::xml::xml_char;
    use super::*;

    #[test]
    fn absolute_iris_are_kept() {
        for id in [
            "http://example.org/a?b=1&c='2'#f",
            "urn:isbn:0451450523",
            "tag:example.org,2024:item/1",
            "mailto:x@example.org",
            "urn:uuid:0a1b2c3d-0000-4000-8000-00112233aabb",
            "x+y.z-w:a%20b",
            "tag:jo@example.org,2024-05-01:a/b#c",
            "HTTP://Example.org/x",
        ] {
            assert!(matches!(atom_id(id), Cow::Borrowed(s) if s == id), "{id}");
            assert_eq!(item_id_from_atom(id).as_deref(), Some(id));
        }
    }

    #[test]
    fn other_ids_are_mapped_to_urn_form() {
        assert_eq!(atom_id("42"), "urn:feedgate:42");
        assert_eq!(atom_id("a b/c"), "urn:feedgate:a%20b%2Fc");
        assert_eq!(atom_id("Grüße"), "urn:feedgate:Gr%C3%BC%C3%9Fe");
        assert_eq!(atom_id("-._~"), "urn:feedgate:-._%7E");
        // Earlier versions kept `~`; such ids still map back.
        assert_eq!(
            item_id_from_atom("urn:feedgate:a~b").as_deref(),
            Some("a~b")
        );
        // Not IRIs: bad scheme, whitespace, forbidden characters, controls.
        for id in [
            "1http://x",
            ":x",
            "ht tp://x",
            "http://a b",
            "a:<b>",
            "a:{",
            "a:\u{1}",
            "a:\u{85}",
            "a:\u{fffe}",
            // URIs a strict validator rejects as ids.
            "x+y.z-w:",
            "http://例え.jp/パス",
            "http:no-host",
            "http:///path",
            "a:[1]",
            "a:100%",
            "urn:x:a",
            "urn:isbn:",
            "urn:isbn:a~b",
            "urn:uuid:not-a-uuid",
            "tag:Example.org,2024:x",
            "tag:example.org,24:x",
            "tag:example.org:x",
            "TAG:example.org,2024:x",
        ] {
            assert!(atom_id(id).starts_with(URN_PREFIX), "{id:?}");
        }
    }

    #[test]
    fn feedgate_urns_are_encoded_so_forms_never_collide() {
        assert_eq!(
            atom_id("urn:feedgate:42"),
            "urn:feedgate:urn%3Afeedgate%3A42"
        );
        assert_eq!(
            atom_id("URN:FeedGate:42"),
            "urn:feedgate:URN%3AFeedGate%3A42"
        );
        assert_ne!(atom_id("urn:feedgate:42"), atom_id("42"));
    }

    #[test]
    fn round_trip() {
        let long = "é".repeat(128); // 256 bytes
        for id in [
            "42",
            "a b/c?d#e%f",
            "Grüße, 日本語, emoji 🎉",
            "urn:feedgate:x",
            "URN:FEEDGATE:%zz",
            "tab\there",
            "ctl\u{1}\u{fffe}",
            long.as_str(),
            "http://example.org/x",
        ] {
            let a = atom_id(id);
            assert!(a.chars().all(|c| !c.is_whitespace() && xml_char(c)), "{a}");
            assert_eq!(item_id_from_atom(&a).as_deref(), Some(id), "{a}");
        }
    }

    #[test]
    fn urn_form_written_in_place_equals_atom_id() {
        for id in [
            "42",
            "a b/c?d#e%f",
            "Grüße 🎉",
            "-._~",
            "urn:feedgate:x",
            "\u{1}\u{fffe}",
        ] {
            assert!(!is_own_atom_id(id), "{id}");
            let mut out = Vec::new();
            push_urn(&mut out, id);
            assert_eq!(out, atom_id(id).as_bytes(), "{id}");
        }
        assert!(is_own_atom_id("http://example.org/x"));
    }

    #[test]
    fn inverse_rejects_malformed_urns() {
        assert_eq!(item_id_from_atom("urn:feedgate:%4"), None);
        assert_eq!(item_id_from_atom("urn:feedgate:%zz"), None);
        assert_eq!(item_id_from_atom("urn:feedgate:%FF"), None); // not UTF-8
        assert_eq!(item_id_from_atom("urn:feedgate:"), None);
        assert_eq!(item_id_from_atom(""), None);
        // Lenient about case, like URN comparison.
        assert_eq!(
            item_id_from_atom("URN:FEEDGATE:a%2fb").as_deref(),
            Some("a/b")
        );
    }
}
