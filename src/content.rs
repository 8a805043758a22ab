//! Content mirroring, the second phase of a sync (issue 18): the files
//! items point to (enclosures) fetched in the background, kept by their
//! SHA-256, and served by feedgate (`GET /content/{sha256}`).
//!
//! `config` is `[feeds.NAME.content]`; `store` owns the files on disk;
//! `fetch` is one download attempt; `mirror` follows the feeds' logs and
//! runs the downloads; `rewrite` is what mirroring does to an item.

pub mod config;
pub mod fetch;
pub mod mirror;
pub mod rewrite;
pub mod store;

pub use mirror::Mirror;

pub use config::ContentConfig;

pub use store::{is_sha256, ContentError, ContentStore, Meta, Object};
