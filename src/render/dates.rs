//! The entry writers' dates, written straight into the buffer in exactly the
//! forms of `xml.rs` / `clock.rs` (which format through chrono and httpdate):
//! - [`imf`]: RSS `pubDate`, as [`imf_date`];
//! - [`rfc3339_millis`]: `sync:stamp` and `at:deleted-entry@when`, as [`rfc3339_ms`];
//! - [`atom_updated`]: an Atom entry's `updated`, as `fixed(ms).to_rfc3339()`;
//! - [`published`]: an Atom entry's `published`, as
//!   `DateTime::parse_from_rfc3339(s)` re-formatted with `to_rfc3339()`, or
//!   nothing when that does not parse.
//!
//! Only the common forms are written here (stamps before the year 10000; a
//! `published` of the form `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with at most 9
//! fraction digits and a valid date and time); anything else goes through
//! the library functions, so every output equals theirs.

use chrono::DateTime;

use super::xml::{fixed, imf_date, rfc3339_ms};

/// 10000-01-01T00:00:00Z in ms, the first instant written by the fallbacks.
const YEAR_10000_MS: u64 = 253_402_300_800_000;

/// The civil (proleptic Gregorian) date of day `days` since 1970-01-01
/// (H. Hinnant's `civil_from_days`), for `days` ≥ 0.
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `n` (< 10^width) zero-padded to `width` digits (constant divisors
/// for the common widths, which compile to multiplications).
fn digits(out: &mut Vec<u8>, n: u64, width: u32) {
    // Each expression is a single decimal digit.
    let d = |n: u64| b'0' + (n % 10) as u8;
    match width {
        2 => out.extend_from_slice(&[d(n / 10), d(n)]),
        3 => out.extend_from_slice(&[d(n / 100), d(n / 10), d(n)]),
        4 => out.extend_from_slice(&[d(n / 1000), d(n / 100), d(n / 10), d(n)]),
        _ => {
            let mut p = 10u64.pow(width - 1);
            while p > 0 {
                out.push(d(n / p));
                p /= 10;
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the epoch (before the year 10000).
fn date_time(out: &mut Vec<u8>, secs: u64) {
    let (year, month, day) = civil(secs / 86_400);
    let s = secs % 86_400;
    digits(out, year, 4);
    out.push(b'-');
    digits(out, month, 2);
    out.push(b'-');
    digits(out, day, 2);
    out.push(b'T');
    time_of_day(out, s);
}

/// [`rfc3339_ms`]: `2024-05-01T12:00:00.250Z`.
pub(crate) fn rfc3339_millis(out: &mut Vec<u8>, ms: u64) {
    if ms >= YEAR_10000_MS {
        out.extend_from_slice(rfc3339_ms(ms).as_bytes());
        return;
    }
    date_time(out, ms / 1000);
    out.push(b'.');
    digits(out, ms % 1000, 3);
    out.push(b'Z');
}

/// `fixed(ms).to_rfc3339()`: `2024-05-01T12:00:00.250+00:00`, without the
/// fraction when it is zero.
pub(crate) fn atom_updated(out: &mut Vec<u8>, ms: u64) {
    if ms >= YEAR_10000_MS {
        out.extend_from_slice(fixed(ms).to_rfc3339().as_bytes());
        return;
    }
    date_time(out, ms / 1000);
    if ms % 1000 != 0 {
        out.push(b'.');
        digits(out, ms % 1000, 3);
    }
    out.extend_from_slice(b"+00:00");
}

/// [`imf_date`]: `Wed, 01 May 2024 12:00:00 GMT`.
pub(crate) fn imf(out: &mut Vec<u8>, ms: u64) {
    if ms >= YEAR_10000_MS {
        out.extend_from_slice(imf_date(ms).as_bytes());
        return;
    }
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let secs = ms / 1000;
    let days = secs / 86_400;
    let (year, month, day) = civil(days);
    let s = secs % 86_400;
    // Both indices are in range: a remainder of 7, a month of 1 to 12.
    out.extend_from_slice(WEEKDAYS[(days % 7) as usize]);
    out.extend_from_slice(b", ");
    digits(out, day, 2);
    out.push(b' ');
    out.extend_from_slice(MONTHS[(month - 1) as usize]);
    out.push(b' ');
    digits(out, year, 4);
    out.push(b' ');
    time_of_day(out, s);
    out.extend_from_slice(b" GMT");
}

/// `<published>…</published>` for a payload's `published` value, as the
/// crate writes `DateTime::parse_from_rfc3339(s).ok()`; nothing when that
/// does not parse.
pub(crate) fn published(out: &mut Vec<u8>, s: &str) {
    const OPEN: &[u8] = b"<published>";
    const CLOSE: &[u8] = b"</published>";
    if let Some((head, nanos)) = utc_form(s.as_bytes()) {
        out.extend_from_slice(OPEN);
        out.extend_from_slice(head);
        if nanos == 0 {
        } else if nanos % 1_000_000 == 0 {
            out.push(b'.');
            digits(out, u64::from(nanos / 1_000_000), 3);
        } else if nanos % 1000 == 0 {
            out.push(b'.');
            digits(out, u64::from(nanos / 1000), 6);
        } else {
            out.push(b'.');
            digits(out, u64::from(nanos), 9);
        }
        out.extend_from_slice(b"+00:00");
        out.extend_from_slice(CLOSE);
    } else if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        out.extend_from_slice(OPEN);
        out.extend_from_slice(t.to_rfc3339().as_bytes());
        out.extend_from_slice(CLOSE);
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.F{1,9}]Z` with a valid date and time (no leap
/// second): its first 19 bytes and the fraction in nanoseconds.
fn utc_form(b: &[u8]) -> Option<(&[u8], u32)> {
    let (head, rest) = (b.get(..19)?, b.get(19..)?);
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        head[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !seps.iter().all(|&(i, c)| head[i] == c) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let nanos = match rest {
        [b'Z'] => 0,
        [b'.', frac @ .., b'Z'] if (1..=9).contains(&frac.len()) => {
            let mut n = 0u32;
            for &c in frac {
                if !c.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + u32::from(c - b'0');
            }
            // At most 9 digits: scaled to nanoseconds, below 10^9.
            n * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    Some((head, nanos))
}

/// `HH:MM:SS` of `s` seconds into a day.
fn time_of_day(out: &mut Vec<u8>, s: u64) {
    digits(out, s / 3600, 2);
    out.push(b':');
    digits(out, s / 60 % 60, 2);
    out.push(b':');
    digits(out, s % 60, 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("ASCII")
    }

    /// Stamps over the whole range, the fallback's edges included.
    fn stamps() -> Vec<u64> {
        let mut v = vec![
            0,
            1,
            999,
            1000,
            86_399_999,
            86_400_000,
            951_782_400_000, // 2000-02-29
            1_714_564_800_250,
            YEAR_10000_MS - 1,
            YEAR_10000_MS,
            YEAR_10000_MS + 1,
            i64::MAX as u64,
            u64::MAX,
        ];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push(x % (YEAR_10000_MS + 1_000_000));
            v.push(x % 4_102_444_800_000); // before 2100
        }
        v
    }

    #[test]
    fn stamps_equal_the_library_forms() {
        for ms in stamps() {
            assert_eq!(with(|o| rfc3339_millis(o, ms)), rfc3339_ms(ms), "{ms}");
            assert_eq!(
                with(|o| atom_updated(o, ms)),
                fixed(ms).to_rfc3339(),
                "{ms}"
            );
            assert_eq!(with(|o| imf(o, ms)), imf_date(ms), "{ms}");
        }
    }

    fn chrono_published(s: &str) -> String {
        DateTime::parse_from_rfc3339(s)
            .map(|t| format!("<published>{}</published>", t.to_rfc3339()))
            .unwrap_or_default()
    }

    #[test]
    fn published_equals_chrono() {
        let mut cases: Vec<String> = [
            "2024-04-30T08:00:00Z",
            "2024-04-30T08:00:00.5Z",
            "2024-04-30T08:00:00.000Z",
            "2024-04-30T08:00:00.123456Z",
            "2024-04-30T08:00:00.123456789Z",
            "2024-04-30T08:00:00.1234567891Z",
            "2024-04-30T08:00:00.Z",
            "2024-04-30T08:00:00z",
            "2024-04-30t08:00:00Z",
            "2024-04-30 08:00:00Z",
            "2024-04-30T08:00:00+02:00",
            "2024-04-30T08:00:00-00:00",
            "2024-04-30T08:00:60Z",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-04-30T24:00:00Z",
            "2024-04-30T08:60:00Z",
            "2024-04-30T08:00:00Z ",
            "2024-04-30T08:00:00",
            "",
            "yesterday",
            "２024-04-30T08:00:00Z",
        ]
        .map(str::to_owned)
        .to_vec();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let r = next();
            let mut s = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                r % 10_000,
                r / 10_000 % 14,
                r / 200_000 % 33,
                r / 10_000_000 % 25,
                r / 300_000_000 % 61,
                r / 30_000_000_000 % 61
            );
            let f = next();
            match f % 4 {
                0 => {}
                1 => s.push_str(&format!(".{}", f / 4 % 1_000)),
                2 => s.push_str(&format!(".{:09}", f / 4 % 1_000_000_000)),
                _ => s.push_str(&format!(".{}", f / 4 % 100_000_000_000)),
            }
            s.push_str(["Z", "Z", "+01:00", "z", ""][(f / 7 % 5) as usize]);
            cases.push(s);
        }
        for s in cases {
            assert_eq!(with(|o| published(o, &s)), chrono_published(&s), "{s:?}");
        }
    }
}
