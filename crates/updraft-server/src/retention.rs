//! Retention: a background job deletes stats events and per-device release
//! rows older than `event_retention_days` (0 keeps them forever), change-log rows
//! older than `change_retention_days` (each app's latest change stays), finished
//! hourly update-check counts as old as those events, webhook deliveries
//! older than [`DELIVERY_RETENTION_MS`], ended dashboard sessions, and manifest
//! files no live bundle names once their grace ([`FILE_GRACE_MS`]) is over
//! (the sweeper then removes them, [`crate::blob_sweep`]), all in
//! small batches with a pause between them, so it never holds a long lock
//! or starves the telemetry writer (SQLite has one writer at a time). It runs at start and then every
//! [`EVERY`], on one node at a time: a run first takes the `retention`
//! lease ([`LEASE_MS`]), which a stopping node gives up. The time it
//! compares with comes from the server's clock.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use updraft_store::{Store, FILE_GRACE_MS};

use crate::clock::Clock;

/// Time between two pruning runs.
pub(crate) const EVERY: Duration = Duration::from_secs(3600);
/// How long a run's lease lasts: the holder's next run (an hour later)
/// renews it; another node takes it only once the holder missed a run.
pub(crate) const LEASE_MS: i64 = 65 * 60_000;
/// Most events (or change-log rows) deleted in one transaction.
pub(crate) const BATCH: i64 = 5_000;
/// How long finished webhook deliveries are kept (30 days).
pub(crate) const DELIVERY_RETENTION_MS: i64 = 30 * 86_400_000;
/// How long an inbound hook's accepted calls are remembered (400 days): a
/// GitHub-signed call has no timestamp, so its body is refused again for
/// as long as it is remembered.
pub(crate) const HOOK_CALL_RETENTION_MS: i64 = 400 * 86_400_000;
/// Pause between two batches of one run.
const PAUSE: Duration = Duration::from_millis(50);

/// Starts the job; the receiver counts finished runs (tests wait on it).
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    (days, change_days): (u64, u64),
    clock: Arc<dyn Clock>,
    (node, sweeper): (Arc<str>, crate::blob_sweep::Sweeper),
) -> (JoinHandle<()>, watch::Receiver<u64>) {
    let keep_ms = (days > 0).then(|| {
        i64::try_from(days)
            .ok()
            .and_then(|d| d.checked_mul(86_400_000))
            .unwrap_or(i64::MAX)
    });
    let change_ms = i64::try_from(change_days)
        .ok()
        .and_then(|d| d.checked_mul(86_400_000))
        .unwrap_or(i64::MAX);
    let (runs, runs_rx) = watch::channel(0u64);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = clock.now_ms();
            match store
                .take_lease("retention", &node, now, now + LEASE_MS)
                .await
            {
                Ok(true) => {}
                Ok(false) => continue, // another node runs it
                Err(e) => {
                    tracing::warn!(error = %e, "retention: cannot take its lease; next run in an hour");
                    continue;
                }
            }
            if let Err(e) = store.prepare_events(now).await {
                tracing::warn!(error = %e, "retention: cannot prepare the coming days' events");
            }
            if let Some(keep_ms) = keep_ms {
                prune(&*store, now.saturating_sub(keep_ms)).await;
                prune_release(&*store, now.saturating_sub(keep_ms)).await;
                in_batches("old update check counts", || {
                    store.prune_check_counts(
                        updraft_store::check_hour(now.saturating_sub(keep_ms)),
                        BATCH,
                    )
                })
                .await;
            }
            prune_changes(&*store, now.saturating_sub(change_ms)).await;
            in_batches("old hook calls", || {
                store.prune_hook_calls(now - HOOK_CALL_RETENTION_MS, BATCH)
            })
            .await;
            in_batches("old webhook deliveries", || {
                store.prune_deliveries(now - DELIVERY_RETENTION_MS, BATCH)
            })
            .await;
            in_batches("ended dashboard sessions", || {
                store.prune_sessions(now, BATCH)
            })
            .await;
            if forget_files(&*store, now - FILE_GRACE_MS, now).await > 0 {
                sweeper.soon();
            }
            runs.send_modify(|n| *n += 1);
        }
    });
    (task, runs_rx)
}

/// Deletes every event older than `before`, batch by batch; returns how many.
pub(crate) async fn prune(store: &dyn Store, before: i64) -> u64 {
    in_batches("old stats events", || store.prune_events(before, BATCH)).await
}

/// Deletes release rows first seen before `before` (those of an active
/// rollout stay), batch by batch; returns how many.
pub(crate) async fn prune_release(store: &dyn Store, before: i64) -> u64 {
    in_batches("old release rows", || store.prune_release(before, BATCH)).await
}

/// Deletes change-log rows older than `before` (each app's latest stays),
/// batch by batch; returns how many.
pub(crate) async fn prune_changes(store: &dyn Store, before: i64) -> u64 {
    in_batches("old change-log rows", || store.prune_changes(before, BATCH)).await
}

/// Forgets the manifest files no live bundle of their app names and nobody
/// touched since `before` (each gets a hold, so the sweeper removes those
/// no other app keeps), batch by batch; returns how many were forgotten.
pub(crate) async fn forget_files(store: &dyn Store, before: i64, now: i64) -> u64 {
    let mut total = 0;
    loop {
        let unused = match store.unused_files(before, BATCH).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "retention: listing unused files failed; next run in an hour");
                break;
            }
        };
        let listed = unused.len();
        for (app, sha) in unused {
            match store.forget_file(&app, &sha, before, now).await {
                Ok(true) => total += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "retention: forgetting a file failed; next run in an hour");
                    return total;
                }
            }
        }
        if i64::try_from(listed).unwrap_or(i64::MAX) < BATCH {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    if total > 0 {
        tracing::info!(forgotten = total, "retention: forgot unused manifest files");
    }
    total
}

/// Runs `step` (one batch of deletes) until a batch is short, pausing between
/// batches so writers get the database; a failure ends the run (the next one
/// is in an hour). Returns how many rows went.
async fn in_batches<F, Fut>(what: &'static str, mut step: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = updraft_store::StoreResult<u64>>,
{
    let mut total = 0;
    loop {
        match step().await {
            Ok(n) => {
                total += n;
                if n < BATCH as u64 {
                    break;
                }
                tokio::time::sleep(PAUSE).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, what, "retention: pruning failed; next run in an hour");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, what, "retention: deleted");
    }
    total
}
