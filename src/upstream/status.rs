//! The sync status of one upstream feed, as operators see it in `GET /feeds`
//! and `/readyz`: last sync time, last outcome, changes, failure counts and
//! the last error's text (which never holds a header value or URL credentials).

use super::sync::{Changes, Report};
use super::SyncError;
use crate::clock::rfc3339_ms;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    /// The origin's URL without credentials or query.
    pub url: String,
    pub format: &'static str,
    /// `never` (no sync yet), `ok` (the last sync succeeded), `failing`.
    pub state: &'static str,
    /// When the last sync ended (RFC 3339), successful or not, or when this
    /// process last found another one syncing (`elsewhere`).
    pub last_sync: Option<String>,
    pub last_success: Option<String>,
    /// `not_modified`, `unchanged`, `applied`, `failed`, `refused` (mass-delete guard)
    /// or `elsewhere` (another process held the feed's sync turn: this one did not fetch).
    pub last_outcome: Option<&'static str>,
    /// `snapshot` (json/rss/atom), `incremental` or `resync` (feedgate).
    pub last_mode: Option<&'static str>,
    pub last_changes: Changes,
    /// Requests the last sync made (feedgate pages; 1 otherwise).
    pub last_pages: usize,
    pub last_duration_ms: u64,
    /// Feedgate: more upstream pages were left for the next sync (`max_pages`).
    pub more_pending: bool,
    /// Items of the last parsed document left as they were (invalid payload)
    /// and left out (no usable or a repeated id); kept over syncs that parse nothing.
    pub kept_items: usize,
    pub skipped_items: usize,
    /// Feedgate: the upstream position this feed holds (`EPOCH.SEQ`).
    pub position: Option<String>,
    pub syncs: u64,
    pub failures: u64,
    pub consecutive_failures: u64,
    pub last_error: Option<String>,
}

impl SyncStatus {
    pub fn new(url: String, format: &'static str) -> SyncStatus {
        SyncStatus {
            url,
            format,
            state: "never",
            last_sync: None,
            last_success: None,
            last_outcome: None,
            last_mode: None,
            last_changes: Changes::default(),
            last_pages: 0,
            last_duration_ms: 0,
            more_pending: false,
            kept_items: 0,
            skipped_items: 0,
            position: None,
            syncs: 0,
            failures: 0,
            consecutive_failures: 0,
            last_error: None,
        }
    }

    pub(super) fn succeeded(&mut self, r: &Report, now_ms: u64, took: Duration) {
        let at = Some(rfc3339_ms(now_ms));
        self.syncs += 1;
        self.state = "ok";
        self.last_sync = at.clone();
        self.last_success = at;
        self.last_outcome = Some(r.outcome());
        self.last_mode = Some(r.mode);
        self.last_changes = r.changes;
        self.last_pages = r.pages;
        self.last_duration_ms = millis(took);
        self.more_pending = r.more;
        if let (Some(kept), Some(skipped)) = (r.kept, r.skipped) {
            self.kept_items = kept;
            self.skipped_items = skipped;
        }
        if r.position.is_some() {
            self.position = r.position.clone();
        }
        self.consecutive_failures = 0;
        self.last_error = None;
    }

    /// Another process syncs the feed: `state`, counts and the last
    /// success stay as they were.
    pub(super) fn elsewhere(&mut self, now_ms: u64, took: Duration) {
        self.last_sync = Some(rfc3339_ms(now_ms));
        self.last_outcome = Some("elsewhere");
        self.last_changes = Changes::default();
        self.last_duration_ms = millis(took);
    }

    pub(super) fn failed(&mut self, e: &SyncError, now_ms: u64, took: Duration) {
        self.syncs += 1;
        self.failures += 1;
        self.consecutive_failures += 1;
        self.state = "failing";
        self.last_sync = Some(rfc3339_ms(now_ms));
        self.last_outcome = Some(match e {
            SyncError::Refused(_) => "refused",
            _ => "failed",
        });
        self.last_changes = Changes::default();
        self.last_duration_ms = millis(took);
        self.last_error = Some(e.to_string());
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
