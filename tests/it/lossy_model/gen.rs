//! What a case is made of (steps, writes, polls, delays) and how proptest
//! draws them.

use super::{DEFAULT_CAP, IDS};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
pub enum Loss {
    None,
    /// The request was served; the response never arrived.
    Drop,
    /// The page was applied, the process died before storing its cursor.
    CrashBeforeStore,
}

/// One producer request.
#[derive(Debug, Clone)]
pub enum Write {
    /// A new payload (add or update).
    Put(usize),
    /// The current payload again (unchanged: nothing appended).
    Same(usize),
    Delete(usize),
    /// (id, delete?) in order, atomically.
    Batch(Vec<(usize, bool)>),
}

#[derive(Debug, Clone, Copy)]
pub struct Poll {
    pub consumer: usize,
    pub query: bool,
    pub atom: bool,
    pub limit: Option<u64>,
    pub loss: Loss,
}

/// When a request of a concurrent step starts.
#[derive(Debug, Clone, Copy)]
pub enum Delay {
    /// After this many turns of the runtime.
    Yields(u8),
    /// Once the store holds a written transaction that is not visible yet
    /// (being made durable), or after a few hundred turns.
    UntilWritten,
    /// This many turns after the step's clock move (at once without one).
    AfterTick(u8),
}

#[derive(Debug, Clone)]
pub enum Step {
    Write(Write),
    /// Move the clock on by this many ms.
    Tick(u64),
    Poll(Poll),
    /// Writes on distinct items, at most one poll per consumer and maybe a
    /// clock move, all in flight together, each starting after its delay. A
    /// PUT with `Some(n)` hangs up if it has no answer after `n` turns (0:
    /// before its last byte), and sends the same request again.
    Together {
        writes: Vec<(Write, Delay, Option<u8>)>,
        polls: Vec<(Poll, Delay)>,
        tick: Option<(u64, Delay)>,
    },
}

fn loss() -> impl Strategy<Value = Loss> {
    prop_oneof![6 => Just(Loss::None), 1 => Just(Loss::Drop), 1 => Just(Loss::CrashBeforeStore)]
}

fn poll(consumer: usize) -> impl Strategy<Value = Poll> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::option::of(1..4u64),
        loss(),
    )
        .prop_map(move |(query, atom, limit, loss)| Poll {
            consumer,
            query,
            atom,
            limit,
            loss,
        })
}

fn batch(ids: impl Strategy<Value = usize>) -> impl Strategy<Value = Vec<(usize, bool)>> {
    prop::collection::vec((ids, prop::bool::weighted(0.3)), 1..5)
}

fn write() -> impl Strategy<Value = Write> {
    let id = 0..IDS.len();
    prop_oneof![
        5 => id.clone().prop_map(Write::Put),
        1 => id.clone().prop_map(Write::Same),
        2 => id.clone().prop_map(Write::Delete),
        2 => batch(id).prop_map(Write::Batch),
    ]
}

fn delay() -> impl Strategy<Value = Delay> {
    prop_oneof![
        3 => (0..40u8).prop_map(Delay::Yields),
        1 => Just(Delay::UntilWritten),
        3 => (0..6u8).prop_map(Delay::AfterTick),
    ]
}

/// Writes of a concurrent step touch distinct items, so each one's outcome
/// does not depend on the order the server applies them in: `Write`s over
/// slots (a batch uses two), mapped onto a shuffle of the ids.
fn together() -> impl Strategy<Value = Step> {
    let shape = write().prop_map(|w| match w {
        Write::Batch(ops) => Write::Batch(ops.into_iter().map(|(i, d)| (i % 2, d)).collect()),
        other => other,
    });
    let polls = [poll(0), poll(1), poll(2)].map(|p| prop::option::of((p, delay())));
    let tick = prop_oneof![1..1000u64, 1000..2000u64];
    (
        Just((0..IDS.len()).collect::<Vec<_>>()).prop_shuffle(),
        prop::collection::vec((shape, delay(), prop::option::weighted(0.3, 0..30u8)), 1..4),
        polls,
        prop::option::weighted(0.7, (tick, delay())),
    )
        .prop_map(|(ids, shapes, polls, tick)| {
            let mut next = 0;
            let mut writes = vec![];
            for (w, d, hang_up) in shapes {
                // Only a PUT is sent again as it is (see `together.rs`).
                let hang_up = hang_up.filter(|_| matches!(w, Write::Put(_) | Write::Same(_)));
                let need = if matches!(w, Write::Batch(_)) { 2 } else { 1 };
                if next + need > ids.len() {
                    break;
                }
                let id = |slot: usize| ids[next + slot];
                writes.push((
                    match w {
                        Write::Put(_) => Write::Put(id(0)),
                        Write::Same(_) => Write::Same(id(0)),
                        Write::Delete(_) => Write::Delete(id(0)),
                        Write::Batch(ops) => {
                            Write::Batch(ops.into_iter().map(|(s, d)| (id(s), d)).collect())
                        }
                    },
                    d,
                    hang_up,
                ));
                next += need;
            }
            Step::Together {
                writes,
                polls: polls.into_iter().flatten().collect(),
                tick,
            }
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => write().prop_map(Step::Write),
        3 => prop_oneof![Just(0u64), 1..1000u64, 1000..2500u64].prop_map(Step::Tick),
        8 => (0..3usize).prop_flat_map(poll).prop_map(Step::Poll),
        2 => together(),
    ]
}

/// A case: the server's cap on a date-selected page's second (the default,
/// or one that small seconds exceed), and the steps.
pub fn case() -> impl Strategy<Value = (usize, Vec<Step>)> {
    (
        prop_oneof![Just(DEFAULT_CAP), 2..7usize],
        prop::collection::vec(step(), 1..60),
    )
}
