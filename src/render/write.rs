//! Writing XML straight into a document's buffer: the escaping and element
//! helpers of the entry writers (`rss_item.rs`, `atom_entry.rs`).
//!
//! This file owns the byte-exact forms of what the crates (through
//! quick-xml) write, so that a directly written entry equals the crate's:
//! - element text and attribute values escape `& < > " '` (quick-xml's
//!   `escape`: `BytesText::new` and `push_attribute((&str, &str))`);
//!   the tombstones, written by hand before, escape only `& < >` in text
//!   ([`Esc::Html`], the old `escape_html`);
//! - [`clean`](super::clean) and [`clean_attr`](super::xml::clean_attr) are
//!   folded into the same pass: forbidden characters are dropped (and, in
//!   attribute modes, TAB/LF/CR written as spaces) while escaping, which
//!   equals cleaning first, as no dropped character is one that is escaped;
//! - CDATA sections split before every `>` that ends a `]]` (quick-xml's
//!   `BytesCData::escaped`), over the cleaned text;
//! - decimal numbers.

use super::xml::clean;

/// What one byte needs in a given mode (the entries of a [`Table`]).
const KEEP: u8 = 0;
/// A C0 control XML 1.0 forbids: dropped.
const DROP: u8 = 1;
/// TAB, LF or CR in an attribute mode: a space.
const SPACE: u8 = 2;
/// `EF`: the lead byte of U+FFFE / U+FFFF (dropped) and of others (kept).
const LEAD_EF: u8 = 3;
const AMP: u8 = 4;
const LT: u8 = 5;
const GT: u8 = 6;
const QUOT: u8 = 7;
const APOS: u8 = 8;

type Table = [u8; 256];

const fn table(quotes: bool, clean: bool, attr: bool) -> Table {
    let mut t = [KEEP; 256];
    if clean {
        let mut c = 0;
        while c < 0x20 {
            t[c] = DROP;
            c += 1;
        }
        t[0xEF] = LEAD_EF;
        let ws = if attr { SPACE } else { KEEP };
        t[b'\t' as usize] = ws;
        t[b'\n' as usize] = ws;
        t[b'\r' as usize] = ws;
    }
    t[b'&' as usize] = AMP;
    t[b'<' as usize] = LT;
    t[b'>' as usize] = GT;
    if quotes {
        t[b'"' as usize] = QUOT;
        t[b'\'' as usize] = APOS;
    }
    t
}

/// The ways a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Esc {
    /// Element text: cleaned, then escaped as quick-xml does (`&<>"'`).
    Text,
    /// An attribute value that went through `clean_attr`, escaped as quick-xml does.
    Attr,
    /// A value that reached the crate as it is (already clean, or never
    /// cleaned, like a media type): only escaped, as quick-xml does.
    Raw,
    /// Text cleaned, then HTML-escaped (`&<>` only).
    Html,
}

static TEXT: Table = table(true, true, false);
static ATTR: Table = table(true, true, true);
static RAW: Table = table(true, false, false);
static HTML: Table = table(false, true, false);

/// The start of the first 16-byte block of `b` from `from` in which some
/// byte is `special` (or of the short tail), else `b.len()`. Branch-free
/// inside a block, so it vectorises: what it skips needs no work.
#[inline]
fn skip_plain(b: &[u8], mut from: usize, special: impl Fn(u8) -> bool) -> usize {
    const BLOCK: usize = 16;
    while from + BLOCK <= b.len() {
        if b[from..from + BLOCK]
            .iter()
            .fold(false, |hit, &c| hit | special(c))
        {
            return from;
        }
        from += BLOCK;
    }
    if b[from..].iter().any(|&c| special(c)) {
        from
    } else {
        b.len()
    }
}

/// Might byte `c` need work in mode `esc`? (A superset of the table's
/// non-[`KEEP`] entries, as plain comparisons.)
#[inline]
fn special(c: u8, quotes: bool, clean: bool) -> bool {
    (c == b'&')
        | (c == b'<')
        | (c == b'>')
        | (quotes & ((c == b'"') | (c == b'\'')))
        | (clean & ((c < 0x20) | (c == 0xEF)))
}

/// Append `s` to `out` as `esc` says.
pub(crate) fn push(out: &mut Vec<u8>, s: &str, esc: Esc) {
    let (t, quotes, clean) = match esc {
        Esc::Text => (&TEXT, true, true),
        Esc::Attr => (&ATTR, true, true),
        Esc::Raw => (&RAW, true, false),
        Esc::Html => (&HTML, false, true),
    };
    let pred = |c| special(c, quotes, clean);
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = skip_plain(b, 0, pred);
    while i < b.len() {
        let (rep, len): (&[u8], usize) = match t[usize::from(b[i])] {
            KEEP => {
                i += 1;
                continue;
            }
            DROP => (b"", 1),
            SPACE => (b" ", 1),
            LEAD_EF => {
                if b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)) {
                    (b"", 3)
                } else {
                    i += 1;
                    continue;
                }
            }
            AMP => (b"&amp;", 1),
            LT => (b"&lt;", 1),
            GT => (b"&gt;", 1),
            QUOT => (b"&quot;", 1),
            _ => (b"&apos;", 1),
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(rep);
        start = i + len;
        i = skip_plain(b, start, pred);
    }
    out.extend_from_slice(&b[start..]);
}

/// `<name>value</name>`, the value written as `esc` says.
pub(crate) fn element(out: &mut Vec<u8>, name: &str, value: &str, esc: Esc) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    push(out, value, esc);
    close(out, name);
}

