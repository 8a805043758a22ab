//! The read side of a feed's log: a transaction's stamp, the chunk that
//! holds a seq (the range scan is in `log.rs`).

use super::codec;
use super::keys::{chunk_key, u64_of};
use super::{FeedLog, StoreError};

impl FeedLog {
    /// The stamp of the transaction at `seq` (`None` for 0 or an unknown seq).
    pub(super) fn stamp_of(&self, seq: u64) -> Result<Option<u64>, StoreError> {
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
