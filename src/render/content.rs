//! Classifying a payload's `content_type` (`text`, `html`, `xhtml` or a MIME
//! type), so both formats treat content the same way. This file owns only the
//! classification; `rss.rs` and `atom.rs` decide what each kind becomes.

use super::uri::token;

/// What a payload's content is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// `text`, an absent type, or a type that is neither a keyword nor a
    /// well-formed MIME type (treating unknown content as text never lets
    /// markup through unescaped).
    Text,
    /// `html`, `xhtml`, `text/html`, `application/xhtml+xml`: markup to be
    /// rendered as HTML.
    Html,
    /// A MIME type (trimmed; parameters kept) of one of RFC 4287 §4.1.3.3's classes.
    Mime(&'a str, MimeClass),
}

/// RFC 4287 §4.1.3.3 classes of MIME types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MimeClass {
    /// `text/*` (other than `text/html`): character content, no child elements.
    Text,
    /// An XML media type (`*/xml`, `*/*+xml`).
    Xml,
    /// Anything else: Base64 in Atom.
    Binary,
}

/// Classify `content_type`; keywords and MIME types compare ASCII
/// case-insensitively.
pub(crate) fn kind(content_type: Option<&str>) -> Kind<'_> {
    let Some(ct) = content_type.map(str::trim) else {
        return Kind::Text;
    };
    if ct.eq_ignore_ascii_case("text") {
        return Kind::Text;
    }
    if ct.eq_ignore_ascii_case("html") || ct.eq_ignore_ascii_case("xhtml") {
        return Kind::Html;
    }
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return Kind::Text;
    };
    if !token(ty) || !token(sub) {
        return Kind::Text;
    }
    let (ty, sub) = (ty.to_ascii_lowercase(), sub.to_ascii_lowercase());
    if (ty == "text" && sub == "html") || (ty == "application" && sub == "xhtml+xml") {
        Kind::Html
    } else if sub == "xml" || sub.ends_with("+xml") {
        Kind::Mime(ct, MimeClass::Xml)
    } else if ty == "text" {
        Kind::Mime(ct, MimeClass::Text)
    } else {
        Kind::Mime(ct, MimeClass::Binary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(kind(None), Kind::Text);
        assert_eq!(kind(Some("text")), Kind::Text);
        assert_eq!(kind(Some(" TEXT ")), Kind::Text);
        assert_eq!(kind(Some("html")), Kind::Html);
        assert_eq!(kind(Some("xhtml")), Kind::Html);
        assert_eq!(kind(Some("Text/HTML; charset=utf-8")), Kind::Html);
        assert_eq!(kind(Some("application/xhtml+xml")), Kind::Html);
        assert_eq!(
            kind(Some("text/plain")),
            Kind::Mime("text/plain", MimeClass::Text)
        );
        assert_eq!(
            kind(Some("application/xml")),
            Kind::Mime("application/xml", MimeClass::Xml)
        );
        assert_eq!(
            kind(Some("image/svg+xml")),
            Kind::Mime("image/svg+xml", MimeClass::Xml)
        );
        assert_eq!(
            kind(Some("application/json")),
            Kind::Mime("application/json", MimeClass::Binary)
        );
        for junk in ["", "bogus", "a/", "/b", "a b/c", "a/b/c", "<x>/y"] {
            assert_eq!(kind(Some(junk)), Kind::Text, "{junk}");
        }
    }
}
