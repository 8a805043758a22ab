//! The HTTP/1.1 server: accept loop with a connection cap, per-connection
//! hyper service with a header-read timeout (one re-armed timer per
//! connection, `timer`), and graceful shutdown that
//! drains in-flight requests within the grace period and flushes the store.
//! Beside it, consumer records are persisted every [`PERSIST_EVERY`] and once
//! more after the drain, before the final flush.

mod timer;

use crate::app::App;
use crate::http;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use timer::ConnTimer;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How often consumer records (`/feeds/{feed}/consumers`) are written to the store.
pub const PERSIST_EVERY: Duration = Duration::from_secs(5);

/// Serve `app` on `listener` until `shutdown` resolves, then drain and flush.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), crate::store::StoreError> {
    let (stop_background, stopped) = tokio::sync::watch::channel(false);
    let background = crate::background::spawn(&app, stopped);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(app.config.max_connections));
    let mut builder = http1::Builder::new();
    // The timer that header_read_timeout needs is set per connection, below.
    builder
        .header_read_timeout(app.config.header_read_timeout)
        .max_buf_size(64 * 1024)
        // The head limit itself: without it a head up to one read past
        // `max_buf_size` (~100 KiB) gets through, depending on how it arrives.
        .max_header_size(64 * 1024);
    let (stop_persisting, stopped) = tokio::sync::oneshot::channel::<()>();
    let persister = tokio::spawn(persist_consumers(app.clone(), stopped));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning or exiting.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |req| http::serve(&app, req));
        // Each connection re-arms one timer of its own (see `timer`).
        let mut conn_builder = builder.clone();
        conn_builder.timer(ConnTimer::default());
        let conn = graceful.watch(conn_builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "shutting down: draining connections"
    );
    let grace = app.config.shutdown_grace;
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!(?grace, "grace period over; closing remaining connections"),
    }
    let _ = stop_persisting.send(());
    if let Err(e) = persister.await {
        tracing::warn!(error = %e, "consumer persister failed");
    }
    let _ = stop_background.send(true);
    for task in background {
        let _ = task.await;
    }
    app.store.flush().await?;
    tracing::info!("store flushed; bye");
    Ok(())
}

/// Persist consumer records every [`PERSIST_EVERY`] until `stop`, then once more.
async fn persist_consumers(app: Arc<App>, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut tick = tokio::time::interval(PERSIST_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => break,
        }
        persist_once(&app).await;
    }
    persist_once(&app).await;
}

async fn persist_once(app: &Arc<App>) {
    let app = app.clone();
    match tokio::task::spawn_blocking(move || app.consumers.persist()).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::debug!(records = n, "consumer records persisted"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot persist consumer records"),
        Err(e) => tracing::warn!(error = %e, "consumer persist task failed"),
    }
}

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
