//! What the answer to a feed read says besides its entries (PROTOCOL §2-4,
//! §10), as plain data the HTTP edge writes out: the page limit, the page's
//! extent and `next` position, its `sync:syncMode`, its `Last-Modified`
//! second and whether to send it, whether shared caches and the in-memory
//! page cache may keep it, and the head its `sync:digest` names.
//!
//! Pure: [`outcome`] turns a [`Plan`] and the facts of the request
//! ([`ReadRequest`]) and of the log after planning ([`LogNow`]) into an
//! [`Outcome`]; nothing here reads the log or knows HTTP types.

use super::{Page, Plan};
use crate::cursor::{self, Cursor};
use crate::model::SyncMode;

/// The page size of a read: the `limit` parameter, a whole number from 1
/// clamped to `max` (however many digits it has), else `default`. `None`:
/// the parameter is not such a number (`400 invalid_parameter`).
pub fn page_limit(param: Option<&str>, default: usize, max: usize) -> Option<usize> {
    let Some(l) = param else {
        return Some(default);
    };
    if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match l.parse::<usize>() {
        Ok(0) => None,
        Ok(n) => Some(n.min(max)),
        // All digits and too many of them: above any maximum.
        Err(_) => Some(max),
    }
}

/// The position whose next page a read may take from, and leave in, the
/// in-memory page cache: an ETag cursor before the `head`, at or after the
/// newest dropped tombstone (so its page is a delta, not a forced
/// catch-up). Pages of date cursors and catch-ups depend on the clock; a
/// cursor at the head gets a 304.
pub fn page_slot(cursor: Cursor, head: u64, dropped: u64) -> Option<u64> {
    match cursor {
        Cursor::Seq(p) if p < head && p >= dropped => Some(p),
        _ => None,
    }
}

/// What a read request says about its answer, besides the page limit.
#[derive(Debug, Clone, Copy)]
pub struct ReadRequest<'a> {
    pub cursor: Cursor,
    /// Selected by request headers (`If-None-Match` or `If-Modified-Since`
    /// present): never kept by shared caches (PROTOCOL §3 Caches).
    pub conditional: bool,
    /// `Prefer: return=representation`: no 304 to a request that is not
    /// conditional (a caching proxy's own fetch), an empty page instead.
    pub representation: bool,
    /// The `If-Modified-Since` text, as sent.
    pub if_modified_since: Option<&'a str>,
    /// [`page_slot`] of the request, read before planning.
    pub slot: Option<u64>,
}

impl ReadRequest<'_> {
    /// Whether a page whose Last-Modified second is `last_modified` carries
    /// that date. Only an ETag-selected page drops it, when the date is not
    /// later than the request's `If-Modified-Since`: libcurl (newsboat)
    /// discards the body of a `200` not newer than its `If-Modified-Since`
    /// and still keeps its `ETag`, which would lose the page; without the
    /// date the page is taken and the client keeps its older date, which
    /// still holds (docs/decisions.md). A date-selected page keeps its
    /// date: it is all a date-only consumer has.
    pub fn dated(&self, last_modified: u64) -> bool {
        let ims = self.if_modified_since.and_then(cursor::parse_http_date);
        !(matches!(self.cursor, Cursor::Seq(_)) && ims.is_some_and(|ims| last_modified <= ims))
    }
}

/// The log as read after planning.
#[derive(Debug, Clone, Copy)]
pub struct LogNow {
    /// The visible head and its transaction's stamp.
    pub head: u64,
    pub head_stamp: u64,
    /// Seq of the newest dropped tombstone (0: none).
    pub dropped: u64,
}

/// The answer to a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `304 Not Modified` at `position`, the position the cursor held.
    NotModified { position: u64, last_modified: u64 },
    /// A `200` with a page.
    Page(PageOutcome),
}

/// A page answer: the page (its extent `after..=last`, `more`, its
/// Last-Modified second and entries) and how it is presented and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOutcome {
    pub page: Page,
    /// The position the `next` link continues from, when more follows.
    pub next: Option<u64>,
    pub sync_mode: SyncMode,
    /// Send `Last-Modified` ([`ReadRequest::dated`]).
    pub dated: bool,
    /// It never changes, so shared caches may keep it for good: a full page
    /// of the query form, a delta after the `etag` parameter's position
    /// (PROTOCOL §10). Everything else is `no-store`.
    pub immutable: bool,
    /// The empty page that `Prefer: return=representation` asked for
    /// instead of a 304 (it varies on `Prefer` and says it applied it).
    pub preferred: bool,
    /// The `sync:digestEntry` tick (the first seq not yet assigned) and
    /// stamp: of the head, or of the page's own end for an immutable page,
    /// so its bytes are the same on every request and process.
    pub digest_tick: u64,
    pub digest_stamp: Option<u64>,
    /// Whether the rendered page may be kept in the in-memory page cache.
    pub keep: Option<Keep>,
}

/// How a rendered page is kept in the in-memory page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// It ended before the head: appends do not change its entries.
    pub full: bool,
    /// The head seq its digest shows.
    pub head: u64,
}

/// The answer to `request`, planned as `plan`, with the log at `now`.
pub fn outcome(plan: Plan, request: &ReadRequest<'_>, now: LogNow) -> Outcome {
    let (page, preferred) = match plan {
        Plan::NotModified {
            position,
            last_modified,
        } if request.representation && !request.conditional => {
            let page = Page {
                after: position,
                last: position,
                last_stamp: None,
                more: false,
                last_modified,
                entries: Vec::new(),
            };
            (page, true)
        }
        Plan::NotModified {
            position,
            last_modified,
        } => {
            return Outcome::NotModified {
                position,
                last_modified,
            }
        }
        Plan::Page(page) => (page, false),
    };
    let immutable = !request.conditional
        && matches!(request.cursor, Cursor::Seq(p) if p == page.after)
        && page.more;
    let (digest_tick, digest_stamp) = if immutable {
        (page.last + 1, page.last_stamp)
    } else {
        (now.head + 1, (now.head > 0).then_some(now.head_stamp))
    };
    Outcome::Page(PageOutcome {
        next: page.more.then_some(page.last),
        sync_mode: if page.after == 0 {
            SyncMode::CatchUp
        } else {
            SyncMode::Immediate
        },
        dated: request.dated(page.last_modified),
        immutable,
        preferred,
        digest_tick,
        digest_stamp,
        keep: keep(request.slot, &page, now),
        page,
    })
}

/// A page read for the cache slot `slot` is kept when it is the delta after
/// that position (not a catch-up forced by a tombstone dropped meanwhile)
/// and either ended before the head (it stays what it is) or reached the
/// head `now` shows with its last second whole (its Last-Modified is final).
fn keep(slot: Option<u64>, page: &Page, now: LogNow) -> Option<Keep> {
    let after = slot?;
    let delta = page.after == after && after >= now.dropped;
    let settled = page.last_stamp.map(|s| s / 1000) == Some(page.last_modified);
    let full = page.more;
    (delta && (full || (page.last == now.head && settled))).then_some(Keep {
        full,
        head: now.head,
    })
}

#[cfg(test)]
mod tests;
