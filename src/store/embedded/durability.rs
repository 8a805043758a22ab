//! Group commit: many writers share one flush, none is answered before the
//! flush that covers its write has finished.
//!
//! Each applied batch takes a generation number; `sync(gen)` returns once a
//! flush that started after generation `gen` was applied has completed. While
//! one flush runs, later writers queue on the lock and, when they get it,
//! usually find their generation already covered. Before flushing, the
//! flusher yields to the runtime while that brings new writes, so writers
//! that were ready to run share its flush instead of each paying for one (a
//! flush costs sled a write, a `sync_file_range`, an `fdatasync` of its log
//! file and thread hand-offs).

use super::StoreError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Most yields a flush waits for more writers ([`Durability::gather`]).
const GATHER_ROUNDS: usize = 8;

pub struct Durability {
    db: sled::Db,
    /// sled's log file, synced after each flush (`None`: a temporary store).
    log_file: Option<Arc<std::fs::File>>,
    written: AtomicU64,
    flushed: AtomicU64,
    failed: AtomicBool,
    lock: tokio::sync::Mutex<()>,
}

impl Durability {
    pub fn new(db: sled::Db, log_file: Option<std::fs::File>) -> Self {
        Durability {
            db,
            log_file: log_file.map(Arc::new),
            written: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Record that a batch has been applied; call with the feed's writer lock held.
    pub fn mark_written(&self) -> u64 {
        self.written.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Before a flush: let the writers that are ready to run apply their
    /// batches first, so that this flush covers them too. Each yield lets the
    /// runtime run every task that is ready; stop when a round brought no new
    /// write (or after [`GATHER_ROUNDS`]). Costs a lone writer one yield.
    async fn gather(&self) {
        for _ in 0..GATHER_ROUNDS {
            let before = self.written();
            tokio::task::yield_now().await;
            if self.written() == before {
                break;
            }
        }
    }

    /// Wait until generation `gen` is durable.
    pub async fn sync(&self, gen: u64) -> Result<(), StoreError> {
        loop {
            if self.failed() {
                return Err(StoreError::Failed);
            }
            if self.flushed.load(Ordering::SeqCst) >= gen {
                return Ok(());
            }
            let _turn = self.lock.lock().await;
            if self.flushed.load(Ordering::SeqCst) >= gen {
                return Ok(());
            }
            self.gather().await;
            let target = self.written();
            let db = self.db.clone();
            let file = self.log_file.clone();
            let result = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                db.flush()?;
                // sled's flush ends in `sync_file_range`, which leaves the
                // file's size and the disk's write cache unsynced: a power
                // loss could still lose the write. `fdatasync` covers both.
                if let Some(f) = file {
                    f.sync_data()
                        .map_err(|e| StoreError::Write(e.to_string()))?;
                }
                Ok(())
            })
            .await;
            match result {
                Ok(Ok(())) => {
                    self.flushed.fetch_max(target, Ordering::SeqCst);
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "flush failed; the store refuses further writes");
                    self.failed.store(true, Ordering::SeqCst);
                    return Err(e);
                }
                Err(e) => {
                    tracing::error!(error = %e, "flush task failed; the store refuses further writes");
                    self.failed.store(true, Ordering::SeqCst);
                    return Err(StoreError::Failed);
                }
            }
        }
    }
}
