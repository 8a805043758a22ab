//! `format = "feedgate"`: following another feedgate feed through its own
//! ETag protocol, so a chain of gateways replicates transactions without
//! re-reading everything (the replica mode of a downstream gateway).
//!
//! - **Incremental**: from the stored upstream position `EPOCH.SEQ`, GET the
//!   feed (Atom, `If-None-Match: "EPOCH.SEQ"`), apply each page's entries
//!   by their `ibmwcm:action` (add/update → put, delete → delete if held) in
//!   one atomic append, store the page's ETag as the new position, follow
//!   `next`; at most `max_pages` pages per sync. A 304 ends the sync.
//!   Explicit upstream deletes are not subject to the mass-delete guard: they
//!   are transactions, not inferences from an absence.
//! - **Resync**, when there is no position yet, or the upstream answers a
//!   position with a catch-up (its epoch changed: a wiped or re-created log;
//!   or it no longer has our seq): read the whole log from the start, page by
//!   page, into the upstream's current item set, then diff it against the
//!   feed like any snapshot (with the guard) and store the last page's ETag.
//!
//! Re-applying a page (after a crash before the position was stored) appends
//! nothing: puts of the current payload are dropped by the store and deletes
//! of absent items are skipped, so a consumer never sees a transaction twice.
//!
//! Payloads come back through [`parse::atom_fields`], the inverse of
//! feedgate's Atom rendering where Atom keeps the information (see
//! docs/decisions.md, "Upstream feeds"); the alternate link the upstream
//! gives an entry with neither link nor content (its own item URL) is not
//! taken as the item's link.

use super::client::{Conditional, Fetched};
use super::diff::Snapshot;
use super::parse::{atom_fields, validated};
use super::sync::{apply_snapshot, Report, State};
use super::{SyncError, Syncer};
use crate::model::Payload;
use crate::store::Op;
use atom_syndication::extension::{Extension, ExtensionMap};
use reqwest::Url;
use std::collections::{BTreeMap, HashMap};

const ATOM: &str = "application/atom+xml";
const NS_IBMFS: &str = "http://purl.org/net/ibmfeedsvc/feedsvc/1.0";
const NS_IBMWCM: &str = "http://purl.org/net/ibmfeedsvc/wcm/1.0";
const NS_SYNC: &str = "http://schemas.sage.com/sdata/sync/2008/1";
const NS_AT: &str = "http://purl.org/atompub/tombstones/1.0";

/// One page of an upstream feedgate feed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Page {
    pub epoch: String,
    /// The position a consumer holds after this page (`ibmfs:etag`).
    pub seq: u64,
    /// `sync:syncMode` = `catchUp`: the page starts at the beginning of the log.
    pub catch_up: bool,
    pub next: Option<String>,
    /// In tick order; each id once.
    pub entries: Vec<PageEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct PageEntry {
    pub tick: u64,
    pub id: String,
    /// `None` for a delete.
    pub payload: Option<Payload>,
}

fn error(message: impl std::fmt::Display) -> SyncError {
    SyncError::Parse {
        format: "feedgate",
        message: message.to_string(),
    }
}

