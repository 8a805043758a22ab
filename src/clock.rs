//! Time as the store and the protocol see it: milliseconds since the Unix
//! epoch, behind a trait so tests can hold the clock still or move it.

use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(ms: u64) -> Self {
        ManualClock(AtomicU64::new(ms))
    }
    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A stamp (ms) as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) in whole
/// seconds: the HTTP date of `Last-Modified` and the RFC 2822 form RSS dates
/// use. A stamp past year 9999, which the format cannot hold, falls back to
/// the epoch, as the renderer's other dates do.
pub(crate) fn imf_date(ms: u64) -> String {
    // 10000-01-01T00:00:00Z, the first instant httpdate cannot format.
    const YEAR_10000_MS: u64 = 253_402_300_800_000;
    let ms = if ms < YEAR_10000_MS { ms } else { 0 };
    httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

/// A stamp (ms since the Unix epoch) as a UTC date-time. Stamps beyond
/// chrono's range (never produced by a real clock) fall back to the epoch.
pub(crate) fn utc(ms: u64) -> DateTime<Utc> {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or_default()
}

/// A stamp as RFC 3339 in UTC with milliseconds (`2024-05-01T12:00:00.250Z`):
/// the documents' sync stamps and the operations endpoints' times.
pub(crate) fn rfc3339_ms(ms: u64) -> String {
    utc(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::imf_date;

    #[test]
    fn imf_date_whole_seconds_and_out_of_range() {
        assert_eq!(imf_date(1_714_564_800_999), "Wed, 01 May 2024 12:00:00 GMT");
        assert_eq!(
            imf_date(253_402_300_799_000),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        assert_eq!(imf_date(u64::MAX), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
