//! What one process knows of a feed's row without asking the database: the
//! head, its stamp, the first seq of the head's second, the live count, the
//! dropped mark, the compaction generation, and `closed`, the instant
//! before which every transaction is at or below the head. Readers'
//! synchronous calls ([`LogView::head`](crate::protocol::LogView::head),
//! `frontier`, `dropped`, `published`, `compactions`) answer from it.
//!
//! It is fed with [`Snapshot`]s, committed versions of the feed's row: the
//! ones this process's appends and compactions commit, the ones other
//! processes announce by `NOTIFY` (`listen.rs`), and the ones reads return
//! beside their rows. Every field only moves forward, so snapshots may
//! arrive in any order.
//!
//! Why a snapshot of the row bounds the frontier: the row's versions are
//! written under its lock, one at a time, and `head_stamp` and `seen` never
//! decrease along them. A writer takes its stamp under the lock, at least
//! both of them ([`Snapshot::floor`]), and commits before releasing it. So
//! for any committed version with head `h`, every transaction stamped
//! before `max(head_stamp, seen)` committed before that version (seq at
//! most `h`): one that commits later read a version at least as new under
//! the lock and was stamped at or after this bound. A larger head learned
//! later only strengthens that.

use crate::protocol::Frontier;
use crate::store::Published;
use crate::sync::lock;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_postgres::Row;

/// The columns of a feed's row a [`Snapshot`] holds, in its order.
pub(super) const COLUMNS: &str =
    "head, head_stamp, second_first, live, seen, dropped, dropped_stamp, compactions";

/// A committed version of a feed's row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Snapshot {
    pub head: u64,
    pub head_stamp: u64,
    /// The first seq stamped in the head's second (0: no transaction yet).
    pub second_first: u64,
    pub live: u64,
    /// The latest instant readers closed the seconds before.
    pub seen: u64,
    pub dropped: u64,
    pub dropped_stamp: u64,
    pub compactions: u64,
}

