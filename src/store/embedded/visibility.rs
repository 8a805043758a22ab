//! What readers may see of a feed's log: the published (visible) head, the
//! groups written beyond it that are still being made durable, and the
//! *frontier* that tells the whole-second rules of PROTOCOL §3 which seconds
//! are closed.
//!
//! Publishing never depends on the request that wrote a group: the writer
//! that applied it holds a [`Publish`] guard, which makes the group visible
//! once it is durable, and if that request is dropped on the way (its client
//! hung up), the guard hands the job to a task of its own. So a group that
//! was applied is either made durable and visible, or the store has failed.
//!
//! Stamps and the frontier: a writer announces its group ([`Visibility::begin`])
//! before it reads the clock, with its last stamp as a lower bound; a reader
//! that cuts a response at "now" records that instant ([`Visibility::frontier`]),
//! and later stamps are never below it. So when the frontier says every
//! transaction stamped before instant `t` is at or below the head, no
//! transaction written later, or still in flight, can carry an earlier stamp,
//! whatever the threads' clocks do.

use super::durability::Durability;
use super::{Published, StoreError};
use crate::protocol::Frontier;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// A group being applied whose last seq is not known yet.
const OPEN: u64 = u64::MAX;

struct State {
    published: Published,
    /// Groups applied (or being applied) beyond the published head, oldest
    /// first: (last seq, stamp). Stamps never decrease along it.
    unpublished: VecDeque<(u64, u64)>,
    /// The latest instant (ms) a reader cut a response at.
    seen: u64,
}

pub(super) struct Visibility {
    state: Mutex<State>,
    /// The published seq, for waiters (writers waiting for their write).
    head: watch::Sender<u64>,
    durability: Arc<Durability>,
}

