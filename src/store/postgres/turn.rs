//! Whose turn it is to sync an upstream feed: the process that holds the
//! feed's session-level advisory lock (`pg_try_advisory_lock(class, feed
//! id)`) on a connection kept for the sync, from a pool of its own (one
//! connection per feed at most, opened on a feed's first sync and kept:
//! syncs holding turns never take the connections their own reads and
//! writes need from the main pool). A process that does not get it does
//! not wait: another process is fetching, and its writes reach this one by
//! notification.
//!
//! The turn is given back when its guard drops: `pg_advisory_unlock` on
//! the same connection (in a task, since a drop cannot wait), which then
//! returns to the pool; a connection whose unlock fails, or a drop outside
//! a runtime, is closed instead, and its session's locks go with it. A
//! process that dies mid-sync loses its connections and so its turn.
//!
//! The WebSub hub's turn (one process delivers at a time) is the same kind
//! of lock, of a class of its own, on one more connection of that pool.

use super::log::PgLog;
use super::StoreError;
use crate::store::SyncTurn;
use deadpool_postgres::Pool;

/// The first key of every sync lock (`"fgsy"`), so that other users of
/// advisory locks on the database cannot collide with feed ids.
const SYNC_CLASS: i32 = 0x6667_7379;
/// The first key of the WebSub hub's lock (`"fghb"`): one process
/// delivers for the hub at a time (`Backend::hub_turn`).
const HUB_CLASS: i32 = 0x6667_6862;

impl PgLog {
    pub(super) async fn take_sync_turn(&self) -> Result<Option<SyncTurn>, StoreError> {
        take_turn(&self.turns, SYNC_CLASS, self.id).await
    }
}

/// The WebSub hub's turn, from the `turns` pool.
pub(super) async fn take_hub_turn(turns: &Pool) -> Result<Option<SyncTurn>, StoreError> {
    take_turn(turns, HUB_CLASS, 0).await
}

/// The advisory lock (`class`, `key`) on a connection of `turns`, held
/// until the returned turn drops; `None` while another session holds it.
async fn take_turn(turns: &Pool, class: i32, key: i32) -> Result<Option<SyncTurn>, StoreError> {
    let conn = turns.get().await?;
    let row = conn
        .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&class, &key])
        .await?;
    if !row.try_get::<_, bool>(0)? {
        return Ok(None);
    }
    Ok(Some(SyncTurn::holding(Held {
        conn: Some(conn),
        class,
        key,
    })))
}

/// The connection that holds a lock.
struct Held {
    conn: Option<deadpool_postgres::Object>,
    class: i32,
    key: i32,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let (class, key) = (self.class, self.key);
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            drop(deadpool_postgres::Object::take(conn));
            return;
        };
        rt.spawn(async move {
            let unlocked = conn
                .query_one("SELECT pg_advisory_unlock($1, $2)", &[&class, &key])
                .await
                .and_then(|row| row.try_get::<_, bool>(0));
            if !matches!(unlocked, Ok(true)) {
                tracing::warn!(class, key, result = ?unlocked, "cannot give a turn back; closing its connection");
                drop(deadpool_postgres::Object::take(conn));
            }
        });
    }
}
