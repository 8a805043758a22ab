//! The read-side decisions of PROTOCOL §2-3, as pure functions over a
//! [`LogView`]: 304 or page, which transactions a page covers (limit, byte
//! budget, whole seconds for responses not selected by an ETag), which entry
//! each item gets (one per item, `add` / `update` / `delete`), and the
//! `Last-Modified` second of the position a response hands out.
//!
//! Whole seconds count what readers cannot see yet: a stamp is taken before
//! its write is durable, so the log's [`Frontier`] names the instant before
//! which every transaction, visible or still being written, is at or below
//! the head. Seconds from that instant on are open: no response selected by
//! a date (or a catch-up) reaches into them, and no `Last-Modified` names
//! them.
//!
//! Every function costs O(page): it touches the log only through
//! [`LogView::scan`] (bounded) and [`LogView::first_seq_from_second`] (one
//! index probe), never by walking the log.
//!
//! What the answer says besides its entries (next link, sync mode, dates,
//! caching) is decided from the [`Plan`] by [`outcome`], without the log.

use crate::cursor::Cursor;
use crate::model::{Entry, Txn};
use async_trait::async_trait;

/// Where the settled past of a log ends, read at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frontier {
    /// The visible head and its transaction's stamp.
    pub head: u64,
    pub head_stamp: u64,
    /// Every transaction stamped before this instant (ms), visible or not,
    /// is at or below `head`, and no later write gets an earlier stamp.
    pub open_ms: u64,
}

impl Frontier {
    /// The first second that is still open.
    fn open_second(&self) -> u64 {
        self.open_ms / 1000
    }
}

/// What the protocol needs to read from one feed's log. The reads a
/// network database would wait on are `async`; the protocol does no I/O of
/// its own (the store implements this, tests implement it over a `Vec`).
#[async_trait]
pub trait LogView: Sync {
    type Error: Send;
    /// Highest visible (committed and durable) seq; 0 for an empty log.
    fn head(&self) -> u64;
    /// The head and the frontier of closed seconds at `now_ms` (which the
    /// log remembers: no later stamp is below it).
    fn frontier(&self, now_ms: u64) -> Frontier;
    /// When the log was created (ms): position 0 holds every second before.
    fn created_ms(&self) -> u64;
    /// The stamp of the transaction at `seq`, if the log holds it.
    async fn stamp(&self, seq: u64) -> Result<Option<u64>, Self::Error> {
        let t = self.scan(seq.saturating_sub(1), seq, 1, usize::MAX).await?;
        Ok(t.first().filter(|t| t.seq == seq).map(|t| t.stamp))
    }
    /// Seq of the newest delete tombstone that compaction dropped (0: none).
    /// A consumer whose position is older may have missed a deletion and
    /// gets a catch-up.
    fn dropped(&self) -> u64 {
        0
    }
    /// Stamp of that dropped tombstone (0: none).
    fn dropped_stamp(&self) -> u64 {
        0
    }
    /// Transactions with `after < seq <= upto`, oldest first: at most `max`
    /// of them, stopping once their encoded size reaches `max_bytes` (but
    /// always at least one when the range is not empty).
    async fn scan(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, Self::Error>;
    /// The first seq stamped in Unix second `sec` or later, if any is stored.
    /// May name a seq beyond [`LogView::head`] (written, not yet visible),
    /// which callers take as nothing (they cap at the head): a store may
    /// answer `None` for a second after its head's.
    async fn first_seq_from_second(&self, sec: u64) -> Result<Option<u64>, Self::Error>;
}

/// Page size limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_bytes: usize,
    /// The hard cap on a page not selected by an ETag that grows beyond the
    /// limits to hold one whole second: at most this many transactions and
    /// (about) bytes; past it, the page ends inside the second.
    pub second_entries: usize,
    pub second_bytes: usize,
}

/// The answer to a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing newer: 304 with the position the cursor already held.
    NotModified {
        position: u64,
        /// The Last-Modified second of `position`.
        last_modified: u64,
    },
    Page(Page),
}

/// A page of the log: covers the transactions `after < seq <= last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The consumer's position before the page (0: from the start, a catch-up).
    pub after: u64,
    /// The position the consumer holds after processing the page (= `after` when empty).
    pub last: u64,
    /// Stamp of the transaction at `last`; `None` when the page is empty.
    pub last_stamp: Option<u64>,
    /// True when more visible transactions follow: the page gets a `next` link.
    pub more: bool,
    /// The Last-Modified second of `last` (PROTOCOL §2).
    pub last_modified: u64,
    pub entries: Vec<Entry>,
}

