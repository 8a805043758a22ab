//! `TEST_LOG`: with it set, the server's logs go to the test output (shown
//! for a failing test, or for all with `--nocapture`), filtered by
//! `RUST_LOG` (default `feedgate=debug`). Without it, nothing is installed
//! and the servers log nowhere.

use std::sync::Once;
use tracing_subscriber::EnvFilter;

/// Whether `TEST_LOG` asks for the servers' logs.
pub fn enabled() -> bool {
    std::env::var_os("TEST_LOG").is_some()
}

/// Install the subscriber, once per test binary, if `TEST_LOG` is set.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if !enabled() {
            return;
        }
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("feedgate=debug"));
        // A test that installs a subscriber of its own keeps it: ignore the error.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