impl Visibility {
    pub(super) fn new(published: Published, durability: Arc<Durability>) -> Visibility {
        Visibility {
            state: Mutex::new(State {
                published,
                unpublished: VecDeque::new(),
                seen: 0,
            }),
            head: watch::Sender::new(published.seq),
            durability,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    pub(super) fn published(&self) -> Published {
        self.lock().published
    }

    /// Where the settled past ends at `now_ms` (see [`Frontier`]). Records
    /// the instant, so that no later stamp is below it.
    pub(super) fn frontier(&self, now_ms: u64) -> Frontier {
        let mut s = self.lock();
        s.seen = s.seen.max(now_ms);
        let in_flight = s.unpublished.front().map_or(u64::MAX, |&(_, stamp)| stamp);
        Frontier {
            head: s.published.seq,
            head_stamp: s.published.stamp,
            open_ms: s.seen.min(in_flight),
        }
    }

    /// A group is about to be applied (writer lock held), after
    /// transactions stamped `last_stamp`; call before reading the clock.
    /// Returns the floor of its stamp: the latest instant a reader cut at.
    pub(super) fn begin(&self, last_stamp: u64) -> u64 {
        let mut s = self.lock();
        // Its stamp will be at least `seen` too: the frontier never steps back.
        let floor = last_stamp.max(s.seen);
        s.unpublished.push_back((OPEN, floor));
        s.seen
    }

    /// The group begun last was written: its last seq and its stamp.
    pub(super) fn written(&self, last: u64, stamp: u64) {
        if let Some(g) = self.lock().unpublished.back_mut() {
            *g = (last, stamp);
        }
    }

    /// The group begun last wrote nothing.
    pub(super) fn abandon(&self) {
        let mut s = self.lock();
        if s.unpublished.back().is_some_and(|g| g.0 == OPEN) {
            s.unpublished.pop_back();
        }
    }

    /// Make `head` visible (its transactions are durable).
    fn publish(&self, head: Published) {
        let seq = {
            let mut s = self.lock();
            if head.seq > s.published.seq {
                s.published = head;
            }
            let seq = s.published.seq;
            while s.unpublished.front().is_some_and(|g| g.0 <= seq) {
                s.unpublished.pop_front();
            }
            seq
        };
        self.head
            .send_if_modified(|h| std::mem::replace(h, seq) != seq);
    }

    /// The published seq as it moves.
    pub(super) fn watch(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    /// Wait until `seq` is visible; returns the visible head.
    pub(super) async fn visible(&self, seq: u64) -> Result<u64, StoreError> {
        let mut rx = self.head.subscribe();
        loop {
            let head = *rx.borrow_and_update();
            if head >= seq {
                return Ok(head);
            }
            if self.durability.failed() {
                return Err(StoreError::Failed);
            }
            // The sender lives as long as `self`.
            if rx.changed().await.is_err() {
                return Err(StoreError::Failed);
            }
        }
    }
}

/// The duty to publish one written group: done by its writer
/// ([`Publish::run`]), or, if the writer's request is dropped first, by a
/// task spawned when the guard is dropped.
pub(super) struct Publish {
    job: Option<(Arc<Visibility>, u64, Published)>,
}

impl Publish {
    /// Publish `head` once durability generation `gen` is durable.
    pub(super) fn new(vis: Arc<Visibility>, gen: u64, head: Published) -> Publish {
        Publish {
            job: Some((vis, gen, head)),
        }
    }

    pub(super) async fn run(mut self) -> Result<(), StoreError> {
        let Some((vis, gen, head)) = self.job.as_ref().map(|(v, g, h)| (v.clone(), *g, *h)) else {
            return Ok(());
        };
        let result = publish(&vis, gen, head).await;
        self.job = None;
        result
    }
}

async fn publish(vis: &Visibility, gen: u64, head: Published) -> Result<(), StoreError> {
    match vis.durability.sync(gen).await {
        Ok(()) => {
            vis.publish(head);
            Ok(())
        }
        Err(e) => {
            // Wake the group's waiters: they find the store failed.
            vis.head.send_modify(|_| {});
            Err(e)
        }
    }
}

impl Drop for Publish {
    fn drop(&mut self) {
        let Some((vis, gen, head)) = self.job.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = publish(&vis, gen, head).await {
                        tracing::error!(error = %e, "cannot publish an abandoned write");
                    }
                });
            }
            // No runtime: the process is going down; the write is on disk
            // as far as it got and becomes visible at the next start.
            Err(_) => tracing::warn!(seq = head.seq, "write left unpublished at shutdown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vis() -> Arc<Visibility> {
        let db = sled::Config::new().temporary(true).open().unwrap();
        Arc::new(Visibility::new(
            Published::default(),
            Arc::new(Durability::new(db, None)),
        ))
    }

    #[test]
    fn a_group_in_flight_holds_the_frontier_at_its_floor() {
        let v = vis();
        assert_eq!(v.frontier(5_000).open_ms, 5_000);
        assert_eq!(v.begin(4_200), 5_000);
        // The group's stamp will be at least 5 s (what a reader saw): the
        // frontier stays there, it never steps back to the last stamp.
        assert_eq!(v.frontier(6_000).open_ms, 5_000);
        v.written(3, 6_000);
        assert_eq!(v.frontier(7_000).open_ms, 6_000);
        v.publish(Published {
            seq: 3,
            stamp: 6_000,
            live: 3,
        });
        let f = v.frontier(7_000);
        assert_eq!((f.head, f.head_stamp, f.open_ms), (3, 6_000, 7_000));
    }

    #[test]
    fn an_abandoned_group_releases_the_frontier_and_readers_never_go_back() {
        let v = vis();
        v.frontier(9_000);
        v.begin(1_000);
        v.abandon();
        // A reader with a clock behind the last one still sees 9 s closed.
        assert_eq!(v.frontier(8_000).open_ms, 9_000);
        assert_eq!(v.begin(1_000), 9_000);
    }

    #[tokio::test]
    async fn a_dropped_guard_still_publishes() {
        let v = vis();
        v.begin(0);
        v.written(2, 1_000);
        let head = Published {
            seq: 2,
            stamp: 1_000,
            live: 2,
        };
        drop(Publish::new(v.clone(), 0, head));
        assert_eq!(v.visible(2).await.unwrap(), 2);
        assert!(v.lock().unpublished.is_empty());
    }

    #[tokio::test]
    async fn out_of_order_publishing_keeps_the_higher_head() {
        let v = vis();
        v.begin(0);
        v.written(1, 1_000);
        v.begin(1_000);
        v.written(3, 1_500);
        v.publish(Published {
            seq: 3,
            stamp: 1_500,
            live: 3,
        });
        v.publish(Published {
            seq: 1,
            stamp: 1_000,
            live: 1,
        });
        assert_eq!(v.published().seq, 3);
        assert_eq!(v.frontier(2_000).open_ms, 2_000);
    }
}
