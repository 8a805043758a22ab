//! The storage conformance suite: what every backend must do, written once
//! over the [`Backend`] and [`Log`] traits and run for each backend. A new
//! backend runs it by adding its opener to [`suite!`]'s invocation at the end.
//! The PostgreSQL run opens a fresh database of a throw-away server per
//! store (`postgres::testing`), and is skipped, visibly, on a machine
//! without PostgreSQL.
//!
//! - `log.rs`: appends (actions, gap-free seqs, atomic batches, stamps and
//!   the seconds index), reads under concurrent writers;
//! - `compaction.rs`: retention, the dropped mark, and that every consumer
//!   position converges after compaction;
//! - `records.rs`: item states, upstream state, consumer records.

pub(crate) mod compaction;
mod log;
mod records;

use super::{Backend, Op};
use crate::clock::Clock;
use crate::model::Payload;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A store being opened.
pub(crate) type Opening = Pin<Box<dyn Future<Output = Arc<dyn Backend>> + Send>>;

/// Opens a fresh, empty store with a log for each of the feeds.
pub(crate) type Open = fn(&[String], Arc<dyn Clock>) -> Opening;

/// A PUT of an item with just a title.
pub(crate) fn put(id: &str, title: &str) -> Op {
    Op::Put {
        id: id.into(),
        payload: Payload {
            title: Some(title.into()),
            ..Payload::default()
        },
    }
}

pub(crate) fn del(id: &str) -> Op {
    Op::Delete { id: id.into() }
}

/// The feeds of every suite store.
pub(crate) fn feeds() -> Vec<String> {
    vec!["news".into(), "other".into()]
}

fn embedded(feeds: &[String], clock: Arc<dyn Clock>) -> Opening {
    let store: Arc<dyn Backend> = match super::embedded::Embedded::temporary(feeds, clock) {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("cannot open a temporary sled store: {e}"),
    };
    Box::pin(std::future::ready(store))
}

fn memory(feeds: &[String], clock: Arc<dyn Clock>) -> Opening {
    let store: Arc<dyn Backend> = Arc::new(super::memory::Memory::new(feeds, clock));
    Box::pin(std::future::ready(store))
}

fn postgres(feeds: &[String], clock: Arc<dyn Clock>) -> Opening {
    let feeds = feeds.to_vec();
    Box::pin(async move {
        let server = super::postgres::testing::server().expect("skipped without PostgreSQL");
        let url = server.database().await;
        match super::postgres::Postgres::open(&url, &feeds, clock).await {
            Ok(store) => Arc::new(store) as Arc<dyn Backend>,
            Err(e) => panic!("cannot open a PostgreSQL store at {url}: {e}"),
        }
    })
}

/// Whether `backend` cannot run here (PostgreSQL without its binaries).
fn skipped(backend: &str) -> bool {
    backend == "postgres" && super::postgres::testing::server().is_none()
}

/// For each backend, a module with one test per suite function.
macro_rules! suite {
    ([$($backend:ident),+] $tests:tt) => {
        $( suite!(@one $backend $tests); )+
    };
    (@one $backend:ident [$($module:ident :: $test:ident),+ $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    if super::skipped(stringify!($backend)) {
                        return;
                    }
                    super::$module::$test(super::$backend).await
                }
            )+
        }
    };
}

suite!([embedded, memory, postgres] [
    log::actions_and_gap_free_seqs,
    log::a_replace_applies_only_over_the_state_it_read,
    log::batches_are_atomic_and_rejected_ones_leave_no_trace,
    log::stamps_never_go_back_and_seconds_are_indexed,
    log::concurrent_producers_and_a_polling_consumer,
    log::scans_honour_limits_and_ranges,
    compaction::superseded_states_go_and_every_left_behind_consumer_converges,
    compaction::random_workloads_with_tombstone_drops_converge_from_every_position,
    compaction::dropped_tombstones_send_older_positions_to_a_catch_up,
    compaction::steps_are_bounded_and_nothing_happens_without_a_policy,
    records::items_are_the_current_states_in_id_order,
    records::upstream_state_is_kept_per_feed,
    records::consumer_records_are_replaced_and_removed,
    records::hub_records_are_written_replaced_and_removed,
]);
