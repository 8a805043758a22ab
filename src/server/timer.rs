//! The header-read timeout's timer, for hyper's `http1::Builder::timer`.
//!
//! hyper starts the header-read timeout each time it waits for a request
//! head, through [`Timer::sleep_until`], and drops that sleep once the head
//! has arrived. With hyper-util's `TokioTimer` every request thus creates a
//! tokio timer, registers it in the runtime's timer wheel (under the
//! driver's lock) when first polled, and removes it again (under the lock)
//! when dropped: about a twentieth of the instructions of a 304.
//!
//! [`ConnTimer`] (one per connection) keeps one tokio `Sleep` instead. A
//! sleep hyper drops goes back to the connection's slot, still registered,
//! and the next head takes it with its new deadline. The tokio sleep is
//! moved only when the new deadline is earlier than the one it is armed
//! for; a later one (each head's, with a fixed timeout) is only noted, and
//! when the tokio sleep fires before it, it is re-armed for it then: the
//! timer wheel is touched about once per timeout, not once per request.
//! The protection is hyper's own, unchanged: the same deadline (now +
//! `header_read_timeout` from when hyper starts waiting for a head), the
//! same point where it stops, the same error when it passes.

use crate::sync::lock;
use hyper::rt::{Sleep, Timer};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

type Slot = Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>;

/// A [`Timer`] that re-arms one tokio sleep instead of creating one per
/// request head (see the module docs). Give each connection its own.
#[derive(Default)]
pub struct ConnTimer {
    idle: Slot,
}

impl Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let sleep = lock(&self.idle)
            .take()
            .unwrap_or_else(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        let mut armed = Armed {
            sleep: Some(sleep),
            deadline,
            home: self.idle.clone(),
        };
        armed.reset(deadline);
        Box::pin(armed)
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Armed>() {
            Some(armed) => armed.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// The sleep handed to hyper, due at `deadline`; its tokio sleep is armed
/// for that or earlier. Dropped, it returns the tokio sleep to the
/// connection's slot.
struct Armed {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    deadline: Instant,
    home: Slot,
}

impl Armed {
    fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let Some(sleep) = &mut self.sleep {
            // Armed for later than that: it would fire late; move it.
            if sleep.deadline() > deadline.into() {
                sleep.as_mut().reset(deadline.into());
            }
        }
    }
}

impl Future for Armed {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let me = self.get_mut();
        let Some(sleep) = &mut me.sleep else {
            return Poll::Ready(());
        };
        loop {
            std::task::ready!(sleep.as_mut().poll(cx));
            if sleep.deadline() >= me.deadline.into() {
                return Poll::Ready(());
            }
            // Fired at an older deadline: wait on for this one.
            sleep.as_mut().reset(me.deadline.into());
        }
    }
}

impl Sleep for Armed {}

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(sleep) = self.sleep.take() {
            *lock(&self.home) = Some(sleep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn a_rearmed_sleep_fires_at_its_new_deadline_only() {
        let timer = ConnTimer::default();
        drop(timer.sleep_until(Instant::now() + 50 * MS));
        assert!(
            lock(&timer.idle).is_some(),
            "the sleep went back to its slot"
        );
        let started = Instant::now();
        let mut second = timer.sleep_until(started + 300 * MS);
        assert!(lock(&timer.idle).is_none(), "the slot's sleep was taken");
        tokio::time::sleep(100 * MS).await;
        assert!(
            poll_once(second.as_mut()).is_pending(),
            "fired at the old deadline"
        );
        second.as_mut().await;
        assert!(started.elapsed() >= 290 * MS, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn an_earlier_deadline_and_reset_are_honoured() {
        let timer = ConnTimer::default();
        drop(timer.sleep_until(Instant::now() + Duration::from_secs(10)));
        let started = Instant::now();
        let mut s = timer.sleep_until(started + 50 * MS);
        s.as_mut().await;
        assert!(started.elapsed() < Duration::from_secs(5));
        timer.reset(&mut s, Instant::now() + 50 * MS);
        assert!(poll_once(s.as_mut()).is_pending());
        s.as_mut().await;
        assert!(started.elapsed() >= 100 * MS);
    }

    fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(std::task::Waker::noop()))
    }
}
