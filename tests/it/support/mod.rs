//! The harness the integration tests share.
//!
//! - `app`: [`TestApp`], a gateway started in-process on 127.0.0.1:0 over a
//!   temporary data dir, through one builder (config TOML, clock, address,
//!   data dir).
//! - `client`: [`Client`], ordinary HTTP requests to a gateway; `resp`:
//!   [`Resp`], the response the tests assert on.
//! - `raw`: byte-for-byte exchanges over TCP, where the wire is the point.
//! - `feed`: [`Feed`], a feed document read back with a strict XML parser.
//! - `binary`: the real `feedgate` binary as a child process.
//! - `origin` and `upstream_kit`: a scriptable upstream origin and the
//!   helpers of upstream tests.
//! - `subscriber`: a WebSub subscriber that records what the hub sends.
//! - `log`: `TEST_LOG=1 cargo test --test it NAME` shows the servers' logs
//!   for a failing test (filtered by `RUST_LOG`, default `feedgate=debug`).

mod app;
pub mod binary;
mod client;
mod feed;
mod log;
pub mod origin;
pub mod raw;
mod resp;
pub mod subscriber;
pub mod upstream_kit;

pub use app::TestApp;
pub use client::{enc, Client};
pub use feed::{Feed, FeedEntry, NS_ATOM, NS_SYNC};
pub use resp::Resp;
