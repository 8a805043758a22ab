//! HTTP-date and `lastMod` parsing: `parse_http_date`, `parse_last_mod`.
//!
//! Properties: whatever `parse_http_date` accepts, `parse_last_mod` accepts
//! with the same value; an accepted date formats back (IMF-fixdate) to one that
//! parses to the same second; any second from 1970 to 9999 formatted as an
//! IMF-fixdate, asctime, RFC 2822 or RFC 3339 date parses back to itself.
#![no_main]

use feedgate::cursor::{parse_http_date, parse_last_mod};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};

/// 9999-12-31T23:59:59Z: the last second an HTTP-date can carry.
const MAX_SECS: u64 = 253_402_300_799;

fn imf(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

fn check_parsed(s: &str, secs: u64) {
    assert!(secs <= MAX_SECS, "{s:?} -> {secs}");
    assert_eq!(parse_http_date(&imf(secs)), Some(secs), "{s:?}");
}

fuzz_target!(|input: (u64, i16, &str)| {
    // The text comes last so that seed files are 10 bytes of numbers + a date.
    let (raw_secs, offset_min, s) = input;

    if let Some(secs) = parse_http_date(s) {
        check_parsed(s, secs);
        assert_eq!(parse_last_mod(s), Some(secs), "{s:?}");
    }
    if let Some(secs) = parse_last_mod(s) {
        // lastMod also takes RFC 3339 with offsets, whose UTC second may fall
        // just outside 1970..=9999: then it is still a valid second count.
        if secs <= MAX_SECS {
            check_parsed(s, secs);
        }
    }

    let secs = raw_secs % (MAX_SECS + 1);
    let t = chrono::DateTime::from_timestamp(secs as i64, 0).expect("in range");
    let forms = [
        imf(secs),
        t.format("%a %b %e %H:%M:%S %Y").to_string(),
        t.to_rfc2822(),
        t.to_rfc3339(),
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    ];
    for form in &forms[..2] {
        assert_eq!(parse_http_date(form), Some(secs), "{form:?}");
    }
    for form in &forms {
        assert_eq!(parse_last_mod(form), Some(secs), "{form:?}");
    }
    // RFC 3339 with an offset names the same instant.
    let offset = chrono::FixedOffset::east_opt(i32::from(offset_min % (24 * 60)) * 60)
        .expect("within a day");
    let shifted = t.with_timezone(&offset).to_rfc3339();
    if let Ok(back) = chrono::DateTime::parse_from_rfc3339(&shifted) {
        if back.timestamp() == secs as i64 {
            assert_eq!(parse_last_mod(&shifted), Some(secs), "{shifted:?}");
        }
    }
});
