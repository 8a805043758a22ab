//! Long-poll (PROTOCOL §9): a feed read with `Prefer: wait=N` (RFC 7240
//! §4.3) or `?wait=N` whose answer would be a 304 is held until the answer
//! changes, then answered at once; at the deadline (N seconds, capped at
//! `max_wait`) or at shutdown, the 304.
//!
//! The wait is a registration on the feed's head (`Log::watch_head`),
//! taken before the first answer is made so that no write in between is
//! missed; the read is made again only when the head moved, or, for a 304
//! that a date cursor's open second held back (the head is beyond its
//! position), once that second has ended. Over `max_waiting` the first
//! answer is given at once, without `Preference-Applied`.

use super::query::Query;
use super::Res;
use crate::app::App;
use crate::error::ApiError;
use crate::feed::Feed;
use crate::metrics::{WaitEnd, WaitKind};
use crate::waiting::Waiter;
use hyper::header::{self, HeaderValue};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant};

/// The wait a request asks for: `Prefer: wait=N` first, else `?wait=N`,
/// capped at `max`; `None` for no wait (or `0`). A `wait` parameter that is
/// not a whole number is `400 invalid_parameter`, `Prefer` or not.
pub fn requested(
    prefer: Option<u64>,
    q: &Query<'_>,
    max: Duration,
) -> Result<Option<Duration>, ApiError> {
    let param = match q.wait.as_deref() {
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            ApiError::InvalidParameter(format!(
                "wait {text:?}: use a whole number of seconds (at most {})",
                max.as_secs()
            ))
        })?),
        None => None,
    };
    let secs = prefer.or(param).unwrap_or(0);
    let wait = Duration::from_secs(secs).min(max);
    Ok((!wait.is_zero()).then_some(wait))
}

/// The `wait=N` preference of a `Prefer` value, if it has one that parses
/// (RFC 7240: a preference that cannot be understood is ignored).
pub fn preferred_wait(value: &HeaderValue) -> Option<u64> {
    let v = value.to_str().ok()?;
    v.split(',').find_map(|pref| {
        let pref = pref.split(';').next().unwrap_or("");
        let (name, value) = pref.split_once('=')?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if name.trim().eq_ignore_ascii_case("wait") {
            value.parse().ok()
        } else {
            None
        }
    })
}

/// One long-poll: registered on the feed's head from its start, so that
/// no write between an answer and the wait is missed.
pub struct LongPoll<'a> {
    app: &'a App,
    head: watch::Receiver<u64>,
    wait: Duration,
    deadline: Instant,
    /// Its place among `max_waiting`, once it waits.
    waiter: Option<Waiter>,
    /// How the wait ended, once it did (`None`: woken, or never waited).
    end: Option<WaitEnd>,
}

impl<'a> LongPoll<'a> {
    /// Before the first answer is made.
    pub fn start(app: &'a App, feed: &Feed, wait: Duration) -> LongPoll<'a> {
        let mut head = feed.log().watch_head();
        head.borrow_and_update();
        LongPoll {
            app,
            head,
            wait,
            deadline: Instant::now() + wait,
            waiter: None,
            end: None,
        }
    }

    /// The last answer was a 304 at `held`: wait until it may have changed
    /// (true: answer again) or the wait is over (false: send it).
    pub async fn next(&mut self, held: u64) -> bool {
        let waiter = match &mut self.waiter {
            Some(w) => w,
            None => match self.app.waiting().enter(WaitKind::LongPoll) {
                Some(w) => self.waiter.insert(w),
                None => {
                    self.end = Some(WaitEnd::OverCap);
                    return false;
                }
            },
        };
        // A date cursor's position can stay behind the head while its
        // second is open: look again once the second has ended.
        let unsettled = *self.head.borrow() > held;
        let clock = self.app.clock();
        let settle = async {
            if unsettled {
                let ms = 1000 - clock.now_ms() % 1000;
                sleep(Duration::from_millis(ms + 5)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let end = tokio::select! {
            biased;
            () = waiter.stopped() => Some(WaitEnd::Shutdown),
            changed = self.head.changed() => changed.is_err().then_some(WaitEnd::Shutdown),
            () = settle => None,
            () = sleep_until(self.deadline) => Some(WaitEnd::Deadline),
        };
        self.head.borrow_and_update();
        self.end = end;
        end.is_none()
    }

    /// The answer to send: marked `Preference-Applied` if it waited.
    pub fn finish(self, mut res: Res) -> Res {
        let waited = self.waiter.is_some().then_some(WaitEnd::Woken);
        if let Some(end) = self.end.or(waited) {
            self.app.metrics().immediate.long_poll_ended(end);
        }
        if let Some(waiter) = self.waiter {
            let keep = waiter.leave();
            applied(&mut res, self.wait, keep);
        }
        res
    }
}

/// `Preference-Applied: wait=N` (beside a `return=representation` already
/// there); `Connection: close` when the connection found no slot to keep.
fn applied(res: &mut Res, wait: Duration, keep: bool) {
    let h = res.headers_mut();
    let mut value = format!("wait={}", wait.as_secs());
    if let Some(v) = h.get(super::caching::PREFERENCE_APPLIED) {
        value = format!("{}, {value}", String::from_utf8_lossy(v.as_bytes()));
    }
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(super::caching::PREFERENCE_APPLIED, v);
    }
    if !keep {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_preference() {
        let w = |s: &str| preferred_wait(&HeaderValue::from_str(s).unwrap());
        assert_eq!(w("wait=10"), Some(10));
        assert_eq!(w("return=representation, Wait=\"5\""), Some(5));
        assert_eq!(w("respond-async; x=y, wait = 7"), Some(7));
        assert_eq!(w("wait=soon"), None);
        assert_eq!(w("return=minimal"), None);
    }

    #[test]
    fn header_first_then_query_capped() {
        let max = Duration::from_secs(30);
        let q = Query::parse("wait=5");
        assert_eq!(
            requested(Some(3), &q, max).unwrap(),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            requested(None, &q, max).unwrap(),
            Some(Duration::from_secs(5))
        );
        let long = Query::parse("wait=3600");
        assert_eq!(requested(None, &long, max).unwrap(), Some(max));
        assert_eq!(requested(None, &Query::parse("wait=0"), max).unwrap(), None);
        assert_eq!(requested(None, &Query::parse(""), max).unwrap(), None);
        assert!(requested(None, &Query::parse("wait=-1"), max).is_err());
        assert!(requested(None, &Query::parse("wait=x"), max).is_err());
        // A bad parameter is refused even when `Prefer` names the wait.
        let beyond = Query::parse("wait=18446744073709551616");
        assert!(requested(Some(3), &beyond, max).is_err());
    }
}
