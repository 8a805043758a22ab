//! The consumer side of the model: what each consumer stores, how it polls,
//! applies pages and recovers, and the final catch-up.

use super::check::{Checked, Window};
use super::gen::{Loss, Poll};
use super::producer::World;
use super::{
    CRASHES, DEFAULT_LIMIT, NEXT_FOLLOWED, NOT_MODIFIED, PARTIAL_DATES, ROLLED_BACK, STUCK,
};
use crate::support::{enc, Resp};
use proptest::test_runner::TestCaseError;
use std::collections::{BTreeMap, HashMap};

/// What a consumer stored after its last fully processed response.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// The position it holds (what the model knows; a date consumer never
    /// sends it: it is the last seq stamped in its date's second or earlier).
    pub seq: u64,
    /// `ETag` header (consumer 0) / `Last-Modified` header (consumers 1, 2).
    pub header: Option<String>,
    /// `<ibmfs:etag>` (consumer 0) / `lastBuildDate` or Atom `updated` (1, 2).
    pub body: Option<String>,
    /// Consumer 2, walking: the `next` link (a path) it fetches next.
    pub next: Option<String>,
}

#[derive(Debug, Default)]
pub struct Consumer {
    pub stored: Option<Stored>,
    pub items: BTreeMap<String, String>,
    /// The `sync:tick` of the state it applied last, per item (also for deletes).
    pub applied: HashMap<String, u64>,
}

impl Consumer {
    /// Before polling on from the stored position: forget what was applied
    /// past it (a crash lost the cursor, or the stored date names less than
    /// the page held); the replay brings it back.
    pub fn recover(&mut self) {
        let held = self.stored.as_ref().map_or(0, |s| s.seq);
        let ahead: Vec<String> = self
            .applied
            .iter()
            .filter(|&(_, &tick)| tick > held)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ahead {
            self.items.remove(&id);
            self.applied.remove(&id);
            ROLLED_BACK.add();
        }
    }
}

/// How a request selects what it gets.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Consumer 0's stored ETag.
    Etag,
    /// A `next` link (`?etag=`), followed by consumer 2.
    Next,
    /// A stored date.
    Date,
    /// Nothing stored yet.
    CatchUp,
}

/// A request a consumer makes, and what the model knows about it.
#[derive(Debug, Clone)]
pub struct Request {
    pub who: usize,
    pub poll: Poll,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub kind: Kind,
    /// The position the server takes the cursor for.
    pub after: u64,
    /// The page size it asks for (the server's default without one).
    pub limit: u64,
    pub atom: bool,
}

impl Request {
    pub fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

/// What settling a response did, for the catch-up.
pub enum Settled {
    NotModified,
    Page { capped: bool },
}

impl World {
    /// The request consumer `p.consumer` makes in the mode of `p`.
    pub fn request(&self, p: &Poll) -> Request {
        let who = p.consumer;
        let stored = self.consumers[who].stored.clone();
        if let Some((s, next)) = stored.as_ref().and_then(|s| Some((s, s.next.clone()?))) {
            NEXT_FOLLOWED.add();
            let limit = next
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("limit="))
                .and_then(|l| l.parse().ok())
                .unwrap_or(DEFAULT_LIMIT);
            return Request {
                who,
                poll: *p,
                atom: next.contains(".atom?") || next.contains("format=atom"),
                url: next,
                headers: vec![],
                kind: Kind::Next,
                after: s.seq,
                limit,
            };
        }
        let mut params: Vec<String> = vec![];
        let mut headers = vec![];
        let cursor = match (&stored, who, p.query) {
            (Some(s), 0, false) => s.header.clone().map(|v| ("If-None-Match", v)),
            (Some(s), 0, true) => s.body.clone().map(|v| ("etag", v)),
            (Some(s), _, false) => s.header.clone().map(|v| ("If-Modified-Since", v)),
            (Some(s), _, true) => s.body.clone().map(|v| ("lastMod", v)),
            (None, ..) => None,
        };
        let kind = match (&cursor, who) {
            (None, _) => Kind::CatchUp,
            (Some(_), 0) => Kind::Etag,
            (Some(_), _) => Kind::Date,
        };
        match cursor {
            Some((name, v)) if name.starts_with("If-") => headers.push((name, v)),
            Some((name, v)) => params.push(format!("{name}={}", enc(&v))),
            None => {}
        }
        if let Some(l) = p.limit {
            params.push(format!("limit={l}"));
        }
        let path = match (p.atom, p.query) {
            (true, false) => "/feeds/news.atom",
            (true, true) => {
                params.push("format=atom".into());
                "/feeds/news"
            }
            (false, _) => "/feeds/news",
        };
        let url = match params.is_empty() {
            true => path.to_string(),
            false => format!("{path}?{}", params.join("&")),
        };
        Request {
            who,
            poll: *p,
            url,
            headers,
            kind,
            after: match kind {
                Kind::CatchUp => 0,
                _ => stored.map_or(0, |s| s.seq),
            },
            limit: p.limit.unwrap_or(DEFAULT_LIMIT),
            atom: p.atom,
        }
    }

