//! feedgate: transaction feeds (RSS 2.0 / Atom 1.0) over conditional GET.
//!
//! # The modules
//!
//! | module | owns |
//! |---|---|
//! | [`model`] | items, payloads, transactions, entries; name and id rules |
//! | [`cursor`] | reading validators (ETag lists, dates, `lastMod`) and choosing the cursor |
//! | [`protocol`] | 304 or page, page bounds, one entry per item, Last-Modified, and the read outcome the edge writes out: pure |
//! | [`store`] | the storage boundary ([`store::Log`], [`store::Backend`]) and its backends: `embedded` (sled, the default), `postgres` (shared by several processes) and `memory`; the conformance suite they all run |
//! | [`feed`] | the feed registry: one [`feed::Feed`] per configured feed (log, presentation, ready-made answers, metric series, upstream) |
//! | [`render`] | RSS 2.0 and Atom 1.0 documents, always well-formed XML |
//! | [`ingest`] | push API JSON into validated operations, and the memory budget of writes |
//! | [`auth`] | credentials (hashed, constant-time), per-feed roles |
//! | [`http`] | the edge: one routing table, thin handlers (reads, long-poll, event streams, push API, hub), problem+json ([`error`]) |
//! | [`server`] | accept loop, connection cap and load shedding, timeouts, graceful shutdown |
//! | [`upstream`] | feeds derived from an origin: sync scheduling, client, sources, diff |
//! | [`consumers`] | each consumer's last position and lag, persisted through the store |
//! | [`metrics`] | `/metrics`: the Prometheus registry and the series handles |
//! | [`waiting`] | the waiting room of long-polls and event streams: `max_waiting`, connection slots given back, shutdown |
//! | [`websub`] | the WebSub hub: verification of intent, stored subscriptions, one delivering process, deliveries |
//! | [`background`] | compaction passes beside the server |
//! | [`config`], [`app`], [`clock`], [`cli`] | configuration, the application state, time, offline commands and `healthcheck` |
//! | [`telemetry`], [`datadir`] | the log (text or JSON, the access log's target); the data dir's write probe and the cleanup of a failed start |
//!
//! # How a poll flows
//!
//! 1. [`server`] accepts the connection and hands each request to
//!    [`http::serve`], which looks the path up in the routing table and
//!    authorizes it ([`auth`]).
//! 2. The read handler finds the feed with [`app::App::feed`], reads the
//!    request's validators into a [`cursor::Cursor`], and answers from the
//!    feed's ready-made 304 or page ([`feed::cache`]) when it can.
//! 3. Otherwise [`protocol::plan`] decides 304 or page over the feed's
//!    [`store::Log`] (it reads only through [`protocol::LogView`]: a bounded
//!    scan and index probes), and `protocol` turns the plan into the read
//!    outcome: positions, dates, sync mode, what caches may keep.
//! 4. The handler renders the page ([`render`]), writes the headers the
//!    outcome names, records the poll ([`consumers`], [`metrics`]) and
//!    returns the response.
//!
//! A write takes the same way in, is parsed by [`ingest`], and is appended
//! through [`feed::Feed::append`]: the store acknowledges it once durable,
//! and it becomes visible to readers in seq order.

// The library serves requests: it must not abort on a bad input or write to
// the terminal (it logs through `tracing`). Tests may unwrap and panic.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::panic,
        clippy::print_stdout,
        clippy::print_stderr
    )
)]

pub mod app;
pub mod auth;
pub mod background;
pub mod cli;
pub mod clock;
mod codec;
pub mod config;
pub mod consumers;
pub mod content;
pub mod cursor;
pub mod datadir;
pub mod error;
pub mod feed;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod protocol;
pub mod render;
pub mod server;
pub mod setting;
pub mod store;
mod sync;
pub mod telemetry;
pub mod upstream;
pub mod waiting;
pub mod websub;