/// `</name>`.
pub(crate) fn close(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

/// ` name="value"`, the value written as `esc` says.
pub(crate) fn attribute(out: &mut Vec<u8>, name: &str, value: &str, esc: Esc) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    push(out, value, esc);
    out.push(b'"');
}

/// ` name="n"`.
pub(crate) fn number_attribute(out: &mut Vec<u8>, name: &str, n: u64) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    number(out, n);
    out.push(b'"');
}

/// `<name>` + the cleaned `value` in CDATA sections + `</name>`, as the
/// `rss` crate writes a description or `content:encoded`.
pub(crate) fn cdata_element(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    cdata(out, &clean(value));
    close(out, name);
}

/// `s` as CDATA sections: a new section starts at every `>` that follows
/// `]]` (quick-xml's `CDataIterator`), so no section holds `]]>`.
pub(crate) fn cdata(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let mut start = 0;
    out.extend_from_slice(b"<![CDATA[");
    let mut i = skip_plain(b, 0, |c| c == b'>');
    while i < b.len() {
        if b[i] == b'>' && i >= start + 2 && b[i - 2] == b']' && b[i - 1] == b']' {
            out.extend_from_slice(&b[start..i]);
            out.extend_from_slice(b"]]><![CDATA[");
            start = i;
        }
        i += 1;
    }
    out.extend_from_slice(&b[start..]);
    out.extend_from_slice(b"]]>");
}

/// `n` in decimal, as `to_string` writes it.
pub(crate) fn number(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` is a digit.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// `<TAG href rel="enclosure" type length/>` for an enclosure: `TAG` is
/// Atom's `link` (or `atom:link` in RSS); `type` only for a MIME type,
/// `length` only when known.
pub(crate) fn enclosure_link(out: &mut Vec<u8>, tag: &str, enc: &crate::model::Enclosure) {
    out.push(b'<');
    out.extend_from_slice(tag.as_bytes());
    attribute(out, "href", &super::uri::uri(&enc.url), Esc::Raw);
    out.extend_from_slice(b" rel=\"enclosure\"");
    if let Some(mime) = super::uri::media_type(&enc.mime) {
        attribute(out, "type", &mime, Esc::Raw);
    }
    if enc.length > 0 {
        number_attribute(out, "length", enc.length);
    }
    out.extend_from_slice(b"/>");
    via_link(out, tag, enc);
}

/// Where a mirrored enclosure came from: `<TAG href=… rel="via"/>` (RFC
/// 4287 §4.2.7.2), when it has a `via`.
pub(crate) fn via_link(out: &mut Vec<u8>, tag: &str, enc: &crate::model::Enclosure) {
    let Some(via) = &enc.via else { return };
    out.push(b'<');
    out.extend_from_slice(tag.as_bytes());
    attribute(out, "href", &super::uri::uri(via), Esc::Raw);
    out.extend_from_slice(b" rel=\"via\"");
    if let Some(mime) = super::uri::media_type(&enc.mime) {
        attribute(out, "type", &mime, Esc::Raw);
    }
    out.extend_from_slice(b"/>");
}

#[cfg(test)]
mod tests {
    use super::super::xml::{clean_attr, escape_attr, escape_html};
    use super::*;

    fn with(s: &str, esc: Esc) -> String {
        let mut out = Vec::new();
        push(&mut out, s, esc);
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    #[test]
    fn modes_equal_cleaning_then_escaping() {
        for s in [
            "",
            "plain",
            "a&b<c>\"d'e",
            "\u{1}x\u{fffe}\u{ffff}\u{efbf}\u{fffd}\t\n\r\u{b}&",
            "\u{ef}\u{bf}",
            "end\u{ffff}",
            "日本語 🎉 ]]> &amp;",
            // Long enough for the block pre-scan, specials across blocks.
            &"0123456789abcd&\u{1}".repeat(9),
            &format!("{}\u{ffff}{}'", "x".repeat(31), "y".repeat(16)),
        ] {
            assert_eq!(with(s, Esc::Text), escape_attr(&clean(s)), "{s:?}");
            assert_eq!(with(s, Esc::Attr), escape_attr(&clean_attr(s)), "{s:?}");
            assert_eq!(with(s, Esc::Html), escape_html(&clean(s)), "{s:?}");
        }
        assert_eq!(with("\u{1}&\"", Esc::Raw), "\u{1}&amp;&quot;");
    }

    #[test]
    fn cdata_splits_like_quick_xml() {
        let cases = [
            ("", "<![CDATA[]]>"),
            ("a]]>b", "<![CDATA[a]]]]><![CDATA[>b]]>"),
            ("]]>]]>", "<![CDATA[]]]]><![CDATA[>]]]]><![CDATA[>]]>"),
            ("]]]>", "<![CDATA[]]]]]><![CDATA[>]]>"),
            ("]>]>", "<![CDATA[]>]>]]>"),
            (
                "0123456789abcdef0123]]>x",
                "<![CDATA[0123456789abcdef0123]]]]><![CDATA[>x]]>",
            ),
        ];
        for (s, want) in cases {
            let mut out = Vec::new();
            cdata(&mut out, s);
            assert_eq!(String::from_utf8_lossy(&out), want, "{s:?}");
        }
    }

    #[test]
    fn numbers() {
        for n in [0, 7, 10, 1234, u64::MAX] {
            let mut out = Vec::new();
            number(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
