//! The consumer side of the model: what a consumer stores, how it polls and
//! applies pages, how it recovers from a crash, and every check on the answers.

use crate::common::enc;
use crate::producer::World;
use crate::{Loss, CRASHES, DATE_PAGES, DEFAULT_LIMIT, NOT_MODIFIED, ROLLED_BACK, START_MS};
use feedgate::cursor::parse_last_mod;
use proptest::test_runner::TestCaseError;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering::Relaxed;

/// What a consumer stored after its last fully processed response.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// The position it holds (what the model knows; a date consumer never sends it).
    pub seq: u64,
    /// `ETag` header (consumer 0) / `Last-Modified` header (consumer 1).
    pub header: Option<String>,
    /// `<ibmfs:etag>` (consumer 0) / `lastBuildDate` or Atom `updated` (consumer 1).
    pub body: Option<String>,
}

#[derive(Debug, Default)]
pub struct Consumer {
    pub stored: Option<Stored>,
    pub items: BTreeMap<String, String>,
    /// The `sync:tick` of the state it applied last, per item (also for deletes).
    pub applied: HashMap<String, u64>,
}

impl Consumer {
    /// Restart after a crash that lost the cursor of applied pages: forget what
    /// was applied past the stored position; the replay brings it back.
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
            ROLLED_BACK.fetch_add(1, Relaxed);
        }
    }
}