/// The plan for `cursor` when it needs nothing from the log but its
/// frontier: the 304 at the head for `*` or an ETag at (or past) the head,
/// the poll most requests are. `None`: ask [`plan`].
pub fn plan_at_once<V: LogView + ?Sized>(log: &V, cursor: Cursor, now_ms: u64) -> Option<Plan> {
    let f = log.frontier(now_ms);
    match cursor {
        Cursor::Star => {}
        Cursor::Seq(p) if p >= f.head => {}
        _ => return None,
    }
    Some(Plan::NotModified {
        position: f.head,
        last_modified: match f.head {
            0 => before_log(log),
            _ => head_second(&f, f.head_stamp),
        },
    })
}

/// Decide 304 or the next page for `cursor`. `now_ms` is the current time.
pub async fn plan<V: LogView + ?Sized>(
    log: &V,
    cursor: Cursor,
    now_ms: u64,
    limits: Limits,
) -> Result<Plan, V::Error> {
    let f = log.frontier(now_ms);
    let head = f.head;
    let read = Read { log, f, limits };
    match cursor {
        // A 304 or a delta by ETag needs no second boundary: polls at the
        // head cost no lookup beyond the frontier.
        Cursor::Star => read.not_modified(head).await,
        Cursor::Seq(p) if p >= head => read.not_modified(head).await,
        Cursor::Seq(p) => read.delta(p, head, false).await,
        Cursor::Date(secs) => {
            // The consumer holds every second up to `secs`; a claim reaching
            // into an open second is cut back to what surely is held.
            let closed = read.closed().await?;
            let held = seconds_end(log, secs, head).await?.min(closed);
            if held >= closed && held >= log.dropped() {
                read.not_modified(held).await
            } else {
                read.delta(held, closed, true).await
            }
        }
        Cursor::CatchUp => read.catch_up().await,
    }
}

/// One read's view: the log and its frontier.
struct Read<'a, V: ?Sized> {
    log: &'a V,
    f: Frontier,
    limits: Limits,
}

impl<V: LogView + ?Sized> Read<'_, V> {
    /// The end of what a response not selected by an ETag may show: the
    /// last seq stamped before the first open second (all of them are
    /// visible).
    async fn closed(&self) -> Result<u64, V::Error> {
        match self.f.open_second().checked_sub(1) {
            Some(sec) => seconds_end(self.log, sec, self.f.head).await,
            None => Ok(0),
        }
    }

    async fn not_modified(&self, position: u64) -> Result<Plan, V::Error> {
        let stamp = (position == self.f.head).then_some(self.f.head_stamp);
        Ok(Plan::NotModified {
            position,
            last_modified: last_modified(self.log, &self.f, position, stamp).await?,
        })
    }

    async fn finish(&self, mut page: Page) -> Result<Plan, V::Error> {
        page.last_modified = last_modified(self.log, &self.f, page.last, page.last_stamp).await?;
        Ok(Plan::Page(page))
    }

    /// A catch-up reaches past the newest dropped tombstone in one response,
    /// whatever the limit: a position below the mark would mean "catch up
    /// again" (see `store::embedded::compact`).
    async fn catch_up(&self) -> Result<Plan, V::Error> {
        let log = self.log;
        let mark = log.dropped();
        let visible = self.closed().await?.max(mark);
        if mark == 0 {
            let p = page(log, 0, visible, true, self.limits).await?;
            return self.finish(p).await;
        }
        let mark_stamp = log.dropped_stamp();
        let mut txns = log.scan(0, mark, usize::MAX, usize::MAX).await?;
        // Complete the mark's second, so Last-Modified is a held position.
        let second_end = seconds_end(log, mark_stamp / 1000, visible).await?;
        txns.extend(log.scan(mark, second_end, usize::MAX, usize::MAX).await?);
        let mut page = to_page(0, txns, visible);
        // The mark's own transaction is gone: the position is the mark.
        if page.last < mark {
            page.last = mark;
            page.last_stamp = Some(mark_stamp);
            page.more = mark < visible;
        }
        self.finish(page).await
    }

    /// A page after `after` is valid only if no tombstone after `after` was
    /// dropped, checked again once read: compaction raises `dropped` before
    /// it removes anything, so a read that raced with a drop sees it here.
    async fn delta(&self, after: u64, end: u64, whole_seconds: bool) -> Result<Plan, V::Error> {
        if after < self.log.dropped() {
            return self.catch_up().await;
        }
        let p = page(self.log, after, end, whole_seconds, self.limits).await?;
        if after < self.log.dropped() {
            return self.catch_up().await;
        }
        self.finish(p).await
    }
}

