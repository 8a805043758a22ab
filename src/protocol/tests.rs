use super::*;
use crate::model::{Action, Payload};
use crate::sync::ready;
use std::convert::Infallible;

/// [`super::plan`] over an in-memory log.
fn plan<V: LogView<Error = Infallible>>(
    log: &V,
    cursor: Cursor,
    now_ms: u64,
    limits: Limits,
) -> Result<Plan, Infallible> {
    ready(super::plan(log, cursor, now_ms, limits))
}

/// An in-memory log: `txns[i].seq == i + 1`. Transactions beyond `head`
/// are written but not visible yet; `in_flight` is the stamp floor of a
/// group being applied.
struct Mem {
    txns: Vec<Txn>,
    head: u64,
    in_flight: Option<u64>,
    /// The seq of each id's latest add.
    born: std::collections::HashMap<String, u64>,
}

impl Mem {
    fn new() -> Self {
        Mem {
            txns: vec![],
            head: 0,
            in_flight: None,
            born: Default::default(),
        }
    }
    /// Append without publishing: written, not visible.
    fn write(&mut self, id: &str, action: Action, stamp: u64) -> u64 {
        let head = self.head;
        let seq = self.push(id, action, stamp);
        self.head = head;
        seq
    }
    fn publish(&mut self) {
        self.head = self.txns.len() as u64;
    }
    fn push(&mut self, id: &str, action: Action, stamp: u64) -> u64 {
        let seq = self.txns.len() as u64 + 1;
        // The incarnation: born at the latest add of this id.
        let born = if action == Action::Add {
            self.born.insert(id.to_string(), seq);
            seq
        } else {
            self.born.get(id).copied().unwrap_or(0)
        };
        let payload = (action != Action::Delete).then(|| Payload {
            title: Some(format!("{id}@{seq}")),
            ..Payload::default()
        });
        let id = id.to_string();
        self.txns.push(Txn {
            seq,
            id,
            action,
            stamp,
            born,
            payload,
        });
        self.head = seq;
        seq
    }
}

#[async_trait]
impl LogView for Mem {
    type Error = Infallible;
    fn head(&self) -> u64 {
        self.head
    }
    fn frontier(&self, now_ms: u64) -> Frontier {
        let unpublished = self.txns.get(self.head as usize).map(|t| t.stamp);
        let open_ms = [Some(now_ms), unpublished, self.in_flight]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now_ms);
        Frontier {
            head: self.head,
            head_stamp: self
                .head
                .checked_sub(1)
                .map_or(0, |i| self.txns[i as usize].stamp),
            open_ms,
        }
    }
    fn created_ms(&self) -> u64 {
        T0 - 60_000
    }
    async fn scan(
        &self,
        after: u64,
        upto: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Txn>, Infallible> {
        let mut out = vec![];
        let mut bytes = 0;
        for t in self.txns.iter().filter(|t| t.seq > after && t.seq <= upto) {
            if out.len() >= max || (!out.is_empty() && bytes >= max_bytes) {
                break;
            }
            bytes += serde_json::to_vec(t).unwrap().len();
            out.push(t.clone());
        }
        Ok(out)
    }
    async fn first_seq_from_second(&self, sec: u64) -> Result<Option<u64>, Infallible> {
        Ok(self
            .txns
            .iter()
            .find(|t| t.stamp / 1000 >= sec)
            .map(|t| t.seq))
    }
}

const BIG: Limits = Limits {
    max_entries: 1000,
    max_bytes: usize::MAX,
    second_entries: usize::MAX,
    second_bytes: usize::MAX,
};
const T0: u64 = 1_700_000_000_000;

fn page_of(plan: Plan) -> Page {
    match plan {
        Plan::Page(p) => p,
        other => panic!("expected a page, got {other:?}"),
    }
}

fn shown(p: &Page) -> Vec<(u64, &str, Action)> {
    p.entries
        .iter()
        .map(|e| (e.seq, e.id.as_str(), e.action))
        .collect()
}

mod cost;
mod frontier;

#[test]
fn at_head_is_not_modified_with_the_held_position() {
    let mut log = Mem::new();
    log.push("a", Action::Add, T0);
    log.push("b", Action::Add, T0);
    let now = T0 + 5000;
    let at_2 = Plan::NotModified {
        position: 2,
        last_modified: T0 / 1000,
    };
    assert_eq!(plan(&log, Cursor::Seq(2), now, BIG).unwrap(), at_2);
    assert_eq!(plan(&log, Cursor::Star, now, BIG).unwrap(), at_2);
}

