//! Atom entry ids (RFC 4287 §4.2.6: an `atom:id` is an IRI) from item ids.
//!
//! This file owns the mapping and its inverse. An item id that already is an
//! absolute IRI is used as is; any other id becomes
//! `urn:feedgate:` + the percent-encoding of its UTF-8 bytes, keeping only the
//! unreserved ASCII characters `A-Z a-z 0-9 - . _ ~` (hex digits upper case).
//! The mapping is injective and reversible: an id that is an IRI but starts
//! with `urn:feedgate:` (ASCII case-insensitively, as URN namespace ids
//! compare) is encoded too, so the two forms never collide.

use std::borrow::Cow;

use super::xml::xml_char;

/// Prefix of mapped ids.
pub const URN_PREFIX: &str = "urn:feedgate:";

/// The Atom id of an item: the id itself when it is an absolute IRI (and not
/// in the `urn:feedgate:` space), else its `urn:feedgate:` form.
pub fn atom_id(item_id: &str) -> Cow<'_, str> {
    if is_absolute_iri(item_id) && strip_urn_prefix(item_id).is_none() {
        return Cow::Borrowed(item_id);
    }
    let mut out = String::with_capacity(URN_PREFIX.len() + item_id.len() * 3);
    out.push_str(URN_PREFIX);
    for &b in item_id.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    Cow::Owned(out)
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

/// `scheme ":" rest` where scheme = `ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")`
/// and rest holds no whitespace, controls, characters XML forbids, or any of
/// `< > " { } | \ ^ ``.
fn is_absolute_iri(id: &str) -> bool {
    let Some((scheme, rest)) = id.split_once(':') else {
        return false;
    };
    let mut sc = scheme.bytes();
    sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && rest.chars().all(|c| {
            xml_char(c)
                && !c.is_whitespace()
                && !c.is_control()
                && !matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_iris_are_kept() {
        for id in [
            "http://example.org/a?b=1&c='2'#f",
            "urn:isbn:0451450523",
            "tag:example.org,2024:item/1",
            "mailto:x@example.org",
            "x+y.z-w:",
            "http://例え.jp/パス",
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
        assert_eq!(atom_id("-._~"), "urn:feedgate:-._~");
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
