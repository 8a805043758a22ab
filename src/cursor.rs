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

fn is_star(list: &str) -> bool {
    // One memchr for the usual list without a `*`.
    list.contains('*') && list.split(',').any(|t| t.trim() == "*")
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
    if epoch.is_empty() || seq.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in seq {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(Position { epoch, seq: n })
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
mod tests {
    use super::*;

    const E: &str = "ab12cd34ef56ab78";
    const NOW: u64 = 1_700_000_000;

    fn v<'a>() -> Validators<'a> {
        Validators::default()
    }

    #[test]
    fn tag_lists() {
        let got: Vec<_> = tags(r#""a.1", W/"b.2",c.3 ,, "d,4""#).collect();
        assert_eq!(got, ["a.1", "b.2", "c.3", "d,4"]);
        assert_eq!(tags("").count(), 0);
        assert_eq!(
            tags(r#""unterminated"#).collect::<Vec<_>>(),
            ["unterminated"]
        );
        assert_eq!(tags("W/").count(), 0);
    }

    #[test]
    fn tag_parsing() {
        assert_eq!(parse_tag("e.5"), Some(Position { epoch: "e", seq: 5 }));
        assert_eq!(parse_tag("e.0"), Some(Position { epoch: "e", seq: 0 }));
        for bad in [
            "e",
            ".5",
            "e.",
            "e.-1",
            "e.+1",
            "e.1x",
            "e.99999999999999999999",
        ] {
            assert_eq!(parse_tag(bad), None, "{bad}");
        }
    }

    #[test]
    fn highest_valid_position_of_this_epoch_wins() {
        let list = format!(r#""{E}.3", "other.9", W/"{E}.7", "{E}.50", garbage"#);
        assert_eq!(best_seq(&list, E, 10), Some(7));
        assert_eq!(best_seq(&list, E, 50), Some(50));
        assert_eq!(best_seq(r#""other.1""#, E, 10), None);
    }

    #[test]
    fn if_none_match_rules() {
        let inm = format!(r#"W/"{E}.4""#);
        let c = resolve(
            &Validators {
                if_none_match: Some(&inm),
                ..v()
            },
            E,
            9,
            NOW,
        );
        assert_eq!(c, Cursor::Seq(4));
        let c = resolve(
            &Validators {
                if_none_match: Some(r#""x", *"#),
                ..v()
            },
            E,
            9,
            NOW,
        );
        assert_eq!(c, Cursor::Star);
        // A seq beyond the head, a foreign epoch, garbage: catch-up.
        for bad in [format!("\"{E}.10\""), "\"zz.3\"".into(), "%%%".into()] {
            let c = resolve(
                &Validators {
                    if_none_match: Some(&bad),
                    ..v()
                },
                E,
                9,
                NOW,
            );
            assert_eq!(c, Cursor::CatchUp, "{bad}");
        }
    }

    #[test]
    fn if_none_match_beats_everything_and_ignores_dates() {
        let inm = format!("\"{E}.2\"");
        let etag = format!("{E}.5");
        let all = Validators {
            if_none_match: Some(&inm),
            etag: Some(&etag),
            if_modified_since: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            last_mod: Some("1994-11-06T08:49:37Z"),
        };
        assert_eq!(resolve(&all, E, 9, NOW), Cursor::Seq(2));
        // Invalid If-None-Match still wins over a valid date: catch-up.
        let bad = Validators {
            if_none_match: Some("\"nope\""),
            ..all
        };
        assert_eq!(resolve(&bad, E, 9, NOW), Cursor::CatchUp);
    }

    #[test]
    fn etag_parameter_beats_dates() {
        let etag = format!("{E}.5");
        let q = Validators {
            etag: Some(&etag),
            last_mod: Some("1994-11-06T08:49:37Z"),
            if_modified_since: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            ..v()
        };
        assert_eq!(resolve(&q, E, 9, NOW), Cursor::Seq(5));
        let quoted = format!("\"{E}.6\"");
        assert_eq!(
            resolve(
                &Validators {
                    etag: Some(&quoted),
                    ..v()
                },
                E,
                9,
                NOW
            ),
            Cursor::Seq(6)
        );
        let bad = Validators {
            etag: Some("zz.1"),
            last_mod: Some("1994-11-06T08:49:37Z"),
            ..v()
        };
        assert_eq!(resolve(&bad, E, 9, NOW), Cursor::CatchUp);
        // An empty parameter counts as absent.
        let empty = Validators {
            etag: Some(""),
            last_mod: Some("1994-11-06T08:49:37Z"),
            ..v()
        };
        assert_eq!(resolve(&empty, E, 9, NOW), Cursor::Date(784_111_777));
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s), Some(784_111_777), "{s}");
            let c = resolve(
                &Validators {
                    if_modified_since: Some(s),
                    ..v()
                },
                E,
                9,
                NOW,
            );
            assert_eq!(c, Cursor::Date(784_111_777));
        }
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn last_mod_forms() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 +0000",
            "1994-11-06T08:49:37Z",
            "1994-11-06T08:49:37.999Z",
            "1994-11-06T09:49:37+01:00",
            "1994-11-06T09:49:37 01:00",
        ] {
            assert_eq!(parse_last_mod(s), Some(784_111_777), "{s}");
        }
        assert_eq!(parse_last_mod("1994-13-06T08:49:37Z"), None);
    }

    #[test]
    fn if_modified_since_beats_last_mod_and_bad_dates_catch_up() {
        let both = Validators {
            if_modified_since: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            last_mod: Some("2000-01-01T00:00:00Z"),
            ..v()
        };
        assert_eq!(resolve(&both, E, 9, NOW), Cursor::Date(784_111_777));
        let lm = Validators {
            last_mod: Some("2000-01-01T00:00:00Z"),
            ..v()
        };
        assert_eq!(resolve(&lm, E, 9, NOW), Cursor::Date(946_684_800));
        let bad = Validators {
            if_modified_since: Some("garbage"),
            ..v()
        };
        assert_eq!(resolve(&bad, E, 9, NOW), Cursor::CatchUp);
        let future = Validators {
            last_mod: Some("2100-01-01T00:00:00Z"),
            ..v()
        };
        assert_eq!(resolve(&future, E, 9, NOW), Cursor::CatchUp);
        assert_eq!(resolve(&v(), E, 9, NOW), Cursor::CatchUp);
    }
}