    /// Check the answer to `req`, then let the consumer process it as the
    /// poll's loss says.
    pub fn settle(
        &mut self,
        req: &Request,
        r: Resp,
        (t0, t1): (u64, u64),
        (h0, h1): (u64, u64),
    ) -> Result<Settled, TestCaseError> {
        let checked = self.check(req, &r, Window { t0, t1, h0, h1 })?;
        let ctx = format!("consumer {} GET {}", req.who, req.url);
        let who = req.who;
        let (feed, last, lm, header, next, capped) = match checked {
            Checked::NotModified { lm, header } => {
                NOT_MODIFIED.add();
                let (loss, date) = (req.poll.loss, matches!(req.kind, Kind::Date));
                if date {
                    ensure!(
                        self.seconds_end(lm) == req.after,
                        "{ctx}: a 304's Last-Modified {header} is not position {}",
                        req.after
                    );
                }
                if let (Loss::None, Some(s)) = (loss, self.consumers[who].stored.as_mut()) {
                    // Clients that update validators on a 304 keep what it says.
                    match (who, date) {
                        (0, _) => s.header = Some(r.etag()),
                        (_, true) => s.header = Some(header),
                        _ => {}
                    }
                }
                return Ok(Settled::NotModified);
            }
            Checked::Page {
                feed,
                last,
                lm,
                header,
                next,
                capped,
            } => (feed, last, lm, header, next, capped),
        };
        let settled = Settled::Page { capped };
        if matches!(req.poll.loss, Loss::Drop) {
            return Ok(settled);
        }
        let c = &mut self.consumers[who];
        for e in &feed.entries {
            let prev = c.applied.get(&e.id).copied().unwrap_or(0);
            ensure!(
                e.tick > prev,
                "{ctx}: entry {e:?} would put tick {} over tick {prev}",
                e.tick
            );
            match e.action.as_str() {
                "delete" => c.items.remove(&e.id),
                _ => c
                    .items
                    .insert(e.id.clone(), e.title.clone().unwrap_or_default()),
            };
            c.applied.insert(e.id.clone(), e.tick);
        }
        if matches!(req.poll.loss, Loss::CrashBeforeStore) {
            c.recover();
            CRASHES.add();
            return Ok(settled);
        }
        let stored = match (who, next) {
            (0, _) => Stored {
                seq: last,
                header: Some(r.etag()),
                body: Some(feed.etag.clone()),
                next: None,
            },
            (2, Some(next)) => Stored {
                seq: last,
                next: Some(next),
                ..Stored::default()
            },
            // A date: it holds every second up to the one it names.
            _ => {
                let held = self.seconds_end(lm);
                if held < last {
                    PARTIAL_DATES.add();
                }
                Stored {
                    seq: held,
                    header: Some(header),
                    body: feed.date.clone(),
                    next: None,
                }
            }
        };
        let c = &mut self.consumers[who];
        c.stored = Some(stored);
        c.recover();
        Ok(settled)
    }

    /// Let every transaction fall into a past second, then poll until 304.
    /// Consumer 1 may stay before a second larger than the cap (its page is
    /// that second's first `cap` transactions again and again).
    pub async fn catch_up(&mut self) -> Result<(), TestCaseError> {
        self.clock.advance(2000);
        let mut caught_up = vec![];
        for who in 0..3 {
            for round in 0usize.. {
                ensure!(
                    round <= 2 * self.log.len() + 4,
                    "consumer {who} never caught up"
                );
                let before = self.consumers[who].stored.as_ref().map(|s| s.seq);
                let p = Poll {
                    consumer: who,
                    query: round % 2 == 1,
                    atom: round % 3 == 0,
                    limit: Some(3),
                    loss: Loss::None,
                };
                let req = self.request(&p);
                let (t, h) = (self.now(), self.head());
                let r = self.app.get(&req.url, &req.header_pairs()).await;
                let settled = self.settle(&req, r, (t, t), (h, h))?;
                let stored = self.consumers[who].stored.as_ref();
                let now = stored.map(|s| s.seq);
                if let (Settled::Page { capped: true, .. }, 1, true) = (settled, who, now == before)
                {
                    // Stuck: it holds the state of its position, less items
                    // it rolled back (applied past it), which the replay
                    // would bring back once past the capped second.
                    let at = now.unwrap_or(0);
                    let want = self.state_at(at);
                    let have = &self.consumers[who].items;
                    let later = |id: &String| self.log[at as usize..].iter().any(|t| t.id == *id);
                    ensure!(
                        have.iter().all(|(id, t)| want.get(id) == Some(t))
                            && want.keys().all(|id| have.contains_key(id) || later(id)),
                        "consumer 1 stuck at {at} holds {have:?}, its position {want:?}"
                    );
                    STUCK.add();
                    break;
                }
                if now == before
                    && now == Some(self.head())
                    && stored.is_some_and(|s| s.next.is_none())
                {
                    caught_up.push(who);
                    break;
                }
            }
        }
        ensure!(
            caught_up.contains(&0) && caught_up.contains(&2),
            "only {caught_up:?} caught up"
        );
        self.converged(&caught_up)
    }

    fn converged(&self, who: &[usize]) -> Result<(), TestCaseError> {
        for &w in who {
            ensure!(
                self.consumers[w].items == self.items,
                "consumer {w} holds {:?}, the producer {:?}",
                self.consumers[w].items,
                self.items
            );
        }
        Ok(())
    }
}
