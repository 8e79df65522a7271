//! The rollout runner: a background job that evaluates every active
//! rollout's gates on an interval and acts on the verdict (advance, promote,
//! pause, revert, alert). Every node runs it; a lease in the database
//! ([`RolloutStore::claim_rollout_check`]) lets exactly one node evaluate a
//! rollout per interval, and each action is a compare-and-set on the
//! rollout's revision, so two nodes never advance it twice. Its actions are
//! management writes stamped `system`: they reach every node's snapshot
//! through the change log. Time comes from the server's [`Clock`]. Each pass
//! also runs the scheduled deploys that are due ([`crate::scheduler`]).
//!
//! [`RolloutStore::claim_rollout_check`]: updraft_store::RolloutStore::claim_rollout_check

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use updraft_core::gate::{evaluate_rollout, Outcome};
use updraft_protocol::api::{Rollout, RolloutCheck};
use updraft_store::{Stamp, Store, StoreError, Transition};

use crate::clock::Clock;

/// Starts the job: every `every`, each active rollout is evaluated once
/// across nodes. The receiver counts finished passes (tests wait on it).
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> (JoinHandle<()>, watch::Receiver<u64>) {
    let (passes, passes_rx) = watch::channel(0u64);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let lease_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        loop {
            tick.tick().await;
            pass(&*store, &*clock, lease_ms).await;
            crate::scheduler::pass(&*store, &*clock).await;
            passes.send_modify(|n| *n += 1);
        }
    });
    (task, passes_rx)
}

/// One pass over every active rollout; failures are logged and the next pass
/// tries again.
async fn pass(store: &dyn Store, clock: &dyn Clock, lease_ms: i64) {
    let rollouts = match store.active_rollouts().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "could not list active rollouts; gates are evaluated at the next pass");
            return;
        }
    };
    for rollout in rollouts {
        if let Err(e) = evaluate(store, clock, &rollout, lease_ms).await {
            tracing::warn!(
                app_id = rollout.app_id,
                channel = rollout.channel,
                rollout = rollout.id,
                error = %e,
                "could not evaluate a rollout's gates"
            );
        }
    }
}

/// Evaluates one rollout if this node holds its lease for this interval,
/// records the evaluation and applies its outcome.
pub(crate) async fn evaluate(
    store: &dyn Store,
    clock: &dyn Clock,
    rollout: &Rollout,
    lease_ms: i64,
) -> Result<(), StoreError> {
    let now = clock.now_ms();
    if !store.claim_rollout_check(rollout.id, now, lease_ms).await? {
        return Ok(());
    }
    let (candidate, stable) = store.arm_health(rollout.id).await?;
    let verdict = evaluate_rollout(rollout, &candidate, &stable, now);
    store
        .record_rollout_check(
            rollout.id,
            &RolloutCheck {
                id: 0,
                step: rollout.step,
                at: now,
                outcome: verdict.outcome.as_str().to_string(),
                gates: verdict.gates.clone(),
                candidate,
                stable,
            },
        )
        .await?;
    let stamp = Stamp::system(now);
    let reason = verdict.reason();
    let transition = match verdict.outcome {
        Outcome::None => return Ok(()),
        Outcome::Alert => {
            // Once per step: the gate keeps failing at every pass, but the
            // team is told once (the check log keeps every evaluation).
            if already_alerted(store, rollout).await? {
                return Ok(());
            }
            tracing::warn!(
                app_id = rollout.app_id,
                channel = rollout.channel,
                candidate = rollout.candidate_version,
                reason,
                "rollout gate alert"
            );
            return store
                .alert_rollout(&rollout.app_id, rollout.id, &reason, &stamp)
                .await;
        }
        Outcome::Advance => Transition::Advance,
        Outcome::Promote => Transition::Promote,
        Outcome::Pause => Transition::Pause,
        Outcome::Revert => Transition::Revert,
    };
    match store
        .transition_rollout(
            &rollout.app_id,
            rollout.id,
            transition.clone(),
            Some(rollout.revision),
            Some(&reason),
            &stamp,
        )
        .await
    {
        Ok(after) => {
            tracing::info!(
                app_id = after.app_id,
                channel = after.channel,
                candidate = after.candidate_version,
                step = after.step,
                state = after.state.as_str(),
                reason,
                "rollout {}",
                transition.kind().trim_start_matches("rollout.")
            );
            Ok(())
        }
        // Someone (a person, or another node after the lease) changed it
        // since it was read: their change stands, the next pass re-reads it.
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether an alert was already raised for the rollout's current step: the
/// evaluation before the one just recorded had the same outcome.
async fn already_alerted(store: &dyn Store, rollout: &Rollout) -> Result<bool, StoreError> {
    let recent = store.list_rollout_checks(rollout.id, 2).await?;
    Ok(recent
        .get(1)
        .is_some_and(|c| c.step == rollout.step && c.outcome == Outcome::Alert.as_str()))
}
