//! Lingering close: how a connection that hyper has finished with is closed.
//!
//! An answer given before the request body was read (`413` for a declared
//! length over `max_body_bytes`, a `401` to a write, hyper's own `400` and
//! `431`) ends the connection with the client's bytes still arriving. Closing
//! a socket with unread input makes the kernel send a reset, and a reset
//! that reaches the client before it has read the answer destroys the
//! answer in the client's receive buffer: the client sees "connection reset"
//! instead of the `413` (seen in CI with a 2 MB batch). So, as nginx does
//! (`lingering_close`), the write side is shut first (the answer is followed
//! by a FIN) and the input is read and discarded until the client closes,
//! for at most [`LINGER_TIME`] and [`LINGER_BYTES`]; only then is the socket
//! closed. A client that closed first costs one read that returns at once.

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest a closed connection's input is drained.
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// The most input drained from one closed connection.
pub const LINGER_BYTES: usize = 16 << 20;

/// Shut the write side of `stream` (after what it still holds to write),
/// drain its input within the bounds, then close it.
pub async fn close<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    // Past the bounds the socket is closed as it is (a reset, at worst).
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}
