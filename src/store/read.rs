//! The read side of a feed's log: the transactions after a position
//! ([`LogView`]), a transaction's stamp, the chunk that holds a seq.

use super::codec;
use super::feed::{chunk_key, second_key, u64_of};
use super::{FeedLog, StoreError};
use crate::model::Txn;
use crate::protocol::{Frontier, LogView};
use std::sync::atomic::Ordering;

impl FeedLog {
    /// The stamp of the transaction at `seq` (`None` for 0 or an unknown seq).
    pub fn stamp_of(&self, seq: u64) -> Result<Option<u64>, StoreError> {
        let p = self.published();
        if seq == p.seq && seq > 0 {
            return Ok(Some(p.stamp));
        }
        let Some((_, chunk)) = self.chunk_at(seq)? else {
            return Ok(None);
        };
        for e in codec::entries(&chunk) {
            let e = e.map_err(|e| self.corrupt(e))?;
            if e.seq >= seq {
                return Ok((e.seq == seq).then_some(e.stamp));
            }
        }
        Ok(None)
    }

    /// The chunk that holds `seq` if the log holds it: the one with the
    /// greatest key not above `seq`.
    pub(super) fn chunk_at(&self, seq: u64) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        loop {
            let Some(kv) = self.tree.range(chunk_key(0)..=chunk_key(seq)).next_back() else {
                return Ok(None);
            };
            let (k, stored) = kv?;
            // (`None`: compaction removed it meanwhile; look again.)
            if let Some(chunk) = self.resolve(&k, stored)? {
                return Ok(Some((u64_of(Some(k.subslice(1, 8))), chunk)));
            }
        }
    }

    /// The key of [`FeedLog::chunk_at`]'s chunk, without reading it.
    pub(super) fn chunk_start(&self, seq: u64) -> Result<u64, StoreError> {
        match self.tree.range(chunk_key(0)..=chunk_key(seq)).next_back() {
            Some(kv) => Ok(u64_of(Some(kv?.0.subslice(1, 8)))),
            None => Ok(0),
        }
    }
}

impl LogView for FeedLog {
    type Error = StoreError;

    fn head(&self) -> u64 {
        self.published().seq
    }

    fn frontier(&self, now_ms: u64) -> Frontier {
        self.visibility.frontier(now_ms)
    }

    fn created_ms(&self) -> u64 {
        self.created()
    }

    fn stamp(&self, seq: u64) -> Result<Option<u64>, StoreError> {
        self.stamp_of(seq)
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }

    fn dropped_stamp(&self) -> u64 {
        self.dropped_stamp.load(Ordering::SeqCst)
    }

    fn scan(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, StoreError> {
        let mut out = Vec::new();
        if after >= upto {
            return Ok(out);
        }
        let mut bytes = 0usize;
        let start = self.chunk_start(after + 1)?;
        for kv in self.tree.range(chunk_key(start)..=chunk_key(upto)) {
            if out.len() >= max || (!out.is_empty() && bytes >= max_bytes) {
                // Full: the next chunk (perhaps a spilled one) is not read.
                return Ok(out);
            }
            let (key, stored) = kv?;
            // (`None`: removed by compaction since the range was read.)
            let Some(chunk) = self.resolve(&key, stored)? else {
                continue;
            };
            for e in codec::entries(&chunk) {
                let e = e.map_err(|e| self.corrupt(e))?;
                if e.seq <= after {
                    continue;
                }
                if e.seq > upto || out.len() >= max || (!out.is_empty() && bytes >= max_bytes) {
                    return Ok(out);
                }
                bytes += e.bytes.len();
                out.push(e.txn().map_err(|e| self.corrupt(e))?);
            }
        }
        Ok(out)
    }

    fn first_seq_from_second(&self, sec: u64) -> Result<Option<u64>, StoreError> {
        match self
            .tree
            .range(second_key(sec)..=second_key(u64::MAX))
            .next()
        {
            Some(kv) => Ok(Some(u64_of(Some(kv?.1)))),
            None => Ok(None),
        }
    }
}
