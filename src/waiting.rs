//! The waiting room of immediate mode (PROTOCOL §9): who may wait for a
//! feed's head to move, and for how long.
//!
//! - A long-poll or an event stream takes a place ([`Waiting::enter`]) out
//!   of `max_waiting`; with none left it is answered at once (never an
//!   error). Waiting itself is a registration on the feed's head
//!   ([`crate::store::Log::watch_head`]): no thread, no store polling.
//! - While it waits, its connection gives its `max_connections` slot back
//!   ([`Slot`]): waiting connections count against `max_waiting` only.
//!   Once answered, the connection takes a slot again; when none is free
//!   it is closed after the answer (`Connection: close`).
//! - Shutdown ([`Waiting::stop`]) ends every wait at once, and no new one
//!   begins.

use crate::metrics::{Metrics, WaitKind};
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

tokio::task_local! {
    /// The `max_connections` slot of the connection whose task runs this
    /// (set by `server` around each connection).
    static SLOT: Arc<Slot>;
}

/// A connection's slot among `max_connections`, which a waiting request
/// gives back while it waits.
pub struct Slot {
    slots: Arc<Semaphore>,
    held: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Slot {
    pub fn new(slots: Arc<Semaphore>, permit: OwnedSemaphorePermit) -> Arc<Slot> {
        Arc::new(Slot {
            slots,
            held: Mutex::new(Some(permit)),
        })
    }

    /// Run `fut` (the connection) with this slot as its tasks' [`SLOT`].
    pub async fn scope<F: std::future::Future>(self: Arc<Self>, fut: F) -> F::Output {
        SLOT.scope(self, fut).await
    }

    fn release(&self) {
        crate::sync::lock(&self.held).take();
    }

    /// Take a slot again; false when every one is taken.
    fn reclaim(&self) -> bool {
        let mut held = crate::sync::lock(&self.held);
        if held.is_none() {
            *held = self.slots.clone().try_acquire_owned().ok();
        }
        held.is_some()
    }
}

/// The places to wait, and the shutdown that ends every wait.
pub struct Waiting {
    places: Arc<Semaphore>,
    stop: watch::Sender<bool>,
    metrics: Arc<Metrics>,
}

impl Waiting {
    pub fn new(max_waiting: usize, metrics: Arc<Metrics>) -> Waiting {
        Waiting {
            places: Arc::new(Semaphore::new(max_waiting.min(Semaphore::MAX_PERMITS))),
            stop: watch::Sender::new(false),
            metrics,
        }
    }

    /// A place to wait, or `None` when all `max_waiting` are taken or the
    /// gateway is shutting down. The connection's `max_connections` slot
    /// is given back while the place is held.
    pub fn enter(&self, kind: WaitKind) -> Option<Waiter> {
        if *self.stop.borrow() {
            return None;
        }
        let place = self.places.clone().try_acquire_owned().ok()?;
        let slot = SLOT.try_with(Arc::clone).ok();
        if let Some(slot) = &slot {
            slot.release();
        }
        self.metrics.immediate.waiting(kind, true);
        Some(Waiter {
            _place: place,
            slot,
            kind,
            metrics: self.metrics.clone(),
            stop: self.stop.subscribe(),
        })
    }

    /// Shutdown: every wait ends now, and no new one begins.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves once shutdown begins.
    pub async fn stopped(&self) {
        let mut stop = self.stop.subscribe();
        let _ = stop.wait_for(|stop| *stop).await;
    }

    /// Has shutdown begun?
    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }
}

/// A place in the waiting room, given back when dropped.
pub struct Waiter {
    _place: OwnedSemaphorePermit,
    slot: Option<Arc<Slot>>,
    kind: WaitKind,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
}

impl Waiter {
    /// Resolves once shutdown begins.
    pub async fn stopped(&mut self) {
        // The sender lives in `App`, which outlives every request.
        let _ = self.stop.wait_for(|stop| *stop).await;
    }

    /// Leave the room: the connection takes a `max_connections` slot again.
    /// False when none is free: the answer then closes the connection.
    pub fn leave(self) -> bool {
        self.slot.as_ref().is_none_or(|slot| slot.reclaim())
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.metrics.immediate.waiting(self.kind, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(n: usize) -> Waiting {
        Waiting::new(n, Arc::new(Metrics::new(["f"])))
    }

    #[tokio::test]
    async fn places_are_capped_and_given_back() {
        let w = room(2);
        let a = w.enter(WaitKind::LongPoll).unwrap();
        let _b = w.enter(WaitKind::Stream).unwrap();
        assert!(w.enter(WaitKind::LongPoll).is_none());
        assert_eq!(w.metrics.immediate.waiting_now(WaitKind::LongPoll), 1);
        drop(a);
        assert_eq!(w.metrics.immediate.waiting_now(WaitKind::LongPoll), 0);
        assert!(w.enter(WaitKind::LongPoll).is_some());
    }

    #[tokio::test]
    async fn a_waiting_connection_gives_its_slot_back_and_takes_one_again() {
        let slots = Arc::new(Semaphore::new(1));
        let slot = Slot::new(slots.clone(), slots.clone().try_acquire_owned().unwrap());
        let w = room(4);
        let waiter = slot
            .clone()
            .scope(async { w.enter(WaitKind::LongPoll).unwrap() })
            .await;
        // While it waits, another connection may take the slot...
        let other = slots.clone().try_acquire_owned().unwrap();
        assert!(!waiter.leave(), "no slot free: the answer closes it");
        drop(other);
        let waiter = slot
            .clone()
            .scope(async { w.enter(WaitKind::LongPoll).unwrap() })
            .await;
        assert_eq!(slots.available_permits(), 1);
        assert!(waiter.leave());
        assert_eq!(slots.available_permits(), 0);
    }

    #[tokio::test]
    async fn shutdown_ends_every_wait_and_refuses_new_ones() {
        let w = room(4);
        let mut waiter = w.enter(WaitKind::LongPoll).unwrap();
        w.stop();
        waiter.stopped().await;
        assert!(w.stopping());
        assert!(w.enter(WaitKind::Stream).is_none());
    }
}
