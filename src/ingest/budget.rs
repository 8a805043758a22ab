//! The push API's memory budget (`ingest_memory_bytes`): how much memory
//! requests being received, parsed and applied may take at once.
//!
//! What a write costs was measured on the real binary (VmHWM;
//! docs/security.md): its body, the parsed operations, the copy the store queues,
//! sled's working memory while one atomic batch is applied (sled copies a
//! tree leaf for every key it inserts and frees the copies only after the
//! whole batch: ~4.5 KiB per item, whatever the item's size) and the answer.
//! So the estimate is per byte and per item: [`cost`] is [`PER_BYTE`] times
//! the body plus [`PER_ITEM`] times the items, counted by a scan of the body
//! before anything is parsed ([`count_items`]).
//!
//! Two pools, taken in this order and never the other way round (so no
//! request holds one while another holds the next and waits for the first):
//! - **receiving**: a quarter of the budget (at least one `max_body_bytes`)
//!   for bodies on their way in, taken by the declared length (the limit
//!   for a chunked body) before the first byte is read;
//! - **working**: the budget itself, for requests being parsed and applied,
//!   taken by [`cost`] once the body is in; the receiving share is then
//!   given back. A request that would cost more than the whole budget is
//!   refused (`413`) instead of being run: it could not be run within it.
//!
//! Requests wait for their share in arrival order (tokio's semaphore is
//! fair); a write that waited is counted (`feedgate_ingest_waits_total`).

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Estimated bytes per byte of body: the body, its parsed operations (a
/// few small fields each), the store's copy of them, the answer.
pub const PER_BYTE: usize = 12;
/// Estimated bytes per item beyond [`PER_BYTE`]: sled's leaf copies, the
/// store's per-item state, the parsed item's fixed size.
pub const PER_ITEM: usize = 6 * 1024;

/// Permits count KiB (a semaphore counts in `u32`).
const UNIT: usize = 1024;

/// The estimated memory of a write of `body` bytes holding `items` items.
pub fn cost(body: usize, items: usize) -> usize {
    body.saturating_mul(PER_BYTE)
        .saturating_add(items.saturating_mul(PER_ITEM))
}

/// An upper bound of the number of items in a batch body (a JSON array of
/// objects): the `{` one level inside the array, outside strings. Exact for
/// a valid batch; for anything else only an estimate (the parser rejects it).
pub fn count_items(body: &[u8]) -> usize {
    let (mut depth, mut count) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                count += usize::from(b == b'{' && depth == 1);
                depth += 1;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    count
}

/// A share of the budget, given back when dropped.
pub struct Share(#[allow(dead_code)] OwnedSemaphorePermit);

/// The write would cost more than the whole budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    pub cost: usize,
    pub budget: usize,
}

pub struct Budget {
    receiving: Arc<Semaphore>,
    receiving_kib: usize,
    working: Arc<Semaphore>,
    working_kib: usize,
}

impl Budget {
    /// Pools for a budget of `bytes`, bodies of at most `max_body` bytes.
    pub fn new(bytes: usize, max_body: usize) -> Budget {
        let max_permits = Semaphore::MAX_PERMITS.min(u32::MAX as usize);
        let working_kib = kib(bytes).clamp(1, max_permits);
        let receiving_kib = kib(bytes / 4).max(kib(max_body)).clamp(1, max_permits);
        Budget {
            receiving: Arc::new(Semaphore::new(receiving_kib)),
            receiving_kib,
            working: Arc::new(Semaphore::new(working_kib)),
            working_kib,
        }
    }

    /// The share of a body of (at most) `declared` bytes on its way in;
    /// `waited` is told when it had to wait.
    pub async fn receive(&self, declared: usize, waited: impl FnOnce()) -> Share {
        let n = kib(declared).clamp(1, self.receiving_kib);
        Share(acquire(&self.receiving, n, waited).await)
    }

    /// Whether a write costing `cost` bytes can ever be admitted.
    pub fn admits(&self, cost: usize) -> Result<(), OverBudget> {
        if kib(cost) > self.working_kib {
            return Err(OverBudget {
                cost,
                budget: self.working_kib * UNIT,
            });
        }
        Ok(())
    }

    /// The share of a write costing `cost` bytes, or [`OverBudget`].
    pub async fn work(&self, cost: usize, waited: impl FnOnce()) -> Result<Share, OverBudget> {
        self.admits(cost)?;
        let n = kib(cost).max(1);
        Ok(Share(acquire(&self.working, n, waited).await))
    }
}

fn kib(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

async fn acquire(pool: &Arc<Semaphore>, n: usize, waited: impl FnOnce()) -> OwnedSemaphorePermit {
    // `n` is at most the pool's size, which fits a u32 (see `Budget::new`).
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    match pool.clone().try_acquire_many_owned(n) {
        Ok(permit) => permit,
        Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => {
            waited();
            loop {
                // The pools are never closed.
                if let Ok(permit) = pool.clone().acquire_many_owned(n).await {
                    return permit;
                }
                tokio::task::yield_now().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn items_are_counted_without_parsing() {
        assert_eq!(count_items(b"[]"), 0);
        assert_eq!(count_items(br#"[{"id":"a"},{"id":"b","deleted":true}]"#), 2);
        assert_eq!(
            count_items(
                br#"[{"id":"{[\"}","categories":["{x}"],"enclosures":[{"url":"u"}]}, {"id":"b"}]"#
            ),
            2
        );
        assert_eq!(count_items(br#"{"id":"a"}"#), 0);
        assert_eq!(count_items(br#"[{"title":"a\\"},{"id":"b"}]"#), 2);
    }

    #[test]
    fn cost_is_per_byte_and_per_item() {
        assert_eq!(cost(1000, 10), 12_000 + 10 * 6 * 1024);
        assert_eq!(cost(usize::MAX, usize::MAX), usize::MAX);
    }

    #[tokio::test]
    async fn writes_wait_their_turn_and_oversized_ones_are_refused() {
        let budget = Arc::new(Budget::new(1 << 20, 1 << 20));
        let over = budget
            .work(2 << 20, || {})
            .await
            .err()
            .expect("over budget");
        assert_eq!(
            over,
            OverBudget {
                cost: 2 << 20,
                budget: 1 << 20
            }
        );
        let first = budget.work(700 << 10, || panic!("no wait")).await.unwrap();
        let waited = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let second = tokio::spawn({
            let (budget, waited) = (budget.clone(), waited.clone());
            async move {
                let _share = budget
                    .work(700 << 10, || {
                        waited.store(true, std::sync::atomic::Ordering::SeqCst)
                    })
                    .await
                    .unwrap();
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "both fit only one after the other");
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), second)
            .await
            .unwrap()
            .unwrap();
        // Receiving: at least one whole body fits, however small the budget.
        let small = Budget::new(4096, 1 << 20);
        let _body = small.receive(1 << 20, || panic!("no wait")).await;
    }
}
