//! The read-side decisions of PROTOCOL §3, as pure functions over a
//! [`LogView`]: 304 or page, which transactions a page covers (limit, byte
//! budget, whole seconds for date-selected responses), and which entry each
//! item gets (one per item, `add` / `update` / `delete`).
//!
//! Every function costs O(page): it touches the log only through
//! [`LogView::scan`] (bounded) and [`LogView::first_seq_from_second`] (one
//! index probe), never by walking the log.

use crate::cursor::Cursor;
use crate::model::{Action, Entry, Txn};
use std::collections::HashMap;

/// What the protocol needs to read from one feed's log.
pub trait LogView {
    type Error;
    /// Highest visible (committed and durable) seq; 0 for an empty log.
    fn head(&self) -> u64;
    /// Transactions with `after < seq <= upto`, oldest first: at most `max`
    /// of them, stopping once their encoded size reaches `max_bytes` (but
    /// always at least one when the range is not empty).
    fn scan(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, Self::Error>;
    /// The first seq stamped in Unix second `sec` or later, if any is stored.
    /// May name a seq beyond [`LogView::head`] (written, not yet visible).
    fn first_seq_from_second(&self, sec: u64) -> Result<Option<u64>, Self::Error>;
}

/// Page size limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_bytes: usize,
}

/// The answer to a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing newer: 304 with the position the cursor already held.
    NotModified {
        position: u64,
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
    pub entries: Vec<Entry>,
}

/// Decide 304 or the next page for `cursor`. `now_ms` is the current time.
pub fn plan<V: LogView>(
    log: &V,
    cursor: Cursor,
    now_ms: u64,
    limits: Limits,
) -> Result<Plan, V::Error> {
    let head = log.head();
    match cursor {
        Cursor::Star => Ok(Plan::NotModified { position: head }),
        Cursor::Seq(p) if p >= head => Ok(Plan::NotModified { position: head }),
        Cursor::Seq(p) => page(log, p, head, false, limits).map(Plan::Page),
        Cursor::Date(secs) => {
            let visible = visible_end(log, head, now_ms)?;
            // The consumer holds every second up to `secs`; a claim reaching into
            // the current, unfinished second is cut back to what surely is held.
            let held = seconds_end(log, secs, head)?.min(visible);
            if held >= visible {
                Ok(Plan::NotModified { position: held })
            } else {
                page(log, held, visible, true, limits).map(Plan::Page)
            }
        }
        Cursor::CatchUp => {
            let visible = visible_end(log, head, now_ms)?;
            page(log, 0, visible, true, limits).map(Plan::Page)
        }
    }
}

/// Last seq stamped before the current second began: the end of what a
/// response not selected by an ETag may show.
fn visible_end<V: LogView>(log: &V, head: u64, now_ms: u64) -> Result<u64, V::Error> {
    seconds_end(log, (now_ms / 1000).saturating_sub(1), head)
}

/// Last seq stamped in second `sec` or earlier (capped at `head`).
fn seconds_end<V: LogView>(log: &V, sec: u64, head: u64) -> Result<u64, V::Error> {
    Ok(match log.first_seq_from_second(sec.saturating_add(1))? {
        Some(first_later) => first_later.saturating_sub(1).min(head),
        None => head,
    })
}

fn page<V: LogView>(
    log: &V,
    after: u64,
    end: u64,
    whole_seconds: bool,
    limits: Limits,
) -> Result<Page, V::Error> {
    let mut txns = log.scan(after, end, limits.max_entries.max(1), limits.max_bytes)?;
    if whole_seconds {
        align_to_seconds(log, &mut txns, end)?;
    }
    let last = txns.last().map_or(after, |t| t.seq);
    Ok(Page {
        after,
        last,
        last_stamp: txns.last().map(|t| t.stamp),
        more: last < end,
        entries: collapse(&txns),
    })
}

/// Make a date-selected page end at a second boundary, so that its
/// Last-Modified is a position the consumer really holds: drop a trailing,
/// incomplete second, or, when the page is one incomplete second, read the
/// rest of that second.
fn align_to_seconds<V: LogView>(log: &V, txns: &mut Vec<Txn>, end: u64) -> Result<(), V::Error> {
    let Some(last) = txns.last() else {
        return Ok(());
    };
    let sec = last.stamp / 1000;
    let second_end = seconds_end(log, sec, end)?;
    if second_end <= last.seq {
        return Ok(());
    }
    if txns.first().is_some_and(|t| t.stamp / 1000 == sec) {
        let rest = log.scan(last.seq, second_end, usize::MAX, usize::MAX)?;
        txns.extend(rest);
    } else {
        txns.retain(|t| t.stamp / 1000 != sec);
    }
    Ok(())
}

/// One entry per item, showing its latest state in the page, ordered by the
/// seq of that state. The action is relative to the consumer's position
/// before the page: an item whose first transaction here is an `add` was not
/// held; one created and deleted inside the page is left out.
pub fn collapse(txns: &[Txn]) -> Vec<Entry> {
    // id -> (held before the page, index of its latest transaction)
    let mut latest: HashMap<&str, (bool, usize)> = HashMap::with_capacity(txns.len());
    for (i, t) in txns.iter().enumerate() {
        latest
            .entry(t.id.as_str())
            .and_modify(|e| e.1 = i)
            .or_insert((t.action != Action::Add, i));
    }
    let mut shown: Vec<(bool, usize)> = latest.into_values().collect();
    shown.sort_unstable_by_key(|&(_, i)| i);
    shown
        .into_iter()
        .filter_map(|(held, i)| {
            let t = &txns[i];
            let action = match (t.action, held) {
                (Action::Delete, false) => return None,
                (Action::Delete, true) => Action::Delete,
                (_, false) => Action::Add,
                (_, true) => Action::Update,
            };
            Some(Entry {
                seq: t.seq,
                id: t.id.clone(),
                action,
                stamp: t.stamp,
                payload: t.payload.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