/// Parse a feedgate Atom page.
pub(super) fn parse_page(body: &[u8]) -> Result<Page, SyncError> {
    let feed = atom_syndication::Feed::read_from(body).map_err(error)?;
    let prefix = |uri: &str, default: &'static str| -> String {
        feed.namespaces
            .iter()
            .find(|(_, u)| u.as_str() == uri)
            .map_or_else(|| default.to_string(), |(p, _)| p.clone())
    };
    let (ibmfs, wcm, sync, at) = (
        prefix(NS_IBMFS, "ibmfs"),
        prefix(NS_IBMWCM, "ibmwcm"),
        prefix(NS_SYNC, "sync"),
        prefix(NS_AT, "at"),
    );
    let etag = first(&feed.extensions, &ibmfs, "etag")
        .and_then(|e| e.value.as_deref())
        .ok_or_else(|| error("no ibmfs:etag: not a feedgate feed"))?;
    let pos = crate::cursor::parse_tag(etag.trim())
        .ok_or_else(|| error(format!("ibmfs:etag {etag:?} is not EPOCH.SEQ")))?;
    let catch_up = first(&feed.extensions, &sync, "syncMode")
        .and_then(|e| e.value.as_deref())
        .is_some_and(|m| m.trim() == "catchUp");
    let next = feed
        .links
        .iter()
        .find(|l| l.rel == "next")
        .map(|l| l.href.clone());
    let mut entries = Vec::with_capacity(feed.entries.len());
    for e in &feed.entries {
        let id = item_id(&e.id)?;
        let action = first(&e.extensions, &wcm, "action")
            .and_then(|x| x.value.as_deref())
            .ok_or_else(|| error(format!("entry {id:?} has no ibmwcm:action")))?;
        let tick = tick(first(&e.extensions, &sync, "syncState"), &id)?;
        let payload = match action.trim() {
            "add" | "update" => {
                let mut fields = atom_fields(e);
                // An entry without link or content links to its item URL (RFC 4287
                // §4.1.1): that link is the upstream's, not the item's.
                let own = crate::render::item_url(feed.id.trim(), &id);
                if !fields.contains_key("content")
                    && fields.get("link").and_then(|l| l.as_str()) == Some(own.as_str())
                {
                    fields.remove("link");
                }
                Some(validated(&id, fields).map_err(|m| error(format!("entry {id:?}: {m}")))?)
            }
            "delete" => None,
            other => return Err(error(format!("entry {id:?}: unknown action {other:?}"))),
        };
        entries.push(PageEntry { tick, id, payload });
    }
    let tombstones = feed
        .extensions
        .get(&at)
        .and_then(|m| m.get("deleted-entry"))
        .map_or(&[][..], Vec::as_slice);
    for t in tombstones {
        let r = t
            .attrs
            .get("ref")
            .ok_or_else(|| error("at:deleted-entry without ref"))?;
        let id = item_id(r)?;
        let state = t.children.get("syncState").and_then(|v| v.first());
        let tick = tick(state, &id)?;
        entries.push(PageEntry {
            tick,
            id,
            payload: None,
        });
    }
    entries.sort_by_key(|e| e.tick);
    Ok(Page {
        epoch: pos.epoch.to_string(),
        seq: pos.seq,
        catch_up,
        next,
        entries,
    })
}

fn first<'a>(ext: &'a ExtensionMap, prefix: &str, name: &str) -> Option<&'a Extension> {
    ext.get(prefix)?.get(name)?.first()
}

fn item_id(atom_id: &str) -> Result<String, SyncError> {
    crate::render::item_id_from_atom(atom_id.trim())
        .ok_or_else(|| error(format!("unusable entry id {atom_id:?}")))
}

fn tick(sync_state: Option<&Extension>, id: &str) -> Result<u64, SyncError> {
    sync_state
        .and_then(|s| s.children.get("tick"))
        .and_then(|t| t.first())
        .and_then(|t| t.value.as_deref())
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| error(format!("entry {id:?} has no sync:tick")))
}

/// One sync of a feedgate upstream.
pub(super) async fn sync(s: &Syncer, state: &mut State) -> Result<Report, SyncError> {
    let held = state
        .position
        .as_deref()
        .and_then(crate::cursor::parse_tag)
        .map(|p| (p.epoch.to_string(), p.seq));
    let Some((epoch, mut seq)) = held else {
        return resync(s, state, None).await;
    };
    let mut report = Report::new("incremental");
    report.not_modified = true;
    let mut url = s.client.url().clone();
    loop {
        if report.pages == s.config.max_pages {
            report.more = true;
            break;
        }
        let tag = format!("\"{epoch}.{seq}\"");
        let body = match get(s, &url, Some(&tag)).await? {
            Some(body) => body,
            None => break,
        };
        report.pages += 1;
        report.not_modified = false;
        let page = parse_page(&body)?;
        if page.epoch != epoch || (seq > 0 && page.catch_up) {
            tracing::info!(feed = %s.feed, held = %format!("{epoch}.{seq}"), upstream_epoch = %page.epoch,
                "the upstream no longer knows our position (new epoch or shorter log): full resync");
            return resync(s, state, Some((url, page))).await;
        }
        if page.seq < seq {
            return Err(error(format!(
                "the page's position {} is before ours {seq}",
                page.seq
            )));
        }
        apply_page(s, &page, &mut report).await?;
        seq = page.seq;
        state.position = Some(format!("{epoch}.{seq}"));
        state.save(s.log.as_ref()).await?;
        match &page.next {
            Some(next) => url = join(s.client.url(), &url, next)?,
            None => break,
        }
    }
    report.position = state.position.clone();
    Ok(report)
}

/// GET one page; `None` for a 304.
async fn get(s: &Syncer, url: &Url, tag: Option<&str>) -> Result<Option<Vec<u8>>, SyncError> {
    let cond = Conditional {
        if_none_match: tag,
        if_modified_since: None,
    };
    match s.client.get(url, cond, ATOM).await? {
        Fetched::NotModified => Ok(None),
        Fetched::Body { body, .. } => Ok(Some(body.to_vec())),
    }
}

