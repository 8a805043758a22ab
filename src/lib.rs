//! feedgate: transaction feeds (RSS 2.0 / Atom 1.0) over conditional GET.

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
