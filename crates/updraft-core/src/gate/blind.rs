//! The blind spots of a rollout's gates: what they cannot see, in sentences
//! for `status` (no failure gate, too few devices on the candidate to judge,
//! no launch reports, no crash reports where a gate counts them).

use updraft_protocol::api::{
    ArmHealth, FailureGate, GateMetric, Rollout, RolloutState, RolloutStep,
};

use super::words::count;
use super::{automatic_move, denominator, is_last_step};
use crate::rollout::current_step;

/// Devices that must have installed the candidate before the lack of any
/// `app_launch_ready` is called a blind spot.
pub const READY_BLIND_AFTER: u64 = 10;

/// Devices that must have run the candidate before the lack of any crash or
/// JavaScript error is worth a hint.
pub const CRASH_HINT_AFTER: u64 = 200;

/// Why the rollout's gates may not see failures, in short sentences: the
/// current step has no failure gate; an active rollout's failure gates have
/// fewer devices on the candidate than their `min_devices` (so they cannot
/// judge yet, and a step without a success gate advances on time alone);
/// devices installed the candidate but none reported `app_launch_ready`;
/// many devices ran it and none reported a crash or JavaScript error while a
/// gate counts them.
pub fn blind_spots(rollout: &Rollout, candidate: &ArmHealth) -> Vec<String> {
    let mut out = Vec::new();
    let Some(step) = current_step(rollout) else {
        return out;
    };
    let n = rollout.step.saturating_add(1);
    if step.failure_gates.is_empty() {
        out.push(format!(
            "step {n} has no failure gate: nothing pauses or reverts a bad candidate"
        ));
    }
    if rollout.state.is_active() {
        out.extend(too_few_devices(rollout, step, candidate));
    }
    if candidate.installed >= READY_BLIND_AFTER
        && candidate.launch_samples == 0
        && candidate.confirmed == 0
    {
        out.push(format!(
            "{} devices installed the candidate and none reported app_launch_ready \
             (does the app call notifyAppReady? does its plugin trim stats?): \
             confirmations and launch times cannot be seen",
            count(candidate.installed)
        ));
    }
    let watches_crashes = step
        .failure_gates
        .iter()
        .any(|g| matches!(g.metric, GateMetric::CrashRate | GateMetric::ErrorRate));
    if watches_crashes
        && candidate.ran >= CRASH_HINT_AFTER
        && candidate.crashed == 0
        && candidate.errored == 0
    {
        out.push(format!(
            "{} devices ran the candidate and none reported a crash or JavaScript error: \
             if the app's plugin trims stats, crash_rate and error_rate cannot see them",
            count(candidate.ran)
        ));
    }
    out
}

/// The current step's failure gates that cannot judge for want of devices on
/// the candidate, as one sentence, with what that leaves the step to.
fn too_few_devices(rollout: &Rollout, step: &RolloutStep, candidate: &ArmHealth) -> Option<String> {
    let waiting: Vec<(&FailureGate, u64)> = step
        .failure_gates
        .iter()
        .map(|g| (g, denominator(g.metric, candidate)))
        .filter(|(g, have)| *have < g.min_devices)
        .collect();
    let clauses: Vec<String> = waiting
        .iter()
        .enumerate()
        .map(|(i, (g, have))| {
            format!(
                "{} needs {}{}, {} so far",
                g.metric.as_str(),
                count(g.min_devices),
                if i == 0 {
                    " devices on the candidate"
                } else {
                    ""
                },
                count(*have)
            )
        })
        .collect();
    if clauses.is_empty() {
        return None;
    }
    let said = clauses.join("; ");
    let then = if waiting.len() < step.failure_gates.len() {
        "the other gates judge alone for now"
    } else if rollout.state == RolloutState::Running
        && step.success.is_none()
        && automatic_move(rollout).is_some()
    {
        if is_last_step(rollout) {
            "the candidate is promoted on time alone"
        } else {
            "this step advances on time alone"
        }
    } else {
        "no failure gate can judge the candidate yet"
    };
    Some(format!("{said}: {then}"))
}
