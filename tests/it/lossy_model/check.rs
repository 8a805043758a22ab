//! Every check on a feed response, against the reference log.
//!
//! A response is checked knowing only bounds on the server's state while it
//! was made ([`Window`]): the visible head somewhere in `[h0, h1]` and the
//! clock in `[t0, t1]`. A sequential poll pins both (`h0 == h1`, `t0 == t1`),
//! and then every check is exact; a poll that overlapped writes and a clock
//! move is checked for what must hold whichever state it saw: the page is
//! the collapse of (P, L] of the final log, ends where the limit or some head
//! in range says (ETag) or on a whole second of the final log that some
//! frontier in range closed (dates), and its `Last-Modified` never names a
//! second with a transaction beyond the position.
//!
//! Why the frontier is bounded so: every transaction written during the
//! step is stamped at or after `t0` (stamps never go below the clock), and
//! every earlier one was visible before the step, so the server's first open
//! second is at least `t0`'s; and it is at most the second of its clock.

use super::consumer::{Kind, Request};
use super::producer::World;
use super::{CAPPED, DATE_PAGES, START_MS};
use crate::support::{Feed, Resp};
use feedgate::cursor::parse_last_mod;
use proptest::test_runner::TestCaseError;

/// Bounds on the server's state while it made a response.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The clock when the step began, and when the response arrived.
    pub t0: u64,
    pub t1: u64,
    /// The visible head when the request was sent, and when the response arrived.
    pub h0: u64,
    pub h1: u64,
}

/// A response that passed the checks.
pub enum Checked {
    NotModified {
        /// The `Last-Modified` second and header.
        lm: u64,
        header: String,
    },
    Page {
        feed: Feed,
        last: u64,
        lm: u64,
        header: String,
        /// The `next` link, as a path, read the way the poll reads.
        next: Option<String>,
        /// Ends inside a second (date-selected, cut at the cap).
        capped: bool,
    },
}

impl World {
    pub fn check(&self, req: &Request, r: &Resp, w: Window) -> Result<Checked, TestCaseError> {
        let ctx = format!(
            "consumer {} GET {} {:?} (after {}, {w:?}, final head {})",
            req.who,
            req.url,
            req.headers,
            req.after,
            self.head()
        );
        let p = req.after;
        let by_etag = matches!(req.kind, Kind::Etag | Kind::Next);
        // Where the response may end: the head, or the closed seconds.
        let (lo_end, hi_end) = match by_etag {
            true => (w.h0, w.h1),
            false => (self.visible_at(w.t0), self.visible_at(w.t1).min(w.h1)),
        };
        let header = r.header("last-modified").unwrap_or_default().to_string();
        let lm = parse_last_mod(&header);
        if r.status == 304 {
            ensure!(
                !matches!(req.kind, Kind::CatchUp) && p >= lo_end,
                "{ctx}: a 304 with more to show: {r:?}"
            );
            let want = format!("\"{}.{p}\"", self.epoch);
            ensure!(r.etag() == want, "{ctx}: 304 moved the position: {r:?}");
            let lm = self.last_modified(p, lm, w, &ctx)?;
            return Ok(Checked::NotModified { lm, header });
        }
        ensure!(r.status == 200, "{ctx}: expected a page, got {r:?}");
        ensure!(
            matches!(req.kind, Kind::CatchUp) || p < hi_end,
            "{ctx}: a page where there is nothing to show: {r:?}"
        );
        let feed = r.feed();
        ensure!(feed.atom == req.atom, "{ctx}: wrong format");
        let etag = r.etag();
        ensure!(
            etag == format!("\"{}\"", feed.etag),
            "{ctx}: header {etag} vs body {}",
            feed.etag
        );
        let last: u64 = feed
            .etag
            .strip_prefix(&format!("{}.", self.epoch))
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        ensure!(
            p <= last && last <= hi_end,
            "{ctx}: page ends at {last}, outside ({p}, {hi_end}]"
        );
        let link = r
            .header("link")
            .and_then(|l| l.strip_prefix('<'))
            .and_then(|l| l.strip_suffix(">; rel=\"next\""));
        ensure!(
            link == feed.next.as_deref(),
            "{ctx}: Link {link:?} vs body next {:?}",
            feed.next
        );
        let next = match req.poll.query {
            true => feed.next.as_deref(),
            false => link,
        };
        let more = next.is_some();
        let mut capped = false;
        if by_etag {
            // last = min(p + limit, H) and more = last < H, for a head H in [h0, h1].
            let fits = match last == p + req.limit {
                true => (more || last >= w.h0) && (!more || last < w.h1),
                false => !more && last >= w.h0,
            };
            ensure!(
                last > p && fits,
                "{ctx}: ETag page ({p}, {last}], next {more}"
            );
        } else {
            DATE_PAGES.add();
            // Some whole-second end E the frontier allowed gives this page.
            let fits = (lo_end..=hi_end)
                .filter(|&e| e == 0 || self.seconds_end(self.sec(e)) == e)
                .any(|e| (e > p || p == 0) && self.date_page(p, e, req.limit) == (last, more));
            ensure!(
                fits,
                "{ctx}: date page ({p}, {last}], next {more}: no whole second in [{lo_end}, {hi_end}] gives it"
            );
            capped = last > 0 && self.seconds_end(self.sec(last)) != last;
            if capped {
                CAPPED.add();
            }
        }
        let want_mode = if p == 0 { "catchUp" } else { "immediate" };
        ensure!(
            feed.sync_mode == want_mode,
            "{ctx}: syncMode {}",
            feed.sync_mode
        );
        let got: Vec<_> = feed
            .entries
            .iter()
            .map(|e| (e.id.clone(), e.action.clone(), e.tick, e.title.clone()))
            .collect();
        let want = self.collapse(p, last);
        ensure!(
            got == want,
            "{ctx}: page ({p}, {last}]:\n got {got:?}\nwant {want:?}"
        );
        let lm = self.last_modified(last, lm, w, &ctx)?;
        ensure!(
            parse_last_mod(feed.date.as_deref().unwrap_or_default()) == Some(lm),
            "{ctx}: body date {:?} vs Last-Modified {header}",
            feed.date
        );
        if !by_etag && !capped && last > 0 {
            // A whole second the server saw closed: it names it.
            ensure!(lm == self.sec(last), "{ctx}: Last-Modified {header}");
        }
        let next = next.map(|n| n.find("/feeds/").map_or(n, |i| &n[i..]).to_string());
        Ok(Checked::Page {
            feed,
            last,
            lm,
            header,
            next,
            capped,
        })
    }

