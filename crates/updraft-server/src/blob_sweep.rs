//! The sweeper: removes stored files (bundle zips, manifest files, patches)
//! that no upload holds, were freed more than the removal grace ago and
//! that nothing uses (see [`updraft_store::BlobHoldStore`]: the order
//! across nodes lives in the database). Every node may sweep at once: each removal holds its
//! hold's row lock, so the worst is a file looked at twice. It runs at
//! start, every [`EVERY`], and soon after a deletion ([`Sweeper::soon`]).
//! Failures are logged and retried on the next pass: a leftover file is
//! only space.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use updraft_blob::Blobs;
use updraft_store::{Store, Swept};

use crate::clock::Clock;

/// Time between two passes.
pub(crate) const EVERY: Duration = Duration::from_secs(60);
/// The longest one removal may take (its row stays locked meanwhile; on
/// SQLite the database's write lock is held).
const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most files looked at in one listing.
const BATCH: i64 = 500;
/// How long an upload's hold lasts if the upload never ends it (a crash, a
/// dropped request): far longer than storing a file takes.
pub(crate) const UPLOAD_HOLD_MS: i64 = 3_600_000;

/// Asks the sweeper for an early pass.
#[derive(Clone, Default)]
pub(crate) struct Sweeper {
    kick: Arc<Notify>,
}

impl Sweeper {
    /// A pass soon (after a deletion: with no grace, its files go now).
    pub(crate) fn soon(&self) {
        self.kick.notify_one();
    }
}

/// Starts the sweeper; the receiver counts finished passes.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    blobs: Blobs,
    clock: Arc<dyn Clock>,
    grace: Duration,
) -> (Sweeper, JoinHandle<()>, watch::Receiver<u64>) {
    let sweeper = Sweeper::default();
    let kick = sweeper.kick.clone();
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let (passes, passes_rx) = watch::channel(0u64);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = kick.notified() => {}
            }
            let now = clock.now_ms();
            sweep(&*store, &blobs, (now, now.saturating_sub(grace_ms))).await;
            passes.send_modify(|n| *n += 1);
        }
    });
    (sweeper, task, passes_rx)
}

/// Removes every unused file due at `now` (no upload holds it, freed by
/// `freed_by`); returns how many went.
pub(crate) async fn sweep(store: &dyn Store, blobs: &Blobs, (now, freed_by): (i64, i64)) -> u64 {
    let mut removed = 0;
    loop {
        let due = match store.due_blob_sweeps(now, freed_by, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "sweeper: listing files to remove failed; next pass soon");
                return removed;
            }
        };
        let mut failed = 0;
        for sha in &due {
            // Bounded: the removal runs with the file's row locked.
            let remove = || {
                let (blobs, sha) = (blobs.clone(), sha.clone());
                Box::pin(async move {
                    match tokio::time::timeout(REMOVE_TIMEOUT, blobs.delete(&sha)).await {
                        Ok(done) => done.map_err(|e| e.to_string()),
                        Err(_) => Err(format!(
                            "the store did not answer within {REMOVE_TIMEOUT:?}"
                        )),
                    }
                })
                    as Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
            };
            match store.sweep_blob(sha, now, freed_by, &remove).await {
                Ok(Swept::Removed) => removed += 1,
                Ok(Swept::InUse | Swept::NotDue) => {}
                Err(e) => {
                    failed += 1;
                    tracing::warn!(sha256 = %sha, error = %e, "sweeper: could not remove an unused stored file; next pass retries");
                }
            }
        }
        // A short listing was the last; a batch that failed whole would be
        // listed again at once.
        if i64::try_from(due.len()).unwrap_or(i64::MAX) < BATCH || failed == due.len() {
            break;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "sweeper: removed stored files nothing uses");
    }
    removed
}
