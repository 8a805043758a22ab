//! The HTTP/1.1 server: accept loop with a connection cap, per-connection
//! hyper service with a header-read timeout (one re-armed timer per
//! connection, `timer`), problem documents for hyper's own error answers
//! (`io`), and graceful shutdown that drains in-flight requests within the
//! grace period and flushes the store. Beside it, consumer records are
//! persisted every [`PERSIST_EVERY`] and once more after the drain, before
//! the final flush.
//!
//! At `max_connections` the gateway keeps accepting and sheds load it can
//! see: the connection idle for longest is closed to make room (`conns`),
//! and when none is idle the newcomer is answered `503 overloaded` with
//! `Retry-After`, except `/healthz` and `/readyz`, which are answered as
//! usual (`overload`). Such answers use a reserve of connections beyond the
//! cap; past it a connection is closed unanswered. Both are counted in
//! `/metrics` and logged (at most once a second).

mod conns;
mod io;
mod linger;
mod overload;
mod timer;

use crate::app::App;
use crate::http::{self, Reply};
use crate::waiting::Slot;
use conns::{Conn, Conns, Registered};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use timer::ConnTimer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How often consumer records (`/feeds/{feed}/consumers`) are written to the store.
pub const PERSIST_EVERY: Duration = Duration::from_secs(5);

/// Serve `app` on `listener` until `shutdown` resolves, then drain and flush.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), crate::store::StoreError> {
    let (stop_background, stopped) = tokio::sync::watch::channel(false);
    let mut background = crate::content::Mirror::start(&app, &stopped);
    background.extend(crate::background::spawn(&app, stopped));
    background.extend(crate::websub::Hub::start(&app));
    let conns = Arc::new(Conns::default());
    conns.start_clock();
    let slots = Arc::new(Semaphore::new(app.config().max_connections));
    let reserve = Arc::new(Semaphore::new(overload::reserve(
        app.config().max_connections,
    )));
    let mut builder = http1::Builder::new();
    // The timer that header_read_timeout needs is set per connection, below.
    builder
        .header_read_timeout(app.config().header_read_timeout)
        .max_buf_size(64 * 1024)
        // The head limit itself: without it a head up to one read past
        // `max_buf_size` (~100 KiB) gets through, depending on how it arrives.
        .max_header_size(64 * 1024);
    let (stop_persisting, stopped) = tokio::sync::oneshot::channel::<()>();
    let persister = tokio::spawn(persist_consumers(app.clone(), stopped));
    tokio::pin!(shutdown);
    loop {
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
        let conn = Connection {
            app: app.clone(),
            stream,
            builder: builder.clone(),
        };
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            tokio::spawn(conn.serve(conns.register(true), slots.clone(), permit));
        } else if let Ok(extra) = reserve.clone().try_acquire_owned() {
            tokio::spawn(overload::over_cap(
                conn,
                conns.clone(),
                slots.clone(),
                extra,
            ));
        } else {
            overload::drop_unanswered(&app, peer);
        }
    }
    drop(listener);
    // Long-polls are answered and event streams end now (PROTOCOL §9).
    app.waiting().stop();
    tracing::info!(
        connections = conns.len(),
        "shutting down: draining connections"
    );
    conns.close_all();
    let grace = app.config().shutdown_grace;
    tokio::select! {
        () = conns.drained() => tracing::info!("all connections closed"),
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
    app.store().flush().await?;
    tracing::info!("store flushed; bye");
    Ok(())
}

/// An accepted connection, before it is served.
struct Connection {
    app: Arc<App>,
    stream: TcpStream,
    builder: http1::Builder,
}

impl Connection {
    /// Serve the connection in one of the `max_connections` slots (which
    /// it gives back while a request waits: `crate::waiting`).
    async fn serve(
        self,
        registered: Registered,
        slots: Arc<Semaphore>,
        permit: OwnedSemaphorePermit,
    ) {
        let conn = registered.conn.clone();
        let app = self.app.clone();
        let peer = self.stream.peer_addr().ok();
        let service = service_fn(move |req| track(&conn, http::serve(&app, req, peer)));
        let stream = Slot::new(slots, permit)
            .scope(self.run(&registered, service))
            .await;
        // Neither a slot nor the shutdown's drain waits for the lingering.
        drop(registered);
        linger::close(stream).await;
    }

