//! Concurrent steps: writes on distinct items, one poll per consumer and a
//! clock move, all in flight at once on the server's runtime, each starting
//! after its [`Delay`]. The writes' answers say which seqs they got; the
//! stamps are read back from the feed (and must lie between the clock's
//! values during the step, in seq order); then every poll is checked
//! against the completed reference log within the bounds it was made in.
//!
//! A PUT may hang up before its answer and send the same request again
//! (PROTOCOL §3, writes a client abandons): the first attempt is applied
//! fully or not at all, so the retry either applies it or answers
//! `unchanged` with the seq of the first, which must be visible by then.

use super::consumer::Request;
use super::gen::{Delay, Poll, Write};
use super::producer::{check_write, Planned, World};
use super::{HUNG_UP, HUNG_UP_APPLIED, OVERLAPPED, TICK_IN_FLIGHT, TOGETHER};
use crate::support::{Resp, NS_SYNC};
use proptest::test_runner::TestCaseError;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll as Ready;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Turns a delay waits at most for what it waits for.
const PATIENCE: usize = 400;
/// How long a write may take before the case fails (a write that never
/// becomes visible would make its retry wait for ever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

enum Done {
    /// The write, its answer (none in time), whether it was sent again
    /// after a hang-up, and the visible head when the answer came.
    Write(usize, Option<Resp>, bool, u64),
    /// The poll, its answer, the clock at the answer and the visible head
    /// before and after it.
    Poll(usize, Resp, u64, u64, u64),
    Tick,
}

type Task<'a> = Pin<Box<dyn Future<Output = Done> + 'a>>;

impl World {
    pub async fn together(
        &mut self,
        writes: &[(Write, Delay, Option<u8>)],
        polls: &[(Poll, Delay)],
        tick: Option<(u64, Delay)>,
    ) -> Result<(), TestCaseError> {
        TOGETHER.add();
        let t0 = self.now();
        let plans: Vec<_> = writes.iter().map(|(w, ..)| self.plan(w)).collect();
        let reqs: Vec<Request> = polls.iter().map(|(p, _)| self.request(p)).collect();
        let pending = Cell::new(0usize);
        let ticked = Cell::new(tick.is_none());
        let done = {
            let world = &*self;
            let (pending, ticked) = (&pending, &ticked);
            let mut tasks: Vec<Task<'_>> = vec![];
            for (i, (plan, (_, delay, hang_up))) in plans.iter().zip(writes).enumerate() {
                tasks.push(Box::pin(async move {
                    world.wait(*delay, ticked).await;
                    pending.set(pending.get() + 1);
                    let first = match hang_up {
                        Some(turns) => world.send_or_hang_up(plan, *turns).await,
                        None => None,
                    };
                    let again = hang_up.is_some() && first.is_none();
                    let r = match first {
                        Some(r) => Some(r),
                        None => tokio::time::timeout(WRITE_TIMEOUT, world.send(plan))
                            .await
                            .ok(),
                    };
                    pending.set(pending.get() - 1);
                    Done::Write(i, r, again, world.store.head())
                }));
            }
            for (i, (req, (_, delay))) in reqs.iter().zip(polls).enumerate() {
                tasks.push(Box::pin(async move {
                    world.wait(*delay, ticked).await;
                    let before = world.store.head();
                    let r = world.app.get(&req.url, &req.header_pairs()).await;
                    if pending.get() > 0 {
                        OVERLAPPED.add();
                    }
                    Done::Poll(i, r, world.now(), before, world.store.head())
                }));
            }
            if let Some((ms, delay)) = tick {
                tasks.push(Box::pin(async move {
                    world.wait(delay, ticked).await;
                    if world.unpublished().await {
                        TICK_IN_FLIGHT.add();
                    }
                    world.clock.advance(ms);
                    ticked.set(true);
                    Done::Tick
                }));
            }
            join_all(tasks).await
        };

        // The writes: each as planned, their transactions in seq order.
        let mut answers: Vec<Option<(Option<Resp>, bool, u64)>> = vec![None; plans.len()];
        let mut answered = vec![];
        for d in done {
            match d {
                Done::Write(i, r, again, head) => answers[i] = Some((r, again, head)),
                Done::Poll(i, r, t1, before, after) => answered.push((i, r, t1, before, after)),
                Done::Tick => {}
            }
        }
        let mut order = vec![];
        for (plan, answer) in plans.into_iter().zip(answers) {
            let (r, again, head) = answer.expect("every write task ends");
            let Some(r) = r else {
                return Err(super::fail(format!(
                    "{plan:?}: no answer in {WRITE_TIMEOUT:?}"
                )));
            };
            if again {
                HUNG_UP.add();
            }
            let first_applied = again && !plan.txns.is_empty() && r.status == 200 && {
                let v = r.json();
                v["action"] == "unchanged"
            };
            let seqs = if first_applied {
                HUNG_UP_APPLIED.add();
                let seq = r.json()["seq"].as_u64().unwrap_or(u64::MAX);
                ensure!(
                    seq <= head,
                    "{plan:?}: the retry answers unchanged at {seq}, beyond the visible head {head}"
                );
                vec![seq]
            } else {
                check_write(&plan, &r)?
            };
            if let Some(&first) = seqs.first() {
                let run: Vec<u64> = (first..).take(seqs.len()).collect();
                ensure!(seqs == run, "{plan:?}: seqs {seqs:?} not one run");
                order.push((first, plan, seqs));
            }
        }
        order.sort_by_key(|o| o.0);
        let t_end = self.now();
        for (first, plan, seqs) in order {
            ensure!(
                first == self.head() + 1,
                "{plan:?}: seq {first} after head {}",
                self.head()
            );
            let stamp = self.stamp_of(first).await;
            let floor = self.log.last().map_or(0, |t| t.stamp).max(t0);
            ensure!(
                (floor..=t_end).contains(&stamp),
                "seq {first} stamped {stamp}: not in [{floor}, {t_end}]"
            );
            for &seq in &seqs[1..] {
                let s = self.stamp_of(seq).await;
                ensure!(
                    s == stamp,
                    "one write, two stamps: {stamp} and {s} at {seq}"
                );
            }
            self.commit(plan, seqs.into_iter().map(|s| (s, stamp)).collect());
        }
        ensure!(
            self.store.head() == self.head(),
            "visible head {} after the writes, {} written",
            self.store.head(),
            self.head()
        );

        // The polls, each within the bounds it was made in.
        for (i, r, t1, before, after) in answered {
            self.settle(&reqs[i], r, (t0, t1), (before, after))?;
        }
        Ok(())
    }

