//! The raw log of a feed, read out whole for `feedgate migrate`
//! ([`Embedded::export_feed`]): every transaction its chunks still hold
//! (whatever compaction removed around them), every item record with its
//! tombstones, the seconds index, the dropped mark and the upstream state,
//! as a [`FeedDump`]. An offline read: nothing writes the store meanwhile
//! (sled's lock keeps a server off it).

use super::codec::{self, Record};
use super::keys::u64_of;
use super::{blocking, Embedded, FeedLog, StoreError};
use crate::store::dump::{FeedDump, ItemRecord};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

impl Embedded {
    /// Open the store at `path` with a log for every feed it holds (the
    /// configured ones or not); creates nothing.
    pub fn open_existing(
        path: &std::path::Path,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Result<Embedded, StoreError> {
        Self::with_config(super::config().path(path), Some(path), None, clock)
    }

    /// The names of the feeds this store holds a log for, sorted.
    pub fn feed_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.feeds.keys().cloned().collect();
        names.sort();
        names
    }

    /// Feed `name`'s whole log as plain data (`None`: no such feed open).
    pub fn export_feed(&self, name: &str) -> Result<Option<FeedDump>, StoreError> {
        match self.feeds.get(name) {
            Some(log) => blocking(|| log.dump()).map(Some),
            None => Ok(None),
        }
    }
}

impl FeedLog {
    fn dump(&self) -> Result<FeedDump, StoreError> {
        let head = self.published();
        let txns = self.scan_chunks(0, head.seq, usize::MAX, usize::MAX)?;
        let deletes: HashMap<u64, (u64, u64)> = txns
            .iter()
            .filter(|t| t.payload.is_none())
            .map(|t| (t.seq, (t.stamp, t.born)))
            .collect();
        let mut items = Vec::new();
        for kv in self.tree.scan_prefix(b"i") {
            let (k, stored) = kv?;
            let Some(v) = self.resolve(&k, stored)? else {
                continue;
            };
            let id = String::from_utf8(k[1..].to_vec()).map_err(|e| self.corrupt(e))?;
            let record = match codec::record(&v).map_err(|e| self.corrupt(e))? {
                Record::Live(state) => ItemRecord::Live(state),
                Record::Tomb(seq) => {
                    // A tombstone's delete stays while the tombstone does.
                    let (stamp, born) = deletes.get(&seq).copied().ok_or_else(|| {
                        self.corrupt(format!("the tombstone of {id:?} names no delete at {seq}"))
                    })?;
                    ItemRecord::Tomb { seq, stamp, born }
                }
            };
            items.push((id, record));
        }
        let mut seconds = Vec::new();
        for kv in self.tree.scan_prefix(b"s") {
            let (k, v) = kv?;
            if k.len() == 9 {
                seconds.push((u64_of(Some(k.subslice(1, 8))), u64_of(Some(v))));
            }
        }
        Ok(FeedDump {
            name: self.name().to_string(),
            epoch: self.epoch().to_string(),
            created: self.created(),
            head,
            dropped: self.dropped.load(Ordering::SeqCst),
            dropped_stamp: self.dropped_stamp.load(Ordering::SeqCst),
            txns,
            items,
            seconds,
            upstream: self.upstream_state()?,
        })
    }
}