    /// Run hyper on the connection with `service` until it ends, or until
    /// it is asked to close (then gracefully: a request in progress is
    /// answered first). The socket comes back to be closed (`linger`).
    async fn run<S>(self, registered: &Registered, service: S) -> io::ProblemIo<TcpStream>
    where
        S: hyper::service::Service<
                hyper::Request<hyper::body::Incoming>,
                Response = http::Res,
                Error = std::convert::Infallible,
            > + 'static,
        S: Unpin,
        S::Future: Send + Unpin + 'static,
    {
        let Connection {
            stream,
            mut builder,
            ..
        } = self;
        let peer = stream.peer_addr().ok();
        // Each connection re-arms one timer of its own (see `timer`).
        builder.timer(ConnTimer::default());
        let io = TokioIo::new(io::ProblemIo::new(stream));
        let mut conn = builder.serve_connection(io, service);
        let closing = registered.conn.closing();
        tokio::pin!(closing);
        // Without hyper's own shutdown of the socket: `linger` closes it.
        let ended = tokio::select! {
            biased;
            r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => r,
            () = &mut closing => {
                std::pin::Pin::new(&mut conn).graceful_shutdown();
                std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)).await
            }
        };
        if let Err(e) = ended {
            tracing::debug!(?peer, error = %e, "connection ended with an error");
        }
        conn.into_parts().io.into_inner()
    }
}

/// Keep the connection's activity up to date around an answer: idle once
/// answered at once, busy while a waiting answer is pending.
fn track(conn: &Arc<Conn>, reply: Reply) -> Reply {
    match reply {
        Reply::Now(res) => {
            conn.touch();
            Reply::Now(res)
        }
        Reply::Later(answer) => {
            conn.busy();
            let idle = Idle(conn.clone());
            Reply::Later(Box::pin(async move {
                let _idle = idle;
                answer.await
            }))
        }
    }
}

/// Marks its connection idle when dropped (answered, or abandoned).
struct Idle(Arc<Conn>);

impl Drop for Idle {
    fn drop(&mut self) {
        self.0.touch();
    }
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
    match app.consumers().persist(app.store()).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(records = n, "consumer records persisted"),
        Err(e) => tracing::warn!(error = %e, "cannot persist consumer records"),
    }
}

/// Resolves on the first SIGTERM, SIGINT (Ctrl-C) or SIGHUP: a graceful
/// shutdown (feedgate does not reload its configuration, so SIGHUP, which
/// a closed terminal or a supervisor's reload sends, stops it cleanly
/// instead of killing it). A second signal during the shutdown calls
/// `on_second` (the binary exits at once, with code 1, without waiting for
/// requests or the flush: the library never exits the process). The
/// handlers are installed by this call, not when the future is first
/// polled: a signal that arrives once the server says it is listening
/// ends it gracefully.
pub fn shutdown_signal(
    on_second: impl FnOnce() + Send + 'static,
) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut signals = {
        use tokio::signal::unix::{signal, SignalKind};
        [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
        ]
        .map(|(kind, name)| (signal(kind).ok(), name))
    };
    async move {
        #[cfg(unix)]
        {
            match next_signal(&mut signals).await {
                "SIGHUP" => tracing::warn!(
                    "SIGHUP received: feedgate does not reload its configuration; shutting down \
                     gracefully (start it again to apply a changed configuration)"
                ),
                name => tracing::info!("{name} received"),
            }
            tokio::spawn(async move {
                let name = next_signal(&mut signals).await;
                tracing::warn!(
                    signal = name,
                    "second signal: exiting now, without draining connections or flushing"
                );
                on_second();
            });
        }
        #[cfg(not(unix))]
        {
            let _ = on_second;
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("Ctrl-C received");
            } else {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The name of the next of `signals` to arrive.
#[cfg(unix)]
async fn next_signal(
    signals: &mut [(Option<tokio::signal::unix::Signal>, &'static str); 3],
) -> &'static str {
    async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    let [(a, an), (b, bn), (c, cn)] = signals;
    tokio::select! {
        () = one(a) => an,
        () = one(b) => bn,
        () = one(c) => cn,
    }
}