    /// Send `p`, but hang up if no answer came after `turns` turns (at
    /// once, before its last byte, for 0).
    async fn send_or_hang_up(&self, p: &Planned, turns: u8) -> Option<Resp> {
        let raw = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            p.method,
            p.path,
            self.app.addr,
            p.body.len(),
            p.body
        );
        let mut s = tokio::net::TcpStream::connect(self.app.addr).await.ok()?;
        if turns == 0 {
            // Gone before the request is complete: nothing may be applied.
            let _ = s.write_all(&raw.as_bytes()[..raw.len() - 1]).await;
            return None;
        }
        s.write_all(raw.as_bytes()).await.ok()?;
        let mut buf = vec![];
        let answered = tokio::select! {
            r = s.read_to_end(&mut buf) => r.is_ok(),
            () = yields(usize::from(turns)) => false,
        };
        answered.then(|| Resp::parse(&buf))
    }

    async fn wait(&self, delay: Delay, ticked: &Cell<bool>) {
        let turns = match delay {
            Delay::Yields(n) => usize::from(n),
            Delay::UntilWritten => {
                for _ in 0..PATIENCE {
                    if self.unpublished().await {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                0
            }
            Delay::AfterTick(n) => {
                for _ in 0..PATIENCE * 2 {
                    if ticked.get() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                usize::from(n)
            }
        };
        yields(turns).await;
    }

    /// Does the store hold a written transaction that is not visible yet?
    async fn unpublished(&self) -> bool {
        let head = self.store.head();
        self.store
            .scan(head, u64::MAX, 1, usize::MAX)
            .await
            .is_ok_and(|t| !t.is_empty())
    }

    /// The stamp of transaction `seq`, as the feed shows it (`sync:stamp`
    /// of the one-transaction page after `seq - 1`).
    async fn stamp_of(&self, seq: u64) -> u64 {
        let url = format!("/feeds/news?etag={}.{}&limit=1", self.epoch, seq - 1);
        let r = self.app.get(&url, &[]).await;
        let body = r.text();
        let doc = roxmltree::Document::parse(body).expect("well-formed");
        let stamp = doc
            .descendants()
            .find(|n| n.has_tag_name((NS_SYNC, "syncState")))
            .and_then(|s| s.children().find(|n| n.has_tag_name((NS_SYNC, "stamp"))))
            .and_then(|n| n.text())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("no entry stamp for {seq}: {body}"));
        u64::try_from(stamp.timestamp_millis()).unwrap_or(0)
    }
}

async fn yields(turns: usize) {
    for _ in 0..turns {
        tokio::task::yield_now().await;
    }
}

/// Poll every task until all are done; their outputs in order.
async fn join_all<T>(tasks: Vec<Pin<Box<dyn Future<Output = T> + '_>>>) -> Vec<T> {
    let mut tasks: Vec<_> = tasks.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = tasks.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (task, slot) in tasks.iter_mut().zip(out.iter_mut()) {
            if let Some(t) = task {
                if let Ready::Ready(v) = t.as_mut().poll(cx) {
                    *slot = Some(v);
                    *task = None;
                }
            }
        }
        match tasks.iter().all(Option::is_none) {
            true => Ready::Ready(()),
            false => Ready::Pending,
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
