//! One feed's log in its sled tree: opening (epoch), item states and the
//! read side ([`LogView`]); appending is in `append.rs`.

use super::codec::{self, Record};
use super::durability::Durability;
use super::keys::{
    chunk_key, item_key, u64_of, CREATED, DROPPED, DROPPED_STAMP, EPOCH, FORMAT, FORMAT_READABLE,
    FORMAT_VERSION, LIVE, UPSTREAM,
};
use super::spill::{self, Spilled};
use super::visibility::Visibility;
use super::writer::{Pending, Tail, Writer};
use super::{ItemState, Published, StoreError};
use crate::clock::Clock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct FeedLog {
    name: String,
    epoch: String,
    created: u64,
    pub(super) tree: sled::Tree,
    pub(super) writer: Mutex<Writer>,
    /// The visible head and the groups being made durable beyond it.
    pub(super) visibility: Arc<Visibility>,
    pub(super) durability: Arc<Durability>,
    pub(super) clock: Arc<dyn Clock>,
    /// Appends waiting to be applied, and the turn to apply them (`append.rs`).
    pub(super) queue: Mutex<Vec<Pending>>,
    pub(super) commit: tokio::sync::Mutex<()>,
    /// Seq of the newest tombstone compaction dropped (0: none), and its stamp.
    pub(super) dropped: AtomicU64,
    pub(super) dropped_stamp: AtomicU64,
    /// Bumped by compaction before and after each step that removes
    /// transactions: a reader's view taken under one value is still exact
    /// while the value is unchanged (the read path's page cache keys on it).
    pub(super) compactions: AtomicU64,
}

