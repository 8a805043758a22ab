//! The writer side of a feed's log: the state the writer lock guards (the
//! head, the last stamp, the newest chunk while it has room) and the appends
//! waiting for their group (`append.rs`).

use super::{Applied, Op, StoreError, CHUNK_BYTES, CHUNK_TXNS};
use tokio::sync::oneshot;

/// What one append gets back from its group: its outcomes.
pub(super) type Decided = Result<Vec<Applied>, StoreError>;

/// An append waiting for its group.
pub(super) struct Pending {
    pub(super) ops: Vec<Op>,
    pub(super) reply: oneshot::Sender<Decided>,
}

impl Pending {
    /// An append of `ops` and where its answer arrives.
    pub(super) fn new(ops: Vec<Op>) -> (Pending, oneshot::Receiver<Decided>) {
        let (reply, answer) = oneshot::channel();
        (Pending { ops, reply }, answer)
    }
}

/// Writer-side state, guarded by the writer lock.
pub(super) struct Writer {
    pub(super) head: u64,
    pub(super) last_stamp: u64,
    pub(super) live: u64,
    /// The newest chunk, while it is small enough to take the next group's
    /// transactions (`append.rs`); `None`: the next group starts a chunk.
    pub(super) tail: Option<Tail>,
    /// The version of the next value stored in pieces (`spill.rs`).
    pub(super) spill: u64,
}

/// A copy of the newest chunk as stored.
pub(super) struct Tail {
    /// The seq its key names.
    pub(super) key: u64,
    pub(super) bytes: Vec<u8>,
    pub(super) count: usize,
}

impl Tail {
    /// Can this chunk take more transactions?
    pub(super) fn open(&self) -> bool {
        self.count < CHUNK_TXNS && self.bytes.len() < CHUNK_BYTES
    }
}
