//! Health gates: each gate of a rollout step judged over the two arms'
//! counts, the step's verdict (advance, promote, pause, revert, alert or
//! nothing yet), and the blind spots of gates that cannot see failures.
//!
//! A rate gate trips only on evidence: the candidate's one-sided 95 % Wilson
//! lower bound must be above the threshold, on at least `min_devices`
//! devices (5 or more, see [`crate::rollout::MIN_GATE_DEVICES`]), and above
//! the stable arm's upper bound when the stable arm has enough devices to
//! tell. A candidate failing no more than the stable bundle stops nothing.

use updraft_protocol::api::{
    ArmHealth, FailureGate, GateAction, GateMetric, GateResult, Rollout, RolloutState, RolloutStep,
    SuccessGate,
};

use crate::rollout::{current_step, ramp_done};

mod blind;
mod words;

pub use blind::{blind_spots, CRASH_HINT_AFTER, READY_BLIND_AFTER};
use words::{count, minutes, pct};

/// The z of a one-sided 95 % bound.
pub const Z: f64 = 1.645;

/// A gate's status: it tripped.
pub const FAIL: &str = "fail";
/// A gate's status: judged, and fine.
pub const PASS: &str = "pass";
/// A gate's status: not enough devices or time to judge yet.
pub const PENDING: &str = "pending";

/// The Wilson score interval of `k` in `n` with [`Z`]: `(lower, upper)`,
/// `(0, 1)` when `n` is 0.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = (k as f64 / n).min(1.0);
    let z2 = Z * Z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// What a step's evaluation calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing yet (gates pending, the rollout not running, or no automatic move).
    None,
    /// Go to the next step.
    Advance,
    /// The last step passed: make the candidate the channel's bundle.
    Promote,
    /// A failure gate with `pause` tripped.
    Pause,
    /// A failure gate with `revert` tripped.
    Revert,
    /// A failure gate with `alert` tripped, and the step neither pauses,
    /// reverts, advances nor promotes.
    Alert,
}

impl Outcome {
    /// `none`, `advance`, `promote`, `pause`, `revert` or `alert` (as in
    /// [`updraft_protocol::api::RolloutCheck::outcome`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Advance => "advance",
            Self::Promote => "promote",
            Self::Pause => "pause",
            Self::Revert => "revert",
            Self::Alert => "alert",
        }
    }
}

/// One evaluation of a step: every gate's result and what it calls for.
/// Besides the step's failure gates and success gate, `gates` holds
/// `min_duration` (the step's age against its minimum, in seconds) and, for
/// a step with a ramp, `ramp` (pending until it reaches `ramp_to`).
#[derive(Debug, Clone, PartialEq)]
pub struct StepVerdict {
    /// The failure gates in plan order, then `success`, `min_duration`, `ramp`.
    pub gates: Vec<GateResult>,
    /// What the step calls for.
    pub outcome: Outcome,
}