impl World {
    pub async fn poll(
        &mut self,
        who: usize,
        query: bool,
        atom: bool,
        limit: Option<u64>,
        loss: Loss,
    ) -> Result<(), TestCaseError> {
        let stored = self.consumers[who].stored.clone();
        let mut params: Vec<String> = vec![];
        let mut headers: Vec<(&str, String)> = vec![];
        // The validator this consumer sends, in the mode of this poll.
        let cursor = match (&stored, who, query) {
            (Some(s), 0, false) => s.header.clone().map(|v| ("If-None-Match", v)),
            (Some(s), 0, true) => s.body.clone().map(|v| ("etag", v)),
            (Some(s), _, false) => s.header.clone().map(|v| ("If-Modified-Since", v)),
            (Some(s), _, true) => s.body.clone().map(|v| ("lastMod", v)),
            (None, ..) => None,
        };
        match &cursor {
            Some((name, v)) if name.starts_with("If-") => headers.push((name, v.clone())),
            Some((name, v)) => params.push(format!("{name}={}", enc(v))),
            None => {}
        }
        let after = if cursor.is_some() {
            stored.as_ref().map_or(0, |s| s.seq)
        } else {
            0
        };
        let by_etag = who == 0 && cursor.is_some();
        if let Some(l) = limit {
            params.push(format!("limit={l}"));
        }
        let path = match (atom, query) {
            (true, false) => "/feeds/news.atom".to_string(),
            (true, true) => {
                params.push("format=atom".into());
                "/feeds/news".to_string()
            }
            (false, _) => "/feeds/news".to_string(),
        };
        let url = if params.is_empty() {
            path
        } else {
            format!("{path}?{}", params.join("&"))
        };
        let hdrs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = self.app.get(&url, &hdrs).await;
        let ctx = format!(
            "consumer {who} GET {url} {hdrs:?} (after {after}, head {}, now {})",
            self.head(),
            self.now()
        );

        // What the server must answer, from the reference log.
        let head = self.head();
        let end = if by_etag { head } else { self.visible() };
        let want_etag = |seq: u64| format!("\"{}.{seq}\"", self.epoch);
        if after >= end && cursor.is_some() {
            ensure!(r.status == 304, "{ctx}: expected 304, got {r:?}");
            ensure!(
                r.etag() == want_etag(after),
                "{ctx}: 304 moved the position: {r:?}"
            );
            NOT_MODIFIED.fetch_add(1, Relaxed);
            if let (Loss::None, Some(s)) = (loss, self.consumers[who].stored.as_mut()) {
                // Clients that update validators on a 304 keep what it says.
                s.header = Some(match who {
                    0 => r.etag(),
                    _ => match r.header("last-modified") {
                        Some(lm) => lm.to_string(),
                        None => return Ok(()),
                    },
                });
            }
            return Ok(());
        }
        ensure!(r.status == 200, "{ctx}: expected a page, got {r:?}");
        let feed = r.feed();
        ensure!(feed.atom == atom, "{ctx}: wrong format");
        let etag = r.etag();
        ensure!(
            etag == format!("\"{}\"", feed.etag),
            "{ctx}: header {etag} vs body {}",
            feed.etag
        );
        let last: u64 = feed
            .etag
            .rsplit_once('.')
            .and_then(|(_, s)| s.parse().ok())
            .unwrap_or(u64::MAX);
        ensure!(
            after <= last && last <= end,
            "{ctx}: page ends at {last}, outside ({after}, {end}]"
        );
        let n = last - after;
        let cap = limit.unwrap_or(DEFAULT_LIMIT);
        if by_etag {
            ensure!(
                last == end.min(after + cap),
                "{ctx}: ETag page ({after}, {last}]"
            );
        } else {
            DATE_PAGES.fetch_add(1, Relaxed);
            // Whole seconds: never part of a second, nothing of the current one.
            ensure!(n > 0 || after == end, "{ctx}: an empty page before the end");
            if last > 0 {
                let sec = self.log[last as usize - 1].stamp / 1000;
                ensure!(
                    self.seconds_end(sec) == last,
                    "{ctx}: page ends inside second {sec}"
                );
                ensure!(
                    sec < self.now() / 1000,
                    "{ctx}: reaches into the current second"
                );
            }
            if n > cap {
                let first = self.log[after as usize].stamp / 1000;
                let lastsec = self.log[last as usize - 1].stamp / 1000;
                ensure!(first == lastsec, "{ctx}: {n} > limit {cap} across seconds");
            }
        }
        let want_mode = if after == 0 { "catchUp" } else { "immediate" };
        ensure!(
            feed.sync_mode == want_mode,
            "{ctx}: syncMode {}",
            feed.sync_mode
        );
        ensure!(
            feed.next.is_some() == (last < end),
            "{ctx}: next link {:?}",
            feed.next
        );
        let got: Vec<_> = feed
            .entries
            .iter()
            .map(|e| (e.id.clone(), e.action.clone(), e.tick, e.title.clone()))
            .collect();
        let want = self.collapse(after, last);
        ensure!(
            got == want,
            "{ctx}: page ({after}, {last}]:\n got {got:?}\nwant {want:?}"
        );

        if matches!(loss, Loss::Drop) {
            return Ok(());
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
        if matches!(loss, Loss::CrashBeforeStore) {
            c.recover();
            CRASHES.fetch_add(1, Relaxed);
            return Ok(());
        }
        let (header, body) = match who {
            0 => (Some(etag), Some(feed.etag.clone())),
            _ => (
                r.header("last-modified").map(String::from),
                feed.date.clone(),
            ),
        };
        if who == 1 {
            // Header and body dates name the same second, that of the position
            // (a whole second: date pages end on one); at position 0, the
            // second before the log was created (PROTOCOL §2).
            let secs = |d: &Option<String>| d.as_deref().and_then(parse_last_mod);
            let want = Some(match last {
                0 => START_MS / 1000 - 1,
                _ => self.log[last as usize - 1].stamp / 1000,
            });
            ensure!(secs(&header) == want, "{ctx}: Last-Modified {header:?}");
            ensure!(secs(&body) == want, "{ctx}: body date {body:?}");
        }
        self.consumers[who].stored = Some(Stored {
            seq: last,
            header,
            body,
        });
        Ok(())
    }

    /// Let every transaction fall into a past second, then poll until 304.
    pub async fn catch_up(&mut self) -> Result<(), TestCaseError> {
        self.clock.advance(2000);
        for who in 0..2 {
            for round in 0usize.. {
                ensure!(
                    round <= self.log.len() + 2,
                    "consumer {who} never caught up"
                );
                let before = self.consumers[who].stored.as_ref().map(|s| s.seq);
                let query = round % 2 == 1;
                self.poll(who, query, round % 3 == 0, Some(3), Loss::None)
                    .await?;
                let now = self.consumers[who].stored.as_ref().map(|s| s.seq);
                if now == before && now == Some(self.head()) {
                    break;
                }
            }
            ensure!(
                self.consumers[who].items == self.items,
                "consumer {who} holds {:?}, the producer {:?}",
                self.consumers[who].items,
                self.items
            );
        }
        Ok(())
    }
}