/// The `Last-Modified` second of position `p` (PROTOCOL §2): the latest
/// whole second a consumer at `p` holds. That is the second of `p`'s
/// transaction (stamped `stamp`, when the caller knows it) if every
/// transaction stamped in it, visible or not, is at or below `p`, else the
/// second before; for position 0, the second before the log was created.
pub async fn last_modified<V: LogView + ?Sized>(
    log: &V,
    f: &Frontier,
    p: u64,
    stamp: Option<u64>,
) -> Result<u64, V::Error> {
    if p == 0 {
        return Ok(before_log(log));
    }
    let stamp = match stamp {
        Some(s) => s,
        None => match log.stamp(p).await? {
            Some(s) => s,
            None => {
                // Compaction removed `p`'s transaction: the seconds before
                // the next kept one's are held.
                let next = log.scan(p, f.head, 1, usize::MAX).await?;
                let sec = next.first().map_or(f.open_second(), |t| t.stamp / 1000);
                return Ok(sec.saturating_sub(1));
            }
        },
    };
    if p >= f.head {
        return Ok(head_second(f, stamp));
    }
    let sec = stamp / 1000;
    let whole = log.first_seq_from_second(sec + 1).await? == Some(p + 1);
    Ok(if whole { sec } else { sec.saturating_sub(1) })
}

/// [`last_modified`] of position 0: the second before the log was created.
fn before_log<V: LogView + ?Sized>(log: &V) -> u64 {
    (log.created_ms() / 1000).saturating_sub(1)
}

/// [`last_modified`] of the head, stamped `stamp`: nothing after it is
/// visible, so its second is whole once it is closed.
fn head_second(f: &Frontier, stamp: u64) -> u64 {
    let sec = stamp / 1000;
    if f.open_second() > sec {
        sec
    } else {
        sec.saturating_sub(1)
    }
}

/// Last seq stamped in second `sec` or earlier (capped at `head`).
async fn seconds_end<V: LogView + ?Sized>(log: &V, sec: u64, head: u64) -> Result<u64, V::Error> {
    Ok(
        match log.first_seq_from_second(sec.saturating_add(1)).await? {
            Some(first_later) => first_later.saturating_sub(1).min(head),
            None => head,
        },
    )
}

async fn page<V: LogView + ?Sized>(
    log: &V,
    after: u64,
    end: u64,
    whole_seconds: bool,
    limits: Limits,
) -> Result<Page, V::Error> {
    let mut txns = log
        .scan(after, end, limits.max_entries.max(1), limits.max_bytes)
        .await?;
    if whole_seconds {
        align_to_seconds(log, &mut txns, end, limits).await?;
    }
    Ok(to_page(after, txns, end))
}

fn to_page(after: u64, txns: Vec<Txn>, end: u64) -> Page {
    let last = txns.last().map_or(after, |t| t.seq);
    Page {
        after,
        last,
        last_stamp: txns.last().map(|t| t.stamp),
        more: last < end,
        // Set by `plan` once the page is final.
        last_modified: 0,
        entries: collapse(txns, after),
    }
}

/// Make a page not selected by an ETag end at a second boundary, so that a
/// consumer keeping only its Last-Modified loses nothing: drop a trailing,
/// incomplete second, or, when the page is one incomplete second, read the
/// rest of that second, up to the hard cap of `limits` (past it the page
/// ends inside the second; its Last-Modified names the second before, and
/// its `next` link continues by ETag).
async fn align_to_seconds<V: LogView + ?Sized>(
    log: &V,
    txns: &mut Vec<Txn>,
    end: u64,
    limits: Limits,
) -> Result<(), V::Error> {
    let Some(last) = txns.last() else {
        return Ok(());
    };
    let sec = last.stamp / 1000;
    let second_end = seconds_end(log, sec, end).await?;
    if second_end <= last.seq {
        return Ok(());
    }
    if txns.first().is_some_and(|t| t.stamp / 1000 == sec) {
        let room = limits.second_entries.saturating_sub(txns.len());
        if room > 0 {
            let (from, bytes) = (last.seq, limits.second_bytes);
            txns.extend(log.scan(from, second_end, room, bytes).await?);
        }
    } else {
        txns.retain(|t| t.stamp / 1000 != sec);
    }
    Ok(())
}

mod collapse;
pub use collapse::collapse;
mod outcome;
pub use outcome::{
    outcome, page_limit, page_slot, Keep, LogNow, Outcome, PageOutcome, ReadRequest,
};

#[cfg(test)]
mod tests;