impl StepVerdict {
    /// One line for logs and the change log: the gate(s) that decided and
    /// their values, what the step waits for, or why it passed.
    pub fn reason(&self) -> String {
        let with = |status: &str| -> Vec<String> {
            self.gates
                .iter()
                .filter(|g| g.status == status)
                .map(|g| format!("{}: {}", g.gate, g.detail))
                .collect()
        };
        let failed = with(FAIL);
        let passed = || {
            self.gates
                .iter()
                .filter(|g| !is_failure_gate(&g.gate))
                .map(|g| g.detail.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let alerting = || {
            if failed.is_empty() {
                String::new()
            } else {
                format!("; also failing (alert): {}", failed.join("; "))
            }
        };
        match self.outcome {
            Outcome::Pause | Outcome::Revert | Outcome::Alert => {
                format!("{}: {}", self.outcome.as_str(), failed.join("; "))
            }
            Outcome::Advance => format!("step passed: {}{}", passed(), alerting()),
            Outcome::Promote => format!("last step passed: {}{}", passed(), alerting()),
            Outcome::None if !failed.is_empty() => {
                format!("failing, not acted on: {}", failed.join("; "))
            }
            Outcome::None => {
                let pending: Vec<String> = self
                    .gates
                    .iter()
                    .filter(|g| g.status == PENDING && !is_failure_gate(&g.gate))
                    .map(|g| format!("{}: {}", g.gate, g.detail))
                    .collect();
                if pending.is_empty() {
                    format!("step passed, not moved automatically: {}", passed())
                } else {
                    format!("waiting: {}", pending.join("; "))
                }
            }
        }
    }
}

fn is_failure_gate(name: &str) -> bool {
    [
        GateMetric::FailureRate,
        GateMetric::CrashRate,
        GateMetric::ErrorRate,
        GateMetric::LaunchTimeP90,
    ]
    .iter()
    .any(|m| m.as_str() == name)
}

/// The actions of the failure gates that tripped.
#[derive(Debug, Clone, Copy, Default)]
struct Tripped {
    revert: bool,
    pause: bool,
    alert: bool,
}

impl Tripped {
    /// What the step calls for, strongest first: revert, pause, then `moves`
    /// (an advance or promotion the step makes), then alert, then nothing.
    fn outcome(self, moves: Option<Outcome>) -> Outcome {
        if self.revert {
            Outcome::Revert
        } else if self.pause {
            Outcome::Pause
        } else if let Some(m) = moves {
            m
        } else if self.alert {
            Outcome::Alert
        } else {
            Outcome::None
        }
    }
}

/// Every gate of a step judged, the failure gates' actions that tripped, and
/// whether the step has done what it must to move on.
struct Judged {
    gates: Vec<GateResult>,
    tripped: Tripped,
    passed: bool,
}

/// Judges `step` over the arms' health: revert beats pause beats an advance
/// beats alert. The step calls for [`Outcome::Advance`] once it is
/// `min_duration_secs` old, its success gate (if any) passes and its ramp
/// (if any) is done, unless a failure gate with `pause` or `revert` tripped;
/// a tripped `alert` gate never holds it back (it stays in `gates`). Whether
/// that advance happens, or is a promotion, is [`evaluate_rollout`]'s to say.
pub fn evaluate(
    step: &RolloutStep,
    candidate: &ArmHealth,
    stable: &ArmHealth,
    step_age_ms: i64,
    ramp_done: bool,
) -> StepVerdict {
    let j = judge(step, candidate, stable, step_age_ms, ramp_done);
    let outcome = j.tripped.outcome(j.passed.then_some(Outcome::Advance));
    StepVerdict {
        gates: j.gates,
        outcome,
    }
}

fn judge(
    step: &RolloutStep,
    candidate: &ArmHealth,
    stable: &ArmHealth,
    step_age_ms: i64,
    ramp_done: bool,
) -> Judged {
    let mut gates = Vec::new();
    let mut tripped = Tripped::default();
    for g in &step.failure_gates {
        let r = failure_gate(g, candidate, stable);
        if r.status == FAIL {
            match g.action {
                GateAction::Revert => tripped.revert = true,
                GateAction::Pause => tripped.pause = true,
                GateAction::Alert => tripped.alert = true,
            }
        }
        gates.push(r);
    }
    if let Some(s) = &step.success {
        gates.push(success_gate(s, candidate));
    }
    gates.push(duration_gate(step.min_duration_secs, step_age_ms));
    if let Some(to) = step.ramp_to {
        gates.push(GateResult {
            gate: "ramp".into(),
            status: if ramp_done { PASS } else { PENDING }.into(),
            value: None,
            bound: None,
            threshold: to,
            devices: 0,
            detail: format!(
                "ramp to {to:.1} % {}",
                if ramp_done { "done" } else { "still rising" }
            ),
        });
    }
    // Failure gates still waiting for devices do not hold a step back.
    let passed = gates
        .iter()
        .all(|g| g.status == PASS || is_failure_gate(&g.gate));
    Judged {
        gates,
        tripped,
        passed,
    }
}

/// Judges the rollout's current step at `now_ms`, as [`evaluate`], then
/// applies the plan and the state. Running: a passed step advances only with
/// `auto_advance`, and the last one promotes only with `auto_promote` (when
/// it does neither, a tripped `alert` gate alerts). Paused: a tripped
/// `revert` gate still reverts and an `alert` gate still alerts; it never
/// pauses again, advances or promotes. Ended: [`Outcome::None`]. The gates
/// are reported in every case.
pub fn evaluate_rollout(
    rollout: &Rollout,
    candidate: &ArmHealth,
    stable: &ArmHealth,
    now_ms: i64,
) -> StepVerdict {
    let Some(step) = current_step(rollout) else {
        return StepVerdict {
            gates: Vec::new(),
            outcome: Outcome::None,
        };
    };
    let age = now_ms.saturating_sub(rollout.step_started_at);
    let j = judge(step, candidate, stable, age, ramp_done(rollout, now_ms));
    let outcome = match rollout.state {
        RolloutState::Running => j.tripped.outcome(if j.passed {
            automatic_move(rollout)
        } else {
            None
        }),
        RolloutState::Paused => Tripped {
            pause: false,
            ..j.tripped
        }
        .outcome(None),
        RolloutState::Promoted | RolloutState::Reverted => Outcome::None,
    };
    StepVerdict {
        gates: j.gates,
        outcome,
    }
}

/// What the plan does by itself when the current step has passed: advance
/// (with `auto_advance`), promote after the last step (with `auto_promote`),
/// or nothing.
fn automatic_move(rollout: &Rollout) -> Option<Outcome> {
    let plan = &rollout.plan;
    if is_last_step(rollout) {
        plan.auto_promote.then_some(Outcome::Promote)
    } else {
        plan.auto_advance.then_some(Outcome::Advance)
    }
}

fn is_last_step(rollout: &Rollout) -> bool {
    let next = usize::try_from(rollout.step)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    next >= rollout.plan.steps.len()
}

/// How many of the arm's devices a failure gate judges on: those that
/// attempted the bundle (failure rate), ran it (crash and error rates), or
/// reported a launch time (launch time).
fn denominator(metric: GateMetric, arm: &ArmHealth) -> u64 {
    match metric {
        GateMetric::FailureRate => arm.attempted,
        GateMetric::CrashRate | GateMetric::ErrorRate => arm.ran,
        GateMetric::LaunchTimeP90 => arm.launch_samples,
    }
}

/// One failure gate over both arms.
fn failure_gate(g: &FailureGate, c: &ArmHealth, s: &ArmHealth) -> GateResult {
    let (k, n, sk, sn, verb) = match g.metric {
        GateMetric::FailureRate => (c.failed, c.attempted, s.failed, s.attempted, "failed"),
        GateMetric::CrashRate => (c.crashed, c.ran, s.crashed, s.ran, "crashed"),
        GateMetric::ErrorRate => (c.errored, c.ran, s.errored, s.ran, "had a JavaScript error"),
        GateMetric::LaunchTimeP90 => return launch_gate(g, c, s),
    };
    let thr = g.threshold;
    let (lower, _) = wilson(k, n);
    let (_, stable_upper) = wilson(sk, sn);
    let rate = |k: u64, n: u64| k as f64 / n as f64;
    let stable_counts = sn >= g.min_devices;
    let (status, detail) = if n < g.min_devices {
        (
            PENDING,
            format!(
                "{} of {} devices {verb}; {} are needed to judge",
                count(k),
                count(n),
                count(g.min_devices)
            ),
        )
    } else {
        let seen = format!(
            "{} of {} devices {verb} (at least {} with 95 % confidence)",
            pct(rate(k, n)),
            count(n),
            pct(lower)
        );
        let stable = || {
            format!(
                "stable {} of {} (at most {})",
                pct(rate(sk, sn)),
                count(sn),
                pct(stable_upper)
            )
        };
        if lower <= thr {
            (PASS, format!("{seen}, not above {}", pct(thr)))
        } else if stable_counts && lower <= stable_upper {
            (
                PASS,
                format!(
                    "{seen} > {}, but the stable arm is no better: {}",
                    pct(thr),
                    stable()
                ),
            )
        } else if stable_counts {
            (FAIL, format!("{seen} > {}; {}", pct(thr), stable()))
        } else {
            (FAIL, format!("{seen} > {}", pct(thr)))
        }
    };
    GateResult {
        gate: g.metric.as_str().into(),
        status: status.into(),
        value: (n > 0).then(|| rate(k, n)),
        bound: (n > 0).then_some(lower),
        threshold: thr,
        devices: n,
        detail,
    }
}

/// The launch-time gate: the candidate's p90 against the stable's.
fn launch_gate(g: &FailureGate, c: &ArmHealth, s: &ArmHealth) -> GateResult {
    let ratio = match (c.launch_p90_ms, s.launch_p90_ms) {
        (Some(cp), Some(sp)) => Some(cp as f64 / sp.max(1) as f64),
        _ => None,
    };
    let enough = c.launch_samples >= g.min_devices && s.launch_samples >= g.min_devices;
    let (status, detail) = match (ratio, c.launch_p90_ms, s.launch_p90_ms) {
        (Some(r), Some(cp), Some(sp)) if enough => {
            let said = format!(
                "launch p90 {} ms is {r:.2}x the stable's {} ms",
                count(cp),
                count(sp)
            );
            if r > g.threshold {
                (FAIL, format!("{said} > {:.2}x", g.threshold))
            } else {
                (PASS, format!("{said}, not above {:.2}x", g.threshold))
            }
        }
        _ => (
            PENDING,
            format!(
                "launch times from {} candidate and {} stable devices; {} of each are needed",
                count(c.launch_samples),
                count(s.launch_samples),
                count(g.min_devices)
            ),
        ),
    };
    GateResult {
        gate: GateMetric::LaunchTimeP90.as_str().into(),
        status: status.into(),
        value: ratio,
        bound: None,
        threshold: g.threshold,
        devices: c.launch_samples,
        detail,
    }
}

/// The success gate: enough of the candidate's installs confirmed.
fn success_gate(g: &SuccessGate, c: &ArmHealth) -> GateResult {
    // A device may report ready without its install having been counted
    // (its `set` arrived before it was in the arm): the share of installs
    // confirmed is never above one.
    let confirmed = c.confirmed.min(c.installed);
    let rate = (c.installed > 0).then(|| confirmed as f64 / c.installed as f64);
    let passes = confirmed >= g.min_devices && rate.is_some_and(|r| r >= g.min_confirmed_rate);
    let detail = if passes {
        format!(
            "{} of {} installs confirmed ({} >= {})",
            count(confirmed),
            count(c.installed),
            pct(rate.unwrap_or_default()),
            pct(g.min_confirmed_rate)
        )
    } else {
        format!(
            "{} of {} installs confirmed; needs {} and {} confirmed devices",
            count(confirmed),
            count(c.installed),
            pct(g.min_confirmed_rate),
            count(g.min_devices)
        )
    };
    GateResult {
        gate: "success".into(),
        status: if passes { PASS } else { PENDING }.into(),
        value: rate,
        bound: None,
        threshold: g.min_confirmed_rate,
        devices: c.installed,
        detail,
    }
}

/// The step's age against its minimum duration.
fn duration_gate(min_secs: u64, age_ms: i64) -> GateResult {
    let age_secs = u64::try_from(age_ms.max(0) / 1000).unwrap_or_default();
    let passes = age_secs >= min_secs;
    GateResult {
        gate: "min_duration".into(),
        status: if passes { PASS } else { PENDING }.into(),
        value: Some(age_secs as f64),
        bound: None,
        threshold: min_secs as f64,
        devices: 0,
        detail: format!(
            "{} {} {}",
            minutes(age_secs),
            if passes { ">=" } else { "of" },
            minutes(min_secs)
        ),
    }
}

#[cfg(test)]
mod tests;
