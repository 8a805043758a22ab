//! feedgate: transaction feeds (RSS 2.0 / Atom 1.0) over conditional GET.

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
pub mod cursor;
pub mod error;
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
pub mod upstream;
