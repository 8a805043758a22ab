//! The grammars a strict feed validator (w3c/feedvalidator) checks values
//! against: URI references and absolute URIs in its character set, `atom:id`
//! (with RFC 2141 URNs and RFC 4151 tags), RSS enclosure URLs, MIME types,
//! RFC 3339 and RFC 822 dates, Base64. Used by `rules.rs`.

fn uri_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b";/?:@&=+$.-_!~*'()%,#".contains(&c)
}

fn scheme_of(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once(':')?;
    let mut b = scheme.bytes();
    (b.next()?.is_ascii_alphabetic() && b.all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c)))
        .then_some(scheme)
}

/// A URI reference (relative or absolute) in the validator's character set
/// (an IPv6 literal only right after `//`), escapes well-formed, and
/// `http:` / `ftp:` with `//` and a host.
pub fn uri_ref(s: &str) -> bool {
    let mut rest = s;
    if let Some(scheme) = scheme_of(s) {
        rest = &s[scheme.len() + 1..];
        if matches!(scheme.to_ascii_lowercase().as_str(), "http" | "ftp")
            && !rest
                .strip_prefix("//")
                .is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        {
            return false;
        }
    }
    if let Some(r) = rest.strip_prefix("//").and_then(|r| r.strip_prefix('[')) {
        let Some((lit, after)) = r.split_once(']') else {
            return false;
        };
        if !lit.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
            return false;
        }
        rest = after;
    }
    let b = rest.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        uri_byte(c)
            && (c != b'%'
                || b.get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)))
    })
}

/// An absolute URI: a scheme and at least one more character after an
/// optional `//` (`rfc2396_full`; no IPv6 literal there).
pub fn full_uri(s: &str) -> bool {
    let Some(scheme) = scheme_of(s) else {
        return false;
    };
    let rest = &s[scheme.len() + 1..];
    let body = rest.strip_prefix("//").unwrap_or(rest);
    !body.is_empty() && !s.contains(['[', ']']) && uri_ref(s)
}

/// An `atom:id`: a full URI, and for `urn:` / `tag:` the grammar of RFC 2141
/// (`urn:uuid:` a UUID) / RFC 4151 as the validator checks them.
pub fn atom_id(s: &str) -> bool {
    if !full_uri(s) {
        return false;
    }
    let scheme = scheme_of(s).unwrap_or("").to_ascii_lowercase();
    let rest = &s[scheme.len() + 1..];
    match scheme.as_str() {
        "urn" => {
            let Some((nid, nss)) = rest.split_once(':') else {
                return false;
            };
            let nid_ok = (2..=32).contains(&nid.len())
                && nid.as_bytes()[0].is_ascii_alphanumeric()
                && nid.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
            let nss_ok = !nss.is_empty()
                && nss
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"()+,.:=@;$_!*'-%".contains(&c));
            let uuid = !nid.eq_ignore_ascii_case("uuid")
                || nss.split('-').map(str::len).eq([8, 4, 4, 4, 12]);
            nid_ok && nss_ok && uuid
        }
        "tag" => {
            let Some((auth, after)) = rest.split_once(',') else {
                return false;
            };
            let date = after.split(':').next().unwrap_or("");
            s.starts_with("tag:")
                && !auth.is_empty()
                && auth
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b".-_@".contains(&c))
                && [4, 7, 10].contains(&date.len())
                && after.len() > date.len()
        }
        _ => true,
    }
}

/// An RSS `<enclosure url>`: `http(s)://` and a host, and a full URI.
pub fn http_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    rest.is_some_and(|r| r.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())) && full_uri(s)
}

/// The validator's `mime_re`: `type/subtype *( ; name=value )`.
pub fn mime(s: &str) -> bool {
    let tok = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| !c.is_whitespace() && !"()<>,;:\\\"/[]?=".contains(c))
    };
    let mut parts = s.split(';');
    let Some((ty, sub)) = parts.next().and_then(|e| e.split_once('/')) else {
        return false;
    };
    tok(ty)
        && tok(sub.trim_end())
        && parts.all(|p| {
            p.trim().split_once('=').is_some_and(|(n, v)| {
                tok(n) && (tok(v) || (v.len() >= 2 && v.starts_with('"') && v.ends_with('"')))
            })
        })
}

/// RFC 3339 as the validator's `rfc3339` checks it (a `T`, seconds, an
/// optional fraction, `Z` or `±hh:mm`), and a real date.
pub fn rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let shape = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && (s.ends_with('Z') || s[s.len() - 6..].starts_with(['+', '-']));
    shape && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// RFC 822 (with four-digit years) as RSS wants it, with the right weekday.
pub fn rfc822(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc2822(s).is_ok_and(|t| {
        let day = t.format("%a").to_string();
        s.starts_with(&format!("{day}, ")) && s.split(' ').nth(3).is_some_and(|y| y.len() == 4)
    })
}

pub fn base64(s: &str) -> bool {
    let t: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    t.len() % 4 == 0
        && t.iter()
            .rev()
            .skip_while(|&&c| c == b'=')
            .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        && t.iter().rev().take_while(|&&c| c == b'=').count() <= 2
}
