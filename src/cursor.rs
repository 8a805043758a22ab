//! Reading the consumer's validators: ETag lists, HTTP dates, `lastMod`, and
//! choosing the request's cursor by the precedence of PROTOCOL §3.
//!
//! Pure functions over `&str`; no allocation on the hot path. A validator that
//! cannot be used is never an error: it yields [`Cursor::CatchUp`].

/// A position inside one feed's log: "holds every transaction up to `seq`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position<'a> {
    pub epoch: &'a str,
    pub seq: u64,
}

/// Where a request starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// `If-None-Match: *`: any current representation matches.
    Star,
    /// A position of this feed's log, selected by an ETag (header or `etag` parameter).
    Seq(u64),
    /// A date cursor: the consumer holds every transaction stamped in this
    /// Unix second or earlier.
    Date(u64),
    /// Nothing usable: read from the start of the log.
    CatchUp,
}

/// The validators a request carries, as raw text. Empty query values count as absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Validators<'a> {
    pub if_none_match: Option<&'a str>,
    pub etag: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub last_mod: Option<&'a str>,
}

/// Choose the cursor (PROTOCOL §3 "first rule that applies").
///
/// `epoch` and `head` describe the feed; `now` is the current Unix second (a
/// date later than now is invalid, RFC 9110 §13.1.3).
pub fn resolve(v: &Validators<'_>, epoch: &str, head: u64, now: u64) -> Cursor {
    if let Some(inm) = v.if_none_match {
        // The usual poll, without the list machinery: one strong tag naming
        // a position of this epoch (what the general path makes of it too).
        if let Some(seq) = one_tag_of(inm, epoch).filter(|&seq| seq <= head) {
            return Cursor::Seq(seq);
        }
        if is_star(inm) {
            return Cursor::Star;
        }
        return best_seq(inm, epoch, head).map_or(Cursor::CatchUp, Cursor::Seq);
    }
    if let Some(tag) = v.etag.filter(|s| !s.trim().is_empty()) {
        return best_seq(tag, epoch, head).map_or(Cursor::CatchUp, Cursor::Seq);
    }
    let date = match (
        v.if_modified_since,
        v.last_mod.filter(|s| !s.trim().is_empty()),
    ) {
        (Some(ims), _) => parse_http_date(ims),
        (None, Some(lm)) => parse_last_mod(lm),
        (None, None) => return Cursor::CatchUp,
    };
    match date {
        Some(secs) if secs <= now => Cursor::Date(secs),
        _ => Cursor::CatchUp,
    }
}

/// The seq of `list` when it is exactly `"EPOCH.SEQ"` for `epoch`.
fn one_tag_of(list: &str, epoch: &str) -> Option<u64> {
    let tag = list.strip_prefix('"')?.strip_suffix('"')?;
    let seq = tag.strip_prefix(epoch)?.strip_prefix('.')?;
    digits(seq.as_bytes())
}

/// `If-None-Match: *` exactly; a `*` inside a list is no tag (RFC 9110 §13.1.2).
fn is_star(list: &str) -> bool {
    list.trim() == "*"
}

/// The highest seq among the entity tags of `list` that name a position of
/// `epoch` no later than `head`.
pub fn best_seq(list: &str, epoch: &str, head: u64) -> Option<u64> {
    tags(list)
        .filter_map(parse_tag)
        .filter(|p| p.epoch == epoch && p.seq <= head)
        .map(|p| p.seq)
        .max()
}

/// Iterate over the opaque values of an entity-tag list: `"a", W/"b", c`.
/// Quotes and the weak prefix are removed; malformed parts yield odd values
/// that [`parse_tag`] rejects.
pub fn tags(list: &str) -> impl Iterator<Item = &str> {
    // Byte offsets: every delimiter is ASCII, so each slice boundary falls on
    // a character boundary.
    let separator = |c: u8| c == b',' || c.is_ascii_whitespace();
    let mut rest = list;
    std::iter::from_fn(move || loop {
        let start = rest.bytes().position(|c| !separator(c))?;
        rest = &rest[start..];
        if let Some(r) = rest.strip_prefix("W/") {
            rest = r;
        }
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.bytes().position(|c| c == b'"').unwrap_or(r.len());
            let tag = &r[..end];
            rest = r.get(end + 1..).unwrap_or("");
            return Some(tag);
        }
        let end = rest.bytes().position(separator).unwrap_or(rest.len());
        let tag = &rest[..end];
        rest = &rest[end..];
        if !tag.is_empty() {
            return Some(tag);
        }
    })
}

/// Parse one bare tag `EPOCH.SEQ`.
pub fn parse_tag(tag: &str) -> Option<Position<'_>> {
    let dot = tag.bytes().rposition(|b| b == b'.')?;
    let (epoch, seq) = (&tag[..dot], &tag.as_bytes()[dot + 1..]);
    if epoch.is_empty() {
        return None;
    }
    Some(Position {
        epoch,
        seq: digits(seq)?,
    })
}

/// A non-empty run of ASCII digits as a `u64` (no sign, no overflow).
fn digits(seq: &[u8]) -> Option<u64> {
    if seq.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in seq {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// An HTTP-date in any of its three forms (IMF-fixdate, RFC 850, asctime),
/// as a Unix second.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The `lastMod` parameter: an HTTP-date, an RFC 2822 date (as RSS
/// `lastBuildDate` carries it) or RFC 3339, as a Unix second (fractions are
/// dropped). A `+` turned into a space by form decoding is tolerated.
pub fn parse_last_mod(s: &str) -> Option<u64> {
    let s = s.trim();
    parse_http_date(s)
        .or_else(|| rfc2822(s))
        .or_else(|| rfc3339(s))
        .or_else(|| rfc3339(&s.replace(' ', "+")))
}

fn rfc2822(s: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc2822(s).ok()?;
    u64::try_from(t.timestamp()).ok()
}

fn rfc3339(s: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    u64::try_from(t.timestamp()).ok()
}

#[cfg(test)]
mod tests;
