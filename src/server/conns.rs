//! The live connections: which are idle, which to close first when every
//! slot is taken, and closing them all at shutdown.
//!
//! Each served connection is registered with the coarse time it was last
//! active ([`Conn::touch`] after each answer; [`Conn::busy`] while a request
//! waits for something: a body, a durable write, an upstream sync). When a
//! new connection finds every slot taken, [`Conns::evict_oldest_idle`] asks
//! the connection idle for longest to close: hyper's graceful shutdown
//! closes a keep-alive connection waiting for its next request at once (and
//! would let a request in progress finish first). A client whose idle
//! keep-alive connection is closed opens a new one, as it does after any
//! idle timeout.
//!
//! The time is a counter a ticker advances every [`TICK`] (so recording it
//! per request is a load and a store, not a clock read); ties go to the
//! older connection.

use crate::sync::lock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// How often the activity clock advances.
pub const TICK: Duration = Duration::from_millis(100);

/// `Conn::last` while a request is in progress.
const BUSY: u64 = u64::MAX;

#[derive(Default)]
pub struct Conns {
    registry: Mutex<Registry>,
    /// The activity clock (ticks since start).
    now: Arc<AtomicU64>,
    /// Notified when the last connection is gone (the shutdown drain).
    empty: Notify,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    live: HashMap<u64, Arc<Conn>>,
    /// Shutting down: connections registered from now on close at once.
    closing: bool,
}

/// One served connection.
pub struct Conn {
    id: u64,
    /// Activity clock at its last answer (or its accept), or [`BUSY`].
    last: AtomicU64,
    now: Arc<AtomicU64>,
    /// Closed to make room for a new connection only if set (not the
    /// connections answered over the cap, which serve one request anyway).
    evictable: bool,
    asked: AtomicBool,
    close: Notify,
}

impl Conn {
    /// An answer was given: idle from now on (until the next request).
    pub fn touch(&self) {
        self.last
            .store(self.now.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// A request is in progress and may take a while.
    pub fn busy(&self) {
        self.last.store(BUSY, Ordering::Relaxed);
    }

    /// Resolves once the connection is asked to close (eviction or shutdown).
    pub async fn closing(&self) {
        self.close.notified().await;
    }

    fn ask_to_close(&self) {
        self.asked.store(true, Ordering::Relaxed);
        // Stores a permit if the connection is not waiting yet.
        self.close.notify_one();
    }
}

/// Unregisters its connection when dropped.
pub struct Registered {
    conns: Weak<Conns>,
    pub conn: Arc<Conn>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(conns) = self.conns.upgrade() {
            let mut r = lock(&conns.registry);
            r.live.remove(&self.conn.id);
            if r.live.is_empty() {
                conns.empty.notify_waiters();
            }
        }
    }
}

impl Conns {
    /// Advance the activity clock every [`TICK`] while `self` lives.
    pub fn start_clock(self: &Arc<Self>) {
        let now = self.now.clone();
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while me.strong_count() > 0 {
                tick.tick().await;
                now.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// Register a new connection, idle since now.
    pub fn register(self: &Arc<Self>, evictable: bool) -> Registered {
        let mut r = lock(&self.registry);
        r.next_id += 1;
        let conn = Arc::new(Conn {
            id: r.next_id,
            last: AtomicU64::new(self.now.load(Ordering::Relaxed)),
            now: self.now.clone(),
            evictable,
            asked: AtomicBool::new(false),
            close: Notify::new(),
        });
        if r.closing {
            conn.ask_to_close();
        }
        r.live.insert(conn.id, conn.clone());
        Registered {
            conns: Arc::downgrade(self),
            conn,
        }
    }

    /// Ask the connection idle for longest to close; false if none is idle.
    pub fn evict_oldest_idle(&self) -> bool {
        let r = lock(&self.registry);
        let oldest = r
            .live
            .values()
            .filter(|c| c.evictable && !c.asked.load(Ordering::Relaxed))
            .map(|c| (c.last.load(Ordering::Relaxed), c.id, c))
            .filter(|(last, ..)| *last != BUSY)
            .min_by_key(|(last, id, _)| (*last, *id));
        match oldest {
            Some((.., conn)) => {
                conn.ask_to_close();
                true
            }
            None => false,
        }
    }

    /// Connections registered now.
    pub fn len(&self) -> usize {
        lock(&self.registry).live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shutdown: ask every connection, and any registered later, to close.
    pub fn close_all(&self) {
        let mut r = lock(&self.registry);
        r.closing = true;
        for conn in r.live.values() {
            conn.ask_to_close();
        }
    }

    /// Resolves once no connection is registered.
    pub async fn drained(&self) {
        loop {
            let empty = self.empty.notified();
            tokio::pin!(empty);
            empty.as_mut().enable();
            if self.is_empty() {
                return;
            }
            empty.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(c: &Registered) -> bool {
        c.conn.asked.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn the_connection_idle_longest_is_closed_first() {
        let conns = Arc::new(Conns::default());
        let a = conns.register(true);
        let b = conns.register(true);
        let c = conns.register(true);
        let probe = conns.register(false);
        conns.now.store(5, Ordering::Relaxed);
        a.conn.touch(); // a answered later than b and c
        c.conn.busy(); // c is in the middle of a request
        assert!(conns.evict_oldest_idle());
        assert!(asked(&b) && !asked(&a) && !asked(&c) && !asked(&probe));
        b.conn.closing().await; // its permit was stored
        assert!(conns.evict_oldest_idle());
        assert!(asked(&a));
        assert!(
            !conns.evict_oldest_idle(),
            "c is busy, the probe is not evictable"
        );
        c.conn.touch();
        assert!(conns.evict_oldest_idle() && asked(&c));
    }

    #[tokio::test]
    async fn shutdown_closes_everyone_and_waits_for_them() {
        let conns = Arc::new(Conns::default());
        let a = conns.register(true);
        conns.close_all();
        a.conn.closing().await;
        let late = conns.register(true);
        late.conn.closing().await;
        let drained = tokio::spawn({
            let conns = conns.clone();
            async move { conns.drained().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!drained.is_finished());
        drop(late);
        tokio::time::timeout(Duration::from_secs(1), drained)
            .await
            .expect("drained")
            .unwrap();
    }
}
