//! Text hygiene and small encoders shared by both formats.
//!
//! This file owns everything that decides which characters reach a document:
//! [`clean`] (element text), [`clean_attr`] (attribute values), [`escape_attr`]
//! (for the one crate API that writes attribute values verbatim), the HTML
//! escaping used for non-HTML content in RSS, Base64 for binary Atom content,
//! and the date formats of both documents.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset};

/// Is `c` allowed in an XML 1.0 document (`Char` production)? Surrogates
/// cannot occur in a `str`, so only C0 controls other than TAB/LF/CR and
/// U+FFFE/U+FFFF are excluded.
pub(crate) fn xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Byte-level check: does `s` contain a character XML 1.0 forbids?
/// U+FFFE and U+FFFF are the only forbidden characters outside ASCII; both
/// are encoded `EF BF BE` / `EF BF BF`.
fn has_forbidden(s: &str) -> bool {
    forbidden_at(s.as_bytes()).is_some()
}

/// May byte `c` start a forbidden character (a C0 control, TAB/LF/CR
/// included, or the lead byte `EF`)? The coarse test of the pre-scan.
#[inline]
fn candidate(c: u8) -> bool {
    c < 0x20 || c == 0xEF
}

/// The start of the first 16-byte block of `b` that holds a [`candidate`]
/// byte (or of the short tail), `b.len()` when none does. Branch-free inside
/// a block, so it vectorises; everything before it is clean.
fn first_candidate_block(b: &[u8]) -> usize {
    const BLOCK: usize = 16;
    let mut from = 0;
    while from + BLOCK <= b.len() {
        if b[from..from + BLOCK]
            .iter()
            .fold(false, |hit, &c| hit | candidate(c))
        {
            return from;
        }
        from += BLOCK;
    }
    if b[from..].iter().any(|&c| candidate(c)) {
        from
    } else {
        b.len()
    }
}

/// The offset of the first forbidden character of `b`, if any: the exact
/// test, from the first block the pre-scan flags.
fn forbidden_at(b: &[u8]) -> Option<usize> {
    (first_candidate_block(b)..b.len()).find(|&i| {
        let c = b[i];
        (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r'))
            || (c == 0xEF
                && b.get(i + 1) == Some(&0xBF)
                && matches!(b.get(i + 2), Some(0xBE | 0xBF)))
    })
}

/// `s` without the characters XML 1.0 forbids (C0 controls other than
/// TAB/LF/CR, U+FFFE, U+FFFF). Borrows, without allocating, when `s` is clean.
///
/// Line ends are left alone: a parser reports CR LF and a lone CR as LF
/// (XML 1.0 §2.11), which is XML's meaning of them, not a loss.
pub fn clean(s: &str) -> Cow<'_, str> {
    if has_forbidden(s) {
        Cow::Owned(s.chars().filter(|&c| xml_char(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// [`clean`] for attribute values, also turning TAB, LF and CR into spaces:
/// XML attribute-value normalisation (XML 1.0 §3.3.3) does that on parsing
/// anyway, so doing it here makes every reader, strict or not, see the same.
pub(crate) fn clean_attr(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    // TAB/LF/CR are pre-scan candidates too: input without any is borrowed
    // after that one scan.
    let from = first_candidate_block(b);
    let changes = from < b.len()
        && (b[from..].iter().any(|c| matches!(c, b'\t' | b'\n' | b'\r'))
            || forbidden_at(b).is_some());
    if changes {
        Cow::Owned(
            s.chars()
                .filter(|&c| xml_char(c))
                .map(|c| {
                    if matches!(c, '\t' | '\n' | '\r') {
                        ' '
                    } else {
                        c
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// Owned, cleaned element text (the crates take `String`s).
pub(crate) fn text(s: &str) -> String {
    clean(s).into_owned()
}

/// Owned, cleaned attribute value.
pub(crate) fn attr(s: &str) -> String {
    clean_attr(s).into_owned()
}

/// Escape `s` (already cleaned) for a double- or single-quoted attribute
/// value. Needed only where a crate writes attribute bytes verbatim
/// (`atom_syndication`'s extension attributes).
pub(crate) fn escape_attr(s: &str) -> Cow<'_, str> {
    escape_with(s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        _ => None,
    })
}

/// Escape plain text as HTML (`&`, `<`, `>`), so that a reader rendering it
/// as HTML shows the text itself. (The entry writers do this in place, see
/// `write.rs`; this is the reference.)
#[cfg(test)]
pub(crate) fn escape_html(s: &str) -> Cow<'_, str> {
    escape_with(s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    })
}

fn escape_with(s: &str, map: impl Fn(char) -> Option<&'static str>) -> Cow<'_, str> {
    if !s.chars().any(|c| map(c).is_some()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + s.len() / 8 + 8);
    for c in s.chars() {
        match map(c) {
            Some(rep) => out.push_str(rep),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

pub(crate) use crate::codec::base64;

use crate::clock::utc;
pub(crate) use crate::clock::{imf_date, rfc3339_ms};

/// A stamp as the offset date-time `atom_syndication` wants, keeping ms.
pub(crate) fn fixed(ms: u64) -> DateTime<FixedOffset> {
    utc(ms).fixed_offset()
}

/// A stamp truncated to whole seconds, like `Last-Modified`.
pub(crate) fn fixed_secs(ms: u64) -> DateTime<FixedOffset> {
    fixed(ms - ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strips_only_forbidden_chars_and_borrows_clean_input() {
        let ok = "tab\there\nline\r\nGrüße 日本語 🎉 \u{fffd} \u{85}";
        assert!(matches!(clean(ok), Cow::Borrowed(s) if s == ok));
        assert_eq!(clean("a\u{0}b\u{1}c\u{8}\u{b}\u{c}\u{1f}d"), "abcd");
        assert_eq!(clean("x\u{fffe}y\u{ffff}z\u{fffd}"), "xyz\u{fffd}");
        // U+EFBF.. and other EF-led characters are fine.
        assert!(matches!(
            clean("\u{efbf}\u{fbff}\u{ff21}"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn clean_attr_normalises_whitespace() {
        assert!(matches!(clean_attr("http://x/a b"), Cow::Borrowed(_)));
        assert_eq!(clean_attr("a\tb\nc\r\u{1}d"), "a b c d");
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_attr(r#"a&b<c>"d'"#), "a&amp;b&lt;c&gt;&quot;d&apos;");
        assert!(matches!(escape_attr("plain"), Cow::Borrowed(_)));
        assert_eq!(escape_html("1 < 2 & \"q\""), "1 &lt; 2 &amp; \"q\"");
    }

    #[test]
    fn base64_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn dates() {
        let ms = 1_714_564_800_250; // 2024-05-01T12:00:00.250Z
        assert_eq!(imf_date(ms), "Wed, 01 May 2024 12:00:00 GMT");
        assert_eq!(rfc3339_ms(ms), "2024-05-01T12:00:00.250Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(fixed(ms).to_rfc3339(), "2024-05-01T12:00:00.250+00:00");
        assert_eq!(fixed_secs(ms).to_rfc3339(), "2024-05-01T12:00:00+00:00");
        assert_eq!(rfc3339_ms(u64::MAX), "1970-01-01T00:00:00.000Z");
    }
}