/// A `next` link resolved against the page's URL, with the configured URL's
/// query parameters it lacks added back (feedgate drops `access_token` from
/// its links; a consumer appends it to every URL it builds). A link to
/// another origin than the configured URL's fails the sync: the configured
/// query and headers (credentials) go to the configured origin only.
fn join(configured: &Url, current: &Url, next: &str) -> Result<Url, SyncError> {
    let mut url = current
        .join(next)
        .map_err(|e| error(format!("bad next link {next:?}: {e}")))?;
    if !super::client::same_origin(configured, &url) {
        return Err(SyncError::ForeignOrigin {
            what: "next link",
            origin: url.origin().ascii_serialization(),
        });
    }
    let have: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let missing: Vec<(String, String)> = configured
        .query_pairs()
        .filter(|(k, _)| !have.iter().any(|h| h == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !missing.is_empty() {
        url.query_pairs_mut().extend_pairs(missing);
    }
    Ok(url)
}

/// Apply one incremental page atomically.
async fn apply_page(s: &Syncer, page: &Page, report: &mut Report) -> Result<(), SyncError> {
    let mut held: HashMap<&str, bool> = HashMap::new();
    let mut ops = Vec::with_capacity(page.entries.len());
    for e in &page.entries {
        match &e.payload {
            Some(p) => {
                held.insert(&e.id, true);
                ops.push(Op::Put {
                    id: e.id.clone(),
                    payload: p.clone(),
                });
            }
            None => {
                let present = match held.get(e.id.as_str()) {
                    Some(h) => *h,
                    None => s.log.item(&e.id).await?.is_some(),
                };
                if present {
                    ops.push(Op::Delete { id: e.id.clone() });
                }
                held.insert(&e.id, false);
            }
        }
    }
    if !ops.is_empty() {
        let done = s.writes.timed(s.log.append(&ops)).await?;
        report.count(&done);
    }
    Ok(())
}

/// Read the upstream's whole log into its current item set and diff the
/// feed against it. `first` is a catch-up page already fetched from `url`.
async fn resync(
    s: &Syncer,
    state: &mut State,
    first: Option<(Url, Page)>,
) -> Result<Report, SyncError> {
    let mut report = Report::new("resync");
    let (mut url, mut page) = match first {
        Some(fetched) => fetched,
        None => {
            let url = s.client.url().clone();
            let body = get(s, &url, None)
                .await?
                .ok_or_else(|| error("304 to a request without validators"))?;
            let page = parse_page(&body)?;
            (url, page)
        }
    };
    report.pages = 1;
    let epoch = page.epoch.clone();
    let mut latest: BTreeMap<String, (u64, Option<Payload>)> = BTreeMap::new();
    loop {
        if page.epoch != epoch {
            return Err(error("the upstream's epoch changed during the resync"));
        }
        for e in page.entries.drain(..) {
            latest.insert(e.id, (e.tick, e.payload));
        }
        // Follow `next`; at the end of a catch-up (which stops before the
        // upstream's current second) ask once more by ETag, until a 304.
        let seq = page.seq;
        url = match page.next.take() {
            Some(next) => join(s.client.url(), &url, &next)?,
            None => s.client.url().clone(),
        };
        let tag = format!("\"{epoch}.{seq}\"");
        let Some(body) = get(s, &url, Some(&tag)).await? else {
            break;
        };
        report.pages += 1;
        if report.pages > s.config.max_pages {
            return Err(SyncError::TooManyPages(s.config.max_pages));
        }
        page = parse_page(&body)?;
        if page.seq <= seq && page.epoch == epoch {
            return Err(error("a page that does not advance the position"));
        }
    }
    let mut live: Vec<(u64, String, Payload)> = latest
        .into_iter()
        .filter_map(|(id, (tick, p))| p.map(|p| (tick, id, p)))
        .collect();
    live.sort_by_key(|(tick, ..)| *tick);
    let snap = Snapshot {
        items: live.into_iter().map(|(_, id, p)| (id, p)).collect(),
        ..Snapshot::default()
    };
    apply_snapshot(s, &snap, &mut report).await?;
    state.position = Some(format!("{epoch}.{}", page.seq));
    state.save(s.log.as_ref()).await?;
    report.position = state.position.clone();
    Ok(report)
}

#[cfg(test)]
mod tests;
