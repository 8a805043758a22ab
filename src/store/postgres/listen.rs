//! How a process keeps its views of the feeds' rows (`view.rs`) current
//! without a query per read:
//!
//! - **Notifications.** One connection per process listens on the channel
//!   `feedgate`; every append and compaction step sends the feed's new row
//!   with its commit (`NOTIFY` is delivered after the commit, in commit
//!   order), so every process learns a new head within a round trip and a
//!   304 at the head costs no query. When that connection drops, the
//!   process says so in its log, re-reads every feed's row on each tick
//!   (a bounded re-read, [`TICK`]) and reconnects with a growing pause; once
//!   listening again it re-reads every row, since notifications sent
//!   meanwhile are lost.
//! - **Closing seconds.** Readers close the seconds before the instant the
//!   row's `seen` holds (the frontier, `view.rs`); writers stamp at or
//!   after it. When a reader asks for a later second than the view has
//!   closed, and every [`TICK`] while a feed is read, the refresher moves
//!   `seen` forward to that instant (an `UPDATE` that waits for an append in
//!   flight, so a write stamped earlier is committed before `seen` moves)
//!   and reads the row back. It writes only when `seen` enters a later
//!   second, and only one process per second finds it behind, so a read
//!   feed costs about one row update per second, and an idle one nothing.

use super::view::{db, Snapshot, COLUMNS};
use super::{Shared, StoreError};
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// The refresher's period.
pub(super) const TICK: Duration = Duration::from_millis(250);

/// The notification channel.
pub(super) const CHANNEL: &str = "feedgate";

/// What the connection's driver reports.
enum Event {
    Notice(String),
    Closed(Option<tokio_postgres::Error>),
}

/// A listening connection: its client (the connection lives while it does)
/// and the notifications it receives.
pub(super) struct Listener {
    _client: Client,
    events: mpsc::UnboundedReceiver<Event>,
}

/// Connect and `LISTEN`.
pub(super) async fn listen(config: &tokio_postgres::Config) -> Result<Listener, StoreError> {
    let (client, mut conn) = config.connect(NoTls).await?;
    let (tx, events) = mpsc::unbounded_channel();
    // The connection is driven here; it ends when the client is dropped.
    tokio::spawn(async move {
        loop {
            let event = match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => Event::Notice(n.payload().to_string()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => Event::Closed(Some(e)),
                None => Event::Closed(None),
            };
            let closed = matches!(event, Event::Closed(_));
            if tx.send(event).is_err() || closed {
                return;
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok(Listener {
        _client: client,
        events,
    })
}

/// Take notifications into the views until the connection drops; then
/// reconnect. Ends when the store is gone.
pub(super) async fn run_listener(shared: Weak<Shared>, mut listener: Listener) {
    let mut pause = Duration::from_millis(100);
    loop {
        let why = loop {
            match listener.events.recv().await {
                Some(Event::Notice(payload)) => {
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    match Snapshot::from_notice(&payload) {
                        Some((feed, s)) => {
                            if let Some(log) = shared.by_id.get(&feed) {
                                log.view.apply(&s);
                            }
                        }
                        None => tracing::warn!(%payload, "unreadable notification ignored"),
                    }
                }
                Some(Event::Closed(e)) => break e.map_or("closed".to_string(), |e| e.to_string()),
                None => break "closed".to_string(),
            }
        };
        let Some(config) = shared.upgrade().map(|s| {
            s.listening.store(false, Ordering::SeqCst);
            s.config.clone()
        }) else {
            return;
        };
        tracing::warn!(
            error = %why,
            "lost the PostgreSQL notification connection: re-reading every feed's head each {} ms until it is back",
            TICK.as_millis()
        );
        listener = loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(10));
            match listen(&config).await {
                Ok(l) => break l,
                Err(e) => tracing::warn!(error = %e, "cannot listen for notifications yet"),
            }
            if shared.strong_count() == 0 {
                return;
            }
        };
        pause = Duration::from_millis(100);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.listening.store(true, Ordering::SeqCst);
        // What was notified while nobody listened.
        if let Err(e) = shared.refresh(true).await {
            tracing::warn!(error = %e, "cannot re-read the feeds' heads");
        }
        tracing::info!("listening for PostgreSQL notifications again");
    }
}

/// Move `seen` forward where readers want it, and re-read the rows when
/// not listening: on every tick and whenever a reader wakes it.
pub(super) async fn run_refresher(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        let Some(wake) = shared.upgrade().map(|s| s.wake.clone()) else {
            return;
        };
        tokio::select! {
            _ = tick.tick() => {}
            _ = wake.notified() => {}
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let all = !shared.listening.load(Ordering::SeqCst);
        match shared.refresh(all).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("reading the feeds' rows again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot refresh the feeds' rows (retrying every tick)");
            }
            Err(_) => {}
        }
    }
}

impl Shared {
    /// Move `seen` of each feed whose readers want a later second closed,
    /// then read those rows (every row with `all`) into the views.
    pub(super) async fn refresh(&self, all: bool) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let mut bump = Vec::new();
        let mut read = Vec::new();
        for log in self.by_id.values() {
            let wanted = log.view.wanted(now);
            if let Some(at) = wanted {
                bump.push((log.id, at));
            }
            if all || wanted.is_some() {
                read.push(log.id);
            }
        }
        if read.is_empty() {
            return Ok(());
        }
        let conn = self.pool.get().await?;
        // One row per statement: no two statements ever wait for each
        // other's rows, whatever order other processes bump theirs in.
        for (id, at) in bump {
            conn.execute(
                "UPDATE feedgate_feeds SET seen = $2::bigint WHERE id = $1 AND seen / 1000 < $2::bigint / 1000",
                &[&id, &db(at)],
            )
            .await?;
        }
        let sql = format!("SELECT id, {COLUMNS} FROM feedgate_feeds WHERE id = ANY($1)");
        for row in conn.query(&sql, &[&read]).await? {
            let id: i32 = row.try_get(0)?;
            if let Some(log) = self.by_id.get(&id) {
                log.view.apply(&Snapshot::from_row(&row, 1)?);
            }
        }
        Ok(())
    }
}
