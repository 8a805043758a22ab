//! One sync of a `json`, `rss` or `atom` origin, and what every kind of sync
//! shares: the [`Report`] of what it did, the state it persists and the
//! diff-and-apply step ([`apply_snapshot`]) that `feedgate` resyncs use too.
//!
//! A snapshot sync is a conditional GET with the origin's own validators (a
//! 304 costs no parse and no diff; so does a body whose hash equals the last
//! applied one), then parse → diff → mass-delete guard → one atomic append.
//! A `feedgate` origin syncs page by page instead (`feedgate.rs`;
//! `Syncer::sync_once` chooses by format).
//!
//! The state (origin validators, body hash, feedgate position, and the
//! fingerprint of the config they belong to) lives in the feed's own sled
//! tree (`m:upstream`) and survives restarts. It is written only after the
//! sync's transactions are durable, so a crash in between costs a re-fetch,
//! never a lost or repeated transaction (re-applying a state appends nothing).

use super::client::{Conditional, Fetched};
use super::config::SourceFormat;
use super::diff::{self, Snapshot};
use super::{parse, SyncError, Syncer};
use crate::store::{Appended, Log, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Transactions one sync appended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
}

/// What one successful sync did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `snapshot`, `incremental` or `resync`.
    pub mode: &'static str,
    pub changes: Changes,
    /// The origin answered 304 (to every request of the sync).
    pub not_modified: bool,
    pub pages: usize,
    /// Feedgate: pages left for the next sync.
    pub more: bool,
    /// Items of the parsed document kept as they were / left out (`None`:
    /// nothing was parsed).
    pub kept: Option<usize>,
    pub skipped: Option<usize>,
    /// Feedgate: the upstream position held after the sync.
    pub position: Option<String>,
}

impl Report {
    pub fn new(mode: &'static str) -> Report {
        Report {
            mode,
            ..Report::default()
        }
    }

    /// `applied` (transactions appended), `not_modified` (origin 304) or `unchanged`.
    pub fn outcome(&self) -> &'static str {
        let c = &self.changes;
        if c.added + c.updated + c.deleted > 0 {
            "applied"
        } else if self.not_modified {
            "not_modified"
        } else {
            "unchanged"
        }
    }

    pub(super) fn count(&mut self, done: &Appended) {
        for a in &done.applied {
            match a.outcome {
                Outcome::Add => self.changes.added += 1,
                Outcome::Update => self.changes.updated += 1,
                Outcome::Delete => self.changes.deleted += 1,
                Outcome::Unchanged => {}
            }
        }
    }
}

/// The persisted sync state of one upstream feed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct State {
    /// `UpstreamConfig::fingerprint` of the config this state belongs to.
    pub fingerprint: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// `diff::content_hash` of the last applied body, hex.
    pub body_hash: Option<String>,
    /// Feedgate: the upstream position held, `EPOCH.SEQ`.
    pub position: Option<String>,
}

impl State {
    /// The stored state, or a fresh one when there is none, it is unreadable,
    /// or it belongs to another config (another URL or mapping).
    pub async fn load(log: &dyn Log, fingerprint: &str) -> Result<State, SyncError> {
        let stored = log
            .upstream_state()
            .await?
            .and_then(|b| serde_json::from_slice::<State>(&b).ok());
        Ok(match stored {
            Some(s) if s.fingerprint == fingerprint => s,
            _ => State {
                fingerprint: fingerprint.to_string(),
                ..State::default()
            },
        })
    }

    pub async fn save(&self, log: &dyn Log) -> Result<(), SyncError> {
        // Serialising strings cannot fail.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        log.set_upstream_state(&bytes).await?;
        Ok(())
    }
}

/// One sync of a json, rss or atom origin: its whole current document.
pub(super) async fn snapshot(
    s: &Syncer,
    format: SourceFormat,
    state: &mut State,
) -> Result<Report, SyncError> {
    let mut report = Report::new("snapshot");
    report.pages = 1;
    let cond = Conditional {
        if_none_match: state.etag.as_deref(),
        if_modified_since: state.last_modified.as_deref(),
    };
    let accept = match format {
        SourceFormat::Json => "application/json",
        SourceFormat::Rss => "application/rss+xml, application/xml;q=0.9, */*;q=0.1",
        _ => "application/atom+xml, application/xml;q=0.9, */*;q=0.1",
    };
    let (body, etag, last_modified) = match s.client.get(s.client.url(), cond, accept).await? {
        Fetched::NotModified => {
            report.not_modified = true;
            return Ok(report);
        }
        Fetched::Body {
            body,
            etag,
            last_modified,
        } => (body, etag, last_modified),
    };
    let hash = format!("{:032x}", diff::content_hash(&body));
    if state.body_hash.as_deref() != Some(hash.as_str()) {
        let snap = match format {
            SourceFormat::Json => parse::json(&body, &s.config)?,
            SourceFormat::Rss => parse::rss(&body)?,
            _ => parse::atom(&body)?,
        };
        report.kept = Some(snap.kept.len());
        report.skipped = Some(snap.skipped);
        apply_snapshot(s, &snap, &mut report).await?;
    }
    state.etag = etag;
    state.last_modified = last_modified;
    state.body_hash = Some(hash);
    state.save(s.log.as_ref()).await?;
    Ok(report)
}

/// Diff `snap` against the feed's items, check the guard, append atomically.
pub(super) async fn apply_snapshot(
    s: &Syncer,
    snap: &Snapshot,
    report: &mut Report,
) -> Result<(), SyncError> {
    let current: HashMap<String, u128> = s
        .log
        .items()
        .await?
        .into_iter()
        // A mirrored enclosure is the origin's as long as its `via` is the origin's URL.
        .map(|(id, st)| {
            (
                id,
                diff::payload_hash(&crate::content::rewrite::unmirrored(&st.payload)),
            )
        })
        .collect();
    let d = diff::diff(&current, snap);
    diff::guard(&d, current.len(), s.config.max_delete_ratio)?;
    if !d.ops.is_empty() {
        let done = s.writes.timed(s.log.append(&d.ops)).await?;
        report.count(&done);
    }
    Ok(())
}
