//! Rollouts in a decision case's state: as a case writes them (channel and
//! candidate by name) and as the decision sees them.

use std::collections::HashMap;

use serde::Deserialize;
use updraft_protocol::api::{Bundle, Channel, Rollout, RolloutPlan, RolloutState};

use crate::rollout::{default_plan, validate_plan};

/// A rollout of a case's state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    /// The rollout's id (default 1). Buckets depend on it, and the store
    /// assigns it: a case whose reply depends on a device's bucket is
    /// `core_only`.
    #[serde(default = "one")]
    pub id: i64,
    /// The channel, by name.
    pub channel: String,
    /// The candidate bundle, by version.
    pub candidate: String,
    /// The plan; the default plan when absent.
    #[serde(default)]
    pub plan: Option<RolloutPlan>,
    /// `running` (the default), `paused`, `promoted` or `reverted`.
    #[serde(default = "running")]
    pub state: RolloutState,
    /// The current step, from 0.
    #[serde(default)]
    pub step: u32,
    /// When the current step started (epoch ms).
    #[serde(default)]
    pub step_started_at: i64,
}

fn one() -> i64 {
    1
}

fn running() -> RolloutState {
    RolloutState::Running
}

/// The rollouts as the decision sees them, checked as the store would: a
/// valid plan, a step within it, a known channel and candidate (unless the
/// case is `core_only`: then `dangling` gives an id nothing has), a candidate
/// that is not the channel's bundle, one active rollout per channel.
pub(super) fn seeded(
    specs: &[RolloutSpec],
    app_id: &str,
    channels: &[Channel],
    bundles: &HashMap<i64, Bundle>,
    ids: &HashMap<String, i64>,
    dangling: &dyn Fn(String) -> Result<i64, String>,
) -> Result<Vec<Rollout>, String> {
    let mut out: Vec<Rollout> = Vec::new();
    for spec in specs {
        let plan = spec.plan.clone().unwrap_or_else(default_plan);
        let what = format!("rollout {} on {}", spec.id, spec.channel);
        validate_plan(&plan).map_err(|e| format!("{what}: {e}"))?;
        if usize::try_from(spec.step).map_or(true, |s| s >= plan.steps.len()) {
            return Err(format!("{what}: step {} is past the plan's end", spec.step));
        }
        let Some(channel) = channels.iter().find(|c| c.name == spec.channel) else {
            return Err(format!(
                "{what}: channel {} is not in the state",
                spec.channel
            ));
        };
        let candidate_id = match ids.get(&spec.candidate) {
            Some(id) => *id,
            None => dangling(format!("candidate {} of {what}", spec.candidate))?,
        };
        if spec.state.is_active() {
            if channel.bundle_id == Some(candidate_id) {
                return Err(format!(
                    "{what}: the candidate is the channel's bundle (the store refuses it)"
                ));
            }
            if out
                .iter()
                .any(|r| r.channel_id == channel.id && r.state.is_active())
            {
                return Err(format!(
                    "{what}: the channel already has an active rollout (the store keeps one)"
                ));
            }
        }
        if out.iter().any(|r| r.id == spec.id) {
            return Err(format!("two rollouts have id {}", spec.id));
        }
        out.push(Rollout {
            id: spec.id,
            app_id: app_id.to_string(),
            channel_id: channel.id,
            channel: channel.name.clone(),
            candidate_id,
            candidate_version: bundles
                .get(&candidate_id)
                .map_or_else(|| spec.candidate.clone(), |b| b.version.clone()),
            plan,
            state: spec.state,
            step: spec.step,
            step_started_at: spec.step_started_at,
            started_at: spec.step_started_at,
            ended_at: (!spec.state.is_active()).then_some(spec.step_started_at),
            reason: None,
            revision: 1,
        });
    }
    Ok(out)
}