/// A non-negative `bigint` as a u64 (a negative one, never written, as 0).
pub(super) fn num(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A u64 as a `bigint` (values above i64::MAX, which no seq, stamp or
/// count reaches, saturate).
pub(super) fn db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Snapshot {
    /// The snapshot in `row`'s columns `at..at + 8` (selected as [`COLUMNS`]).
    pub fn from_row(row: &Row, at: usize) -> Result<Snapshot, tokio_postgres::Error> {
        let n = |i: usize| row.try_get::<_, i64>(at + i).map(num);
        Ok(Snapshot {
            head: n(0)?,
            head_stamp: n(1)?,
            second_first: n(2)?,
            live: n(3)?,
            seen: n(4)?,
            dropped: n(5)?,
            dropped_stamp: n(6)?,
            compactions: n(7)?,
        })
    }

    /// The least stamp the next write may take (see the module docs).
    pub fn floor(&self) -> u64 {
        self.head_stamp.max(self.seen)
    }

    /// The notification of this row: the feed's id, then the fields in order.
    pub fn notice(&self, feed: i32) -> String {
        format!(
            "{feed} {} {} {} {} {} {} {} {}",
            self.head,
            self.head_stamp,
            self.second_first,
            self.live,
            self.seen,
            self.dropped,
            self.dropped_stamp,
            self.compactions
        )
    }

    /// The feed id and snapshot a notification of [`Snapshot::notice`] holds.
    pub fn from_notice(payload: &str) -> Option<(i32, Snapshot)> {
        let mut parts = payload.split(' ');
        let feed = parts.next()?.parse().ok()?;
        let mut n = || parts.next()?.parse::<u64>().ok();
        let s = Snapshot {
            head: n()?,
            head_stamp: n()?,
            second_first: n()?,
            live: n()?,
            seen: n()?,
            dropped: n()?,
            dropped_stamp: n()?,
            compactions: n()?,
        };
        Some((feed, s))
    }
}

/// How long after its last read a feed's frontier is kept moving (`listen.rs`).
pub(super) const HOT: Duration = Duration::from_secs(600);

#[derive(Default)]
struct State {
    /// The newest head known, with its stamp, second and live count.
    known: Snapshot,
    /// Every transaction stamped before this instant is at or below the head.
    closed: u64,
    /// The latest instant a reader asked the frontier at.
    wanted: u64,
    /// When a reader last asked (for `listen.rs`: hot feeds stay fresh).
    read_at: Option<Instant>,
}

/// One feed's cached row.
pub(super) struct View {
    state: Mutex<State>,
    /// The known head, for waiters (`Log::watch_head`): moved by this
    /// process's commits and by other processes' notifications alike.
    head: watch::Sender<u64>,
}

impl Default for View {
    fn default() -> View {
        View {
            state: Mutex::default(),
            head: watch::Sender::new(0),
        }
    }
}

impl View {
    /// The known head as it moves.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    /// Take in a committed version of the row.
    pub fn apply(&self, s: &Snapshot) {
        let head = self.take(s);
        self.head
            .send_if_modified(|h| std::mem::replace(h, head) != head);
    }

    /// [`View::apply`] without waking anyone; returns the known head.
    fn take(&self, s: &Snapshot) -> u64 {
        let mut st = lock(&self.state);
        let k = &mut st.known;
        // (An empty log's head stamp is its creation instant.)
        if (s.head, s.head_stamp) > (k.head, k.head_stamp) {
            (k.head, k.head_stamp, k.second_first, k.live) =
                (s.head, s.head_stamp, s.second_first, s.live);
        }
        if s.dropped > k.dropped {
            (k.dropped, k.dropped_stamp) = (s.dropped, s.dropped_stamp);
        }
        k.compactions = k.compactions.max(s.compactions);
        k.seen = k.seen.max(s.seen);
        st.closed = st.closed.max(s.floor());
        st.known.head
    }

    pub fn known(&self) -> Snapshot {
        lock(&self.state).known
    }

    pub fn head(&self) -> u64 {
        lock(&self.state).known.head
    }

    pub fn published(&self) -> Published {
        let k = lock(&self.state).known;
        Published {
            seq: k.head,
            stamp: k.head_stamp,
            live: k.live,
        }
    }

    /// The frontier at `now_ms`, and whether a reader now wants a later
    /// second closed than the view knows (`listen.rs` then moves the row's
    /// `seen` forward). Never beyond `now_ms`: a `Last-Modified` after the
    /// reader's clock would be an invalid date when sent back.
    pub fn frontier(&self, now_ms: u64) -> (Frontier, bool) {
        let mut st = lock(&self.state);
        st.wanted = st.wanted.max(now_ms);
        st.read_at = Some(Instant::now());
        let f = Frontier {
            head: st.known.head,
            head_stamp: st.known.head_stamp,
            open_ms: now_ms.min(st.closed),
        };
        (f, now_ms / 1000 > st.closed / 1000)
    }

    /// The instant the row's `seen` should reach for this process's readers
    /// at `now_ms`, if that closes a later second than the view knows: what
    /// a reader asked, or, while the feed is read (within [`HOT`]), `now_ms`.
    pub fn wanted(&self, now_ms: u64) -> Option<u64> {
        let st = lock(&self.state);
        let hot = st.read_at.is_some_and(|t| t.elapsed() < HOT);
        let target = if hot {
            st.wanted.max(now_ms)
        } else {
            st.wanted
        };
        (target / 1000 > st.closed / 1000).then_some(target)
    }

    /// The first seq stamped in second `sec` or later, when the view can
    /// tell without the database: `Some(None)` for a second after the
    /// head's (anything stamped there is beyond the head, which callers
    /// treat as nothing: they cap at the head), the cached first seq for the
    /// head's own second, `None` (ask the database) before it.
    pub fn first_seq_from_second(&self, sec: u64) -> Option<Option<u64>> {
        let k = lock(&self.state).known;
        let head_sec = k.head_stamp / 1000;
        if sec > head_sec || (sec == head_sec && k.head == 0) {
            Some(None)
        } else if sec == head_sec {
            Some(Some(k.second_first))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(head: u64, head_stamp: u64, seen: u64) -> Snapshot {
        Snapshot {
            head,
            head_stamp,
            second_first: head,
            live: head,
            seen,
            ..Snapshot::default()
        }
    }

    #[test]
    fn snapshots_only_move_the_view_forward() {
        let v = View::default();
        v.apply(&snap(5, 7_000, 9_500));
        v.apply(&snap(3, 6_000, 4_000));
        let (f, later) = v.frontier(20_000);
        assert_eq!((f.head, f.head_stamp, f.open_ms), (5, 7_000, 9_500));
        assert!(later, "20 s is a later second than 9.5 s");
        // Never beyond the reader's clock.
        assert_eq!(v.frontier(8_000).0.open_ms, 8_000);
        assert_eq!(v.published().live, 5);
    }

    #[test]
    fn notification_payloads_round_trip() {
        let s = Snapshot {
            head: 1,
            head_stamp: 2,
            second_first: 3,
            live: 4,
            seen: 5,
            dropped: 6,
            dropped_stamp: 7,
            compactions: 8,
        };
        assert_eq!(Snapshot::from_notice(&s.notice(42)), Some((42, s)));
        assert_eq!(Snapshot::from_notice("42 1 2"), None);
        assert_eq!(Snapshot::from_notice("x 1 2 3 4 5 6 7 8"), None);
    }

    #[test]
    fn the_seconds_the_view_answers_for() {
        let v = View::default();
        // Empty: every second at or after the creation's holds nothing visible.
        v.apply(&snap(0, 10_400, 0));
        assert_eq!(v.first_seq_from_second(10), Some(None));
        assert_eq!(v.first_seq_from_second(9), None);
        v.apply(&Snapshot {
            second_first: 3,
            ..snap(5, 12_100, 0)
        });
        assert_eq!(v.first_seq_from_second(12), Some(Some(3)));
        assert_eq!(v.first_seq_from_second(13), Some(None));
        assert_eq!(v.first_seq_from_second(11), None);
    }

    #[test]
    fn a_read_feed_wants_its_seconds_closed_while_it_is_hot() {
        let v = View::default();
        v.apply(&snap(1, 5_000, 0));
        assert_eq!(v.wanted(9_000), None, "nobody read it");
        v.frontier(6_200);
        assert_eq!(v.wanted(9_000), Some(9_000));
        v.apply(&snap(1, 5_000, 9_100));
        assert_eq!(v.wanted(9_900), None, "9 s is closed already");
    }
}
