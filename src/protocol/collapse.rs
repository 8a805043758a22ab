//! One entry per item in a page ([`collapse`]): the item's latest state in
//! the page, and its action relative to the consumer's position.

use crate::model::{Action, Entry, Txn};
use std::collections::HashMap;

/// One entry per item, showing its latest state in the page, ordered by the
/// seq of that state. The action is relative to the consumer's position
/// `after`: the item was held iff the incarnation its first transaction here
/// belongs to was born at or before `after` (without compaction: iff that
/// transaction is not an `add`); one created and deleted inside the page is
/// left out.
pub fn collapse(txns: Vec<Txn>, after: u64) -> Vec<Entry> {
    // id -> (held before the page, index of its latest transaction)
    let mut latest: HashMap<&str, (bool, usize)> = HashMap::with_capacity(txns.len());
    for (i, t) in txns.iter().enumerate() {
        let held = if t.born == 0 {
            t.action != Action::Add
        } else {
            t.born <= after
        };
        latest
            .entry(t.id.as_str())
            .and_modify(|e| e.1 = i)
            .or_insert((held, i));
    }
    // For each transaction: is it its item's latest here, and was the item held?
    let mut shown: Vec<Option<bool>> = vec![None; txns.len()];
    for (held, i) in latest.into_values() {
        shown[i] = Some(held);
    }
    // Moved, not copied: the page's transactions are not needed afterwards.
    txns.into_iter()
        .zip(shown)
        .filter_map(|(t, shown)| {
            let action = match (t.action, shown?) {
                (Action::Delete, false) => return None,
                (Action::Delete, true) => Action::Delete,
                (_, false) => Action::Add,
                (_, true) => Action::Update,
            };
            Some(Entry {
                seq: t.seq,
                id: t.id,
                action,
                stamp: t.stamp,
                payload: t.payload,
            })
        })
        .collect()
}
