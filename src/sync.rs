//! The crate's one lock policy: every `std::sync::Mutex` is taken through
//! [`lock`], which ignores poisoning.
//!
//! The mutexes here guard bookkeeping (counters, caches, registries, slots)
//! that is consistent between statements: a panic on another thread while it
//! held the lock leaves nothing half done that a later holder could misread.
//! Refusing to serve after such a panic would turn one failed request into an
//! outage, so the guard is taken back from the poison error instead.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, ignoring poisoning (see the module docs for why).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The output of a future that never waits (a test's in-memory or sled
/// log: their reads are synchronous underneath), polled once.
#[cfg(test)]
pub(crate) fn ready<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a future expected to be ready is waiting"),
    }
}
