//! [`PgLog`] behind the storage traits: the synchronous calls answer from
//! the view (`view.rs`), the others go to the database (`log.rs`,
//! `append.rs`, `compact.rs`).

use super::log::PgLog;
use super::StoreError;
use crate::model::Txn;
use crate::protocol::{Frontier, LogView};
use crate::store::{Appended, CompactReport, ItemState, Log, Op, Published, Retention, SyncTurn};
use async_trait::async_trait;

#[async_trait]
impl LogView for PgLog {
    type Error = StoreError;

    fn head(&self) -> u64 {
        self.view.head()
    }

    fn frontier(&self, now_ms: u64) -> Frontier {
        let (f, later) = self.view.frontier(now_ms);
        if later {
            // The row's `seen` moves on in the background (`listen.rs`);
            // this read still closes only what is known to be closed.
            self.wake.notify_one();
        }
        f
    }

    fn created_ms(&self) -> u64 {
        self.created
    }

    fn dropped(&self) -> u64 {
        self.view.known().dropped
    }

    fn dropped_stamp(&self) -> u64 {
        self.view.known().dropped_stamp
    }

    async fn scan(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, StoreError> {
        if after >= upto || max == 0 {
            return Ok(Vec::new());
        }
        self.scan_rows(after, upto, max, max_bytes).await
    }

    async fn first_seq_from_second(&self, sec: u64) -> Result<Option<u64>, StoreError> {
        self.first_seq_at(sec).await
    }
}

#[async_trait]
impl Log for PgLog {
    fn name(&self) -> &str {
        &self.name
    }

    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn published(&self) -> Published {
        self.view.published()
    }

    fn compactions(&self) -> u64 {
        self.view.known().compactions
    }

    fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.view.watch()
    }

    async fn head_at_least(&self, seq: u64) -> Result<u64, StoreError> {
        if seq > self.view.head() {
            self.reread().await?;
        }
        Ok(self.view.head())
    }

    async fn append(&self, ops: &[Op]) -> Result<Appended, StoreError> {
        self.append_ops(ops).await
    }

    async fn item(&self, id: &str) -> Result<Option<ItemState>, StoreError> {
        self.item_state(id).await
    }

    async fn items(&self) -> Result<Vec<(String, ItemState)>, StoreError> {
        self.item_states().await
    }

    async fn upstream_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_upstream().await
    }

    async fn set_upstream_state(&self, state: &[u8]) -> Result<(), StoreError> {
        self.write_upstream(state).await
    }

    async fn sync_turn(&self) -> Result<Option<SyncTurn>, StoreError> {
        self.take_sync_turn().await
    }

    async fn compact_step(
        &self,
        policy: &Retention,
        now_ms: u64,
        from: u64,
        budget: usize,
        report: &mut CompactReport,
    ) -> Result<Option<u64>, StoreError> {
        if !policy.is_active() || budget == 0 {
            return Ok(None);
        }
        self.step(policy, now_ms, from, budget, report).await
    }
}
