//! feedgate's integration tests, one binary: each module is one area of the
//! gateway, tested through HTTP against a server started in-process or the
//! real `feedgate` binary; `support` holds the harness they share.

mod support;

mod access_log;
mod auth;
mod bad_input;
mod cache_control;
mod cli;
mod client_dates;
mod compression;
mod consumers;
mod content;
mod content_mirror;
mod cursors;
mod documents;
mod durability;
mod hardening;
mod im_feed;
mod lifecycle;
mod long_poll;
mod lossy_model;
mod metrics;
mod migrate;
mod read;
mod read_cache;
mod read_caching;
mod retention;
mod second_cap;
mod sse;
mod status_page;
mod upstream;
mod upstream_replica;
mod upstream_sync;
mod validity;
mod websub;
mod write;
