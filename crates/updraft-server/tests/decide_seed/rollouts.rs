//! A decision case's rollouts as server state: each started through
//! [`RolloutStore::start_rollout`] with its plan (the default plan when the
//! case has none), moved to its step and state by the store's own
//! transitions, all stamped at the case's `step_started_at`; and the check,
//! after the cases ran, that no rollout moved meanwhile.
//!
//! The store assigns the rollout's id, which may differ from the case's: the
//! cases whose reply depends on the device's bucket are `core_only`.

use updraft_core::cases::{Case, RolloutSpec};
use updraft_core::rollout::default_plan;
use updraft_protocol::api::{ChannelPatch, NewRollout, RolloutState};
use updraft_store::{Stamp, Store, Transition};

/// Where the rollout runner's lease on every seeded rollout is claimed: the
/// end of time, so no node's runner evaluates (and advances, promotes or
/// pauses) a case's rollout while its requests run, whatever the clock says.
const LEASE_UNTIL: i64 = i64::MAX;

/// Starts each of the case's rollouts under `app` and brings it to the
/// case's step and state.
pub(crate) async fn seed_rollouts(store: &dyn Store, app: &str, case: &Case) -> Result<(), String> {
    for spec in &case.state.rollouts {
        seed_one(store, app, case, spec)
            .await
            .map_err(|err| format!("seeding rollout {} on {}: {err}", spec.id, spec.channel))?;
    }
    Ok(())
}

async fn seed_one(
    store: &dyn Store,
    app: &str,
    case: &Case,
    spec: &RolloutSpec,
) -> Result<(), updraft_store::StoreError> {
    let stamp = Stamp::system(spec.step_started_at);
    // The case's bundle for the channel (`None`: builtin).
    let bundle = case
        .state
        .channels
        .iter()
        .find(|c| c.name.as_deref() == Some(spec.channel.as_str()))
        .and_then(|c| c.bundle.clone().flatten())
        .filter(|v| !["", "builtin", "unknown"].contains(&v.as_str()));
    let ended = !spec.state.is_active();
    if ended && bundle.as_deref() == Some(spec.candidate.as_str()) {
        // A rollout ended on the channel's bundle: it started from another
        // one (the store refuses a rollout of the channel's own bundle).
        set_bundle(store, app, &spec.channel, None, &stamp).await?;
    }
    let new = NewRollout {
        bundle: spec.candidate.clone(),
        plan: Some(spec.plan.clone().unwrap_or_else(default_plan)),
    };
    let id = store
        .start_rollout(app, &spec.channel, &new, &stamp)
        .await?
        .id;
    for _ in 0..spec.step {
        store
            .transition_rollout(app, id, Transition::Advance, None, None, &stamp)
            .await?;
    }
    let last = match spec.state {
        RolloutState::Running => None,
        RolloutState::Paused => Some(Transition::Pause),
        RolloutState::Promoted => Some(Transition::Promote),
        RolloutState::Reverted => Some(Transition::Revert),
    };
    if let Some(t) = last {
        store
            .transition_rollout(app, id, t, None, None, &stamp)
            .await?;
    }
    if ended {
        // Promoting made the candidate the channel's bundle: the case's
        // channel has since moved to the bundle the case gives it.
        set_bundle(store, app, &spec.channel, bundle, &stamp).await?;
    }
    if spec.state.is_active() {
        store.claim_rollout_check(id, LEASE_UNTIL, 0).await?;
    }
    Ok(())
}

/// Points the channel at `bundle` (`None`: builtin).
async fn set_bundle(
    store: &dyn Store,
    app: &str,
    channel: &str,
    bundle: Option<String>,
    stamp: &Stamp,
) -> Result<(), updraft_store::StoreError> {
    let patch = ChannelPatch {
        bundle: Some(bundle),
        ..ChannelPatch::default()
    };
    store.update_channel(app, channel, &patch, stamp).await?;
    Ok(())
}

/// Checks that the app's rollouts still stand where the case put them (the
/// same states and steps, in order): nothing moved them while the requests
/// ran.
pub(crate) async fn rollouts_unmoved(
    store: &dyn Store,
    app: &str,
    case: &Case,
) -> Result<(), String> {
    let mut stored = store
        .list_rollouts(app)
        .await
        .map_err(|e| format!("listing rollouts: {e}"))?;
    stored.reverse();
    let got: Vec<_> = stored
        .iter()
        .map(|r| {
            (
                r.channel.as_str(),
                r.candidate_version.as_str(),
                r.state,
                r.step,
            )
        })
        .collect();
    let want: Vec<_> = case
        .state
        .rollouts
        .iter()
        .map(|s| (s.channel.as_str(), s.candidate.as_str(), s.state, s.step))
        .collect();
    if got != want {
        return Err(format!(
            "the rollouts moved while the case ran: {got:?}, seeded as {want:?}"
        ));
    }
    Ok(())
}
