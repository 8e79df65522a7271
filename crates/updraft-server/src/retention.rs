//! Event retention: a background job deletes stats events older than
//! `event_retention_days` (0 keeps them forever), in small batches with a
//! pause between them, so it never holds a long lock or starves the
//! telemetry writer. It runs at start and then every [`EVERY`].

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use updraft_store::Store;

/// Time between two pruning runs.
pub const EVERY: Duration = Duration::from_secs(3600);
/// Most events deleted in one transaction.
pub const BATCH: i64 = 5_000;
/// Pause between two batches of one run.
const PAUSE: Duration = Duration::from_millis(50);

/// Starts the job, or nothing when `days` is 0.
pub fn spawn(store: Arc<dyn Store>, days: u64) -> Option<JoinHandle<()>> {
    if days == 0 {
        return None;
    }
    let keep_ms = i64::try_from(days)
        .ok()
        .and_then(|d| d.checked_mul(86_400_000))
        .unwrap_or(i64::MAX);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let before = crate::now_ms().saturating_sub(keep_ms);
            prune(&*store, before).await;
        }
    }))
}

/// Deletes every event older than `before`, batch by batch; returns how many.
pub async fn prune(store: &dyn Store, before: i64) -> u64 {
    let mut total = 0;
    loop {
        match store.prune_events(before, BATCH).await {
            Ok(n) => {
                total += n;
                if n < BATCH as u64 {
                    break;
                }
                tokio::time::sleep(PAUSE).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "event retention: pruning failed; next run in an hour");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, "event retention: old events deleted");
    }
    total
}
