//! The keys of a feed's sled tree (layout in `mod.rs`): the metadata
//! keys, and the keys of chunks, seconds and item records.

pub(super) const EPOCH: &[u8] = b"m:epoch";
/// The layout version; a tree without it (or with another) is refused.
/// Version 3 may hold spilled values (`spill.rs`); a version 2 tree has
/// none and is opened as version 3 (so older binaries refuse it from then on).
pub(super) const FORMAT: &[u8] = b"m:format";
pub(super) const FORMAT_VERSION: u64 = 3;
pub(super) const FORMAT_READABLE: [u64; 2] = [2, 3];
pub(super) const CREATED: &[u8] = b"m:created";
pub(super) const LIVE: &[u8] = b"m:live";
pub(super) const UPSTREAM: &[u8] = b"m:upstream";
pub(super) const DROPPED: &[u8] = b"m:dropped";
pub(super) const DROPPED_STAMP: &[u8] = b"m:dropped_stamp";

/// Key of the chunk whose first transaction is `seq` (`codec.rs`).
pub(super) fn chunk_key(seq: u64) -> [u8; 9] {
    let mut k = [b'c'; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub(super) fn second_key(sec: u64) -> [u8; 9] {
    let mut k = [b's'; 9];
    k[1..].copy_from_slice(&sec.to_be_bytes());
    k
}

/// Key of an item's record: its state, or its tombstone's seq until
/// compaction drops the tombstone (`codec::Record`).
pub(super) fn item_key(id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 1);
    k.push(b'i');
    k.extend_from_slice(id.as_bytes());
    k
}

pub(super) fn u64_of(v: Option<sled::IVec>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map_or(0, u64::from_be_bytes)
}