#[test]
fn plan_at_once_is_plan_for_polls_at_the_head_and_declines_the_rest() {
    let mut log = Mem::new();
    let empty = Mem::new();
    for (i, now) in [T0 + 400, T0 + 999, T0 + 1000, T0 + 5000]
        .into_iter()
        .enumerate()
    {
        log.push(&format!("i{i}"), Action::Add, T0 + i as u64);
        let head = log.head;
        // Open and closed seconds, an empty log, `*` and ETags at or past the head.
        for (view, cursors) in [
            (
                &log,
                vec![Cursor::Star, Cursor::Seq(head), Cursor::Seq(head + 7)],
            ),
            (&empty, vec![Cursor::Star, Cursor::Seq(0), Cursor::Seq(3)]),
        ] {
            for c in cursors {
                assert_eq!(
                    plan_at_once(view, c, now),
                    Some(plan(view, c, now, BIG).unwrap())
                );
            }
        }
        for c in [
            Cursor::Seq(head - 1),
            Cursor::CatchUp,
            Cursor::Date(T0 / 1000),
        ] {
            assert_eq!(plan_at_once(&log, c, now), None, "{c:?}");
        }
    }
}

#[test]
fn etag_delta_pages_with_limit_and_next() {
    let mut log = Mem::new();
    for i in 0..5 {
        log.push(&format!("i{i}"), Action::Add, T0 + i);
    }
    let lim = Limits {
        max_entries: 2,
        max_bytes: usize::MAX,
        ..BIG
    };
    let p = page_of(plan(&log, Cursor::Seq(1), T0, lim).unwrap());
    assert_eq!((p.after, p.last, p.more), (1, 3, true));
    assert_eq!(shown(&p), [(2, "i1", Action::Add), (3, "i2", Action::Add)]);
    let p = page_of(plan(&log, Cursor::Seq(3), T0, lim).unwrap());
    assert_eq!((p.last, p.more, p.last_stamp), (5, false, Some(T0 + 4)));
}

#[test]
fn byte_budget_still_gives_at_least_one_entry() {
    let mut log = Mem::new();
    log.push("a", Action::Add, T0);
    log.push("b", Action::Add, T0);
    let p = page_of(
        plan(
            &log,
            Cursor::Seq(0),
            T0,
            Limits {
                max_entries: 10,
                max_bytes: 1,
                ..BIG
            },
        )
        .unwrap(),
    );
    assert_eq!((p.last, p.more), (1, true));
}

#[test]
fn one_entry_per_item_with_actions_relative_to_the_position() {
    let mut log = Mem::new();
    log.push("kept", Action::Add, T0); // 1: held by the consumer at 2
    log.push("gone", Action::Add, T0); // 2
    log.push("new", Action::Add, T0); // 3
    log.push("new", Action::Update, T0); // 4  -> add, latest state
    log.push("kept", Action::Update, T0); // 5
    log.push("kept", Action::Update, T0); // 6  -> update
    log.push("gone", Action::Delete, T0); // 7  -> delete
    log.push("flash", Action::Add, T0); // 8
    log.push("flash", Action::Delete, T0); // 9  -> left out
    log.push("gone", Action::Add, T0); // 10 -> held before: update
    log.push("gone", Action::Update, T0); // 11
    let p = page_of(plan(&log, Cursor::Seq(2), T0 + 9999, BIG).unwrap());
    assert_eq!(
        shown(&p),
        [
            (4, "new", Action::Add),
            (6, "kept", Action::Update),
            (11, "gone", Action::Update)
        ]
    );
    assert_eq!(
        p.entries[0].payload.as_ref().unwrap().title.as_deref(),
        Some("new@4")
    );
    let p = page_of(plan(&log, Cursor::Seq(6), T0 + 9999, BIG).unwrap());
    assert_eq!(shown(&p), [(11, "gone", Action::Update)]);
    let p = page_of(
        plan(
            &log,
            Cursor::Seq(2),
            T0 + 9999,
            Limits {
                max_entries: 5,
                ..BIG
            },
        )
        .unwrap(),
    );
    assert_eq!(
        shown(&p),
        [
            (4, "new", Action::Add),
            (6, "kept", Action::Update),
            (7, "gone", Action::Delete)
        ]
    );
    assert!(p.entries[2].payload.is_none());
}

