//! The WebSub hub (W3C Recommendation; PROTOCOL §9).

mod config;

pub use config::WebSubConfig;
