//! Background work that runs beside the server: compaction passes for feeds
//! with a retention policy. Each pass walks the log in bounded steps (the
//! backend keeps a step's blocking work off the request workers), so
//! request handling never waits on it for long; all tasks stop when the
//! server shuts down.

use crate::app::App;
use crate::store::{CompactReport, Retention, COMPACT_STEP};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Start the background tasks; they end when `stop` turns true.
pub fn spawn(app: &Arc<App>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (name, feed) in &app.config().feeds {
        let policy = feed.retention.policy();
        if !policy.is_active() {
            continue;
        }
        let (app, name, mut stop) = (app.clone(), name.clone(), stop.clone());
        let interval = feed.retention.interval;
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    _ = stop.changed() => return,
                }
                match compaction_pass(&app, &name, &policy, &stop).await {
                    Ok(r) if r.removed + r.tombstones_dropped > 0 => {
                        tracing::info!(feed = %name, examined = r.examined, removed = r.removed, tombstones_dropped = r.tombstones_dropped, "compacted");
                        // Files only removed states pointed at go too.
                        if let Some(m) = app.mirror() {
                            if let Err(e) = m.collect(&app).await {
                                tracing::warn!(error = %e, "content collection failed");
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(feed = %name, error = %e, "compaction failed"),
                }
            }
        }));
    }
    tasks
}

/// One pass over a feed, a bounded step at a time.
async fn compaction_pass(
    app: &Arc<App>,
    name: &str,
    policy: &Retention,
    stop: &watch::Receiver<bool>,
) -> Result<CompactReport, String> {
    let now = app.clock().now_ms();
    let mut report = CompactReport::default();
    let mut from = Some(0);
    while let Some(start) = from {
        if *stop.borrow() {
            break;
        }
        let log = app.store().feed(name).ok_or("feed vanished")?;
        let mut r = CompactReport::default();
        let next = log
            .compact_step(policy, now, start, COMPACT_STEP, &mut r)
            .await
            .map_err(|e| e.to_string())?;
        report.examined += r.examined;
        report.removed += r.removed;
        report.tombstones_dropped += r.tombstones_dropped;
        from = next;
        tokio::task::yield_now().await;
    }
    Ok(report)
}