#[test]
fn catch_up_and_dates_stop_before_the_current_second() {
    let mut log = Mem::new();
    log.push("a", Action::Add, T0 + 100);
    log.push("b", Action::Add, T0 + 1200);
    log.push("c", Action::Add, T0 + 2500); // in the current second
    let now = T0 + 2900;
    let p = page_of(plan(&log, Cursor::CatchUp, now, BIG).unwrap());
    assert_eq!((p.after, p.last, p.more), (0, 2, false));
    // A date cursor holding second T0 gets b only.
    let p = page_of(plan(&log, Cursor::Date(T0 / 1000), now, BIG).unwrap());
    assert_eq!(shown(&p), [(2, "b", Action::Add)]);
    // Holding second T0+1: nothing visible yet, 304 at position 2.
    let d = Cursor::Date(T0 / 1000 + 1);
    let at_2 = Plan::NotModified {
        position: 2,
        last_modified: T0 / 1000 + 1,
    };
    assert_eq!(plan(&log, d, now, BIG).unwrap(), at_2);
    // A claim on the current second is cut back to what is surely held.
    let d = Cursor::Date(T0 / 1000 + 2);
    assert_eq!(plan(&log, d, now, BIG).unwrap(), at_2);
    // An ETag may reach into the current second.
    let p = page_of(plan(&log, Cursor::Seq(2), now, BIG).unwrap());
    assert_eq!(shown(&p), [(3, "c", Action::Add)]);
    // Catch-up on an empty log is an empty page, not a 304.
    let p = page_of(plan(&Mem::new(), Cursor::CatchUp, now, BIG).unwrap());
    assert_eq!((p.last, p.last_stamp, p.entries.len()), (0, None, 0));
}

#[test]
fn date_pages_end_at_second_boundaries() {
    let mut log = Mem::new();
    log.push("a", Action::Add, T0);
    log.push("b", Action::Add, T0 + 1000);
    log.push("c", Action::Add, T0 + 1001);
    log.push("d", Action::Add, T0 + 1002);
    log.push("e", Action::Add, T0 + 2000);
    let now = T0 + 10_000;
    let lim = Limits {
        max_entries: 2,
        max_bytes: usize::MAX,
        ..BIG
    };
    // a | b c d | e with limit 2: the incomplete second of b is dropped ...
    let p = page_of(plan(&log, Cursor::CatchUp, now, lim).unwrap());
    assert_eq!((p.last, p.more), (1, true));
    // ... and a page that is one incomplete second grows to the whole second.
    let p = page_of(plan(&log, Cursor::Date(T0 / 1000), now, lim).unwrap());
    assert_eq!((p.last, p.more), (4, true));
    // ETag-selected pages keep the plain limit.
    let p = page_of(plan(&log, Cursor::Seq(1), now, lim).unwrap());
    assert_eq!(p.last, 3);
}

/// Many transactions in one second, a consumer that keeps only
/// Last-Modified and polls all the while: each transaction exactly once.
#[test]
fn date_only_consumer_gets_each_transaction_exactly_once() {
    let mut log = Mem::new();
    let mut seen: Vec<u64> = vec![];
    let mut last_modified: Option<u64> = None;
    let lim = Limits {
        max_entries: 3,
        max_bytes: usize::MAX,
        ..BIG
    };
    let mut now = T0;
    for step in 0..400u64 {
        if step < 300 {
            // 20 transactions per second, in bursts
            log.push(
                &format!("i{}", step % 7),
                if step < 7 {
                    Action::Add
                } else {
                    Action::Update
                },
                now,
            );
        }
        now += 50;
        let cursor = last_modified.map_or(Cursor::CatchUp, |ms| Cursor::Date(ms / 1000));
        if let Plan::Page(p) = plan(&log, cursor, now, lim).unwrap() {
            // the consumer processes every transaction the page covers
            seen.extend(p.after + 1..=p.last);
            last_modified = Some(p.last_modified * 1000);
        }
    }
    assert_eq!(seen, (1..=300).collect::<Vec<_>>());
}