    /// PROTOCOL §2: the `Last-Modified` second of position `p` is `p`'s
    /// second if every transaction stamped in it is at or below `p`, else the
    /// second before; at 0, the second before the log was created. Where the
    /// window leaves it open (the next transaction not yet visible, the
    /// second not surely closed), either is right.
    fn last_modified(
        &self,
        p: u64,
        lm: Option<u64>,
        w: Window,
        ctx: &str,
    ) -> Result<u64, TestCaseError> {
        let Some(lm) = lm else {
            return Err(super::fail(format!("{ctx}: no Last-Modified")));
        };
        let ok = if p == 0 {
            lm == START_MS / 1000 - 1
        } else {
            let s = self.sec(p);
            let next = (p < self.head()).then(|| self.sec(p + 1));
            let whole = match next {
                Some(n) if n == s => Some(false),
                Some(_) if p < w.h0 => Some(true),
                _ if s < w.t0 / 1000 => Some(true),
                _ if s >= w.t1 / 1000 => Some(false),
                _ => None,
            };
            match whole {
                Some(true) => lm == s,
                Some(false) => lm == s - 1,
                None => lm == s || lm == s - 1,
            }
        };
        ensure!(ok, "{ctx}: Last-Modified {lm} for position {p}");
        Ok(lm)
    }

    /// The page a date cursor at `after` gets when the closed seconds end at
    /// `end`: `limit` transactions, less a trailing part of a second, or,
    /// when that leaves nothing, the whole first second up to the cap.
    /// (last, more).
    pub fn date_page(&self, after: u64, end: u64, limit: u64) -> (u64, bool) {
        if after >= end {
            return (after, false);
        }
        let first_cut = end.min(after + limit);
        let sec = self.sec(first_cut);
        let second_end = self.seconds_end(sec).min(end);
        let last = if second_end == first_cut {
            first_cut
        } else if self.sec(after + 1) == sec {
            second_end.min(after + limit.max(self.cap as u64))
        } else {
            self.seconds_end(sec - 1)
        };
        (last, last < end)
    }
}