impl FeedLog {
    pub(super) fn open(
        name: &str,
        tree: sled::Tree,
        durability: Arc<Durability>,
        clock: Arc<dyn Clock>,
    ) -> Result<FeedLog, StoreError> {
        let format = u64_of(tree.get(FORMAT)?);
        let epoch = match tree.get(EPOCH)? {
            Some(_) if !FORMAT_READABLE.contains(&format) => {
                return Err(StoreError::Format {
                    what: format!("feed {name}"),
                });
            }
            Some(e) => {
                if format != FORMAT_VERSION {
                    // Made durable by the store's flush at open.
                    tree.insert(FORMAT, &FORMAT_VERSION.to_be_bytes())?;
                }
                String::from_utf8_lossy(&e).into_owned()
            }
            None => {
                let epoch = crate::store::new_epoch();
                let mut b = sled::Batch::default();
                b.insert(FORMAT, &FORMAT_VERSION.to_be_bytes());
                b.insert(EPOCH, epoch.as_bytes());
                b.insert(CREATED, &clock.now_ms().to_be_bytes());
                tree.apply_batch(b)?;
                tracing::info!(feed = name, %epoch, "created feed log");
                epoch
            }
        };
        let created = u64_of(tree.get(CREATED)?);
        let mut log = FeedLog {
            name: name.to_string(),
            epoch,
            created,
            tree,
            writer: Mutex::new(Writer {
                head: 0,
                last_stamp: 0,
                live: 0,
                tail: None,
                spill: 0,
            }),
            visibility: Arc::new(Visibility::new(Published::default(), durability.clone())),
            durability,
            clock,
            dropped: AtomicU64::new(0),
            dropped_stamp: AtomicU64::new(0),
            compactions: AtomicU64::new(0),
            queue: Mutex::new(Vec::new()),
            commit: tokio::sync::Mutex::new(()),
        };
        log.dropped = AtomicU64::new(u64_of(log.tree.get(DROPPED)?));
        log.dropped_stamp = AtomicU64::new(u64_of(log.tree.get(DROPPED_STAMP)?));
        let live = u64_of(log.tree.get(LIVE)?);
        // Stamps never go below the log's creation (position 0's date).
        let (mut head, mut stamp, mut tail) = (0, created, None);
        if let Some(kv) = log
            .tree
            .range(chunk_key(0)..=chunk_key(u64::MAX))
            .next_back()
        {
            let (key, stored) = kv?;
            let bytes = log.resolve(&key, stored)?.unwrap_or_default();
            let mut count = 0;
            for e in codec::entries(&bytes) {
                let e = e.map_err(|e| log.corrupt(e))?;
                (head, stamp, count) = (e.seq, e.stamp, count + 1);
            }
            tail = Some(Tail {
                key: u64_of(Some(key.subslice(1, 8))),
                bytes: bytes.to_vec(),
                count,
            })
            .filter(Tail::open);
        }
        log.writer = Mutex::new(Writer {
            head,
            last_stamp: stamp,
            live,
            tail,
            spill: spill::next_version(&log.tree)?,
        });
        let published = Published {
            seq: head,
            stamp,
            live,
        };
        log.visibility = Arc::new(Visibility::new(published, log.durability.clone()));
        Ok(log)
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn epoch(&self) -> &str {
        &self.epoch
    }

    /// When the log was created, ms since the Unix epoch.
    pub(super) fn created(&self) -> u64 {
        self.created
    }

    pub(super) fn published(&self) -> Published {
        self.visibility.published()
    }

    /// The compaction generation: changes whenever compaction removes
    /// transactions (see the field). Rendered pages cached under one
    /// generation are exact only while it is current.
    pub(super) fn compactions(&self) -> u64 {
        self.compactions.load(Ordering::SeqCst)
    }

    /// The item's current, durable state.
    pub(super) async fn item(&self, id: &str) -> Result<Option<ItemState>, StoreError> {
        let state = self.state(id)?;
        if let Some(s) = &state {
            // Written by a group that is not visible yet: wait until it is.
            self.visibility.visible(s.seq).await?;
        }
        Ok(state)
    }

    /// Every current item with its state, in id order (a scan of the `i`
    /// prefix). O(items): meant for an upstream sync's diff and `feedgate export`, never for
    /// the read path.
    pub(super) fn items(&self) -> Result<Vec<(String, ItemState)>, StoreError> {
        let mut out = Vec::with_capacity(usize::try_from(self.published().live).unwrap_or(0));
        for kv in self.tree.scan_prefix(b"i") {
            let (k, stored) = kv?;
            let Some(v) = self.resolve(&k, stored)? else {
                continue;
            };
            if let Some(state) = self.live(&v)? {
                let id = String::from_utf8(k[1..].to_vec()).map_err(|e| self.corrupt(e))?;
                out.push((id, state));
            }
        }
        Ok(out)
    }

    /// The upstream sync state (opaque bytes owned by the `upstream` module).
    pub(super) fn upstream_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(UPSTREAM)?.map(|v| v.to_vec()))
    }

    /// Replace the upstream sync state. Not flushed by itself: it becomes
    /// durable with the next flush, and losing it only costs a re-fetch
    /// (re-applying an upstream state appends nothing).
    pub(super) fn set_upstream_state(&self, state: &[u8]) -> Result<(), StoreError> {
        self.tree.insert(UPSTREAM, state)?;
        Ok(())
    }

    pub(super) fn state(&self, id: &str) -> Result<Option<ItemState>, StoreError> {
        Ok(self.stored_state(id)?.0)
    }

    /// The item's state and, if its record is spilled, its descriptor (the
    /// pieces to remove when the record is replaced).
    pub(super) fn stored_state(
        &self,
        id: &str,
    ) -> Result<(Option<ItemState>, Option<Spilled>), StoreError> {
        match self.stored_record(id)? {
            Some((v, spilled)) => Ok((self.live(&v)?, spilled)),
            None => Ok((None, None)),
        }
    }

    /// The item's record: live state or tombstone (`None`: neither).
    pub(super) fn record(&self, id: &str) -> Result<Option<Record>, StoreError> {
        match self.stored_record(id)? {
            Some((v, _)) => codec::record(&v).map(Some).map_err(|e| self.corrupt(e)),
            None => Ok(None),
        }
    }

    fn stored_record(&self, id: &str) -> Result<Option<(sled::IVec, Option<Spilled>)>, StoreError> {
        let key = item_key(id);
        match self.tree.get(&key)? {
            Some(stored) => self.resolve_spilled(&key, stored),
            None => Ok(None),
        }
    }

    fn live(&self, bytes: &[u8]) -> Result<Option<ItemState>, StoreError> {
        match codec::record(bytes).map_err(|e| self.corrupt(e))? {
            Record::Live(state) => Ok(Some(state)),
            Record::Tomb(_) => Ok(None),
        }
    }

    pub(super) fn corrupt(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            feed: self.name.clone(),
            what: e.to_string(),
        }
    }
}
