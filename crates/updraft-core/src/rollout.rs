//! Staged rollouts as the decision sees them: a device's bucket, the share of
//! devices on the candidate now (ramps included), which arm a device is on,
//! and the rules a plan must follow.
//!
//! A device's bucket is fixed for a rollout (a hash of the rollout id and the
//! device id), so raising the percentage only ever adds devices, and a
//! device keeps its arm from one check to the next.

use sha2::{Digest, Sha256};
use updraft_protocol::api::{
    Arm, Cohort, FailureGate, GateAction, GateMetric, Rollout, RolloutPlan, RolloutState,
    RolloutStep, DEFAULT_MIN_DEVICES,
};

use crate::target::{self, Cohorts, Subject};
use crate::text::{MAX_CUSTOM_ID, MAX_NAME};
use crate::trace::{note, Trace};
use crate::validate::is_uuid;

/// Buckets per rollout: a bucket is a basis point of the devices.
pub const BUCKETS: u32 = 10_000;

/// The most steps a plan may have.
pub const MAX_STEPS: usize = 20;

/// The most device and custom ids all cohorts of a plan may hold together.
pub const MAX_COHORT_IDS: usize = 10_000;

/// The longest step duration or ramp a plan may ask for (a year, in seconds).
pub const MAX_SECS: u64 = 365 * 86_400;

/// The fewest devices a failure or success gate may judge on. One failure
/// in one device is a Wilson lower bound of 27 %: a single fake or unlucky
/// device would stop a release. (One in five is still 4.6 %, above a 2 %
/// threshold: plans that must not trip on one device need more.)
pub const MIN_GATE_DEVICES: u64 = 5;

/// The device's bucket in the rollout, in `0..10_000`: the first 8 bytes
/// (big-endian) of SHA-256 of `"{rollout_id}:{lowercased device_id}"`,
/// modulo 10 000.
pub fn bucket(rollout_id: i64, device_id: &str) -> u32 {
    let digest = Sha256::digest(format!("{rollout_id}:{}", device_id.to_lowercase()));
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    let b = u64::from_be_bytes(first) % u64::from(BUCKETS);
    u32::try_from(b).expect("a remainder of 10 000 fits in u32")
}

/// The buckets below this are in `percent` (0 to 100): `round(percent * 100)`.
pub fn cutoff(percent: f64) -> u32 {
    let bp = (percent * 100.0).round();
    if bp.is_nan() || bp <= 0.0 {
        0
    } else if bp >= f64::from(BUCKETS) {
        BUCKETS
    } else {
        // In 1..10_000 here, so the cast neither truncates nor loses a sign.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bp = bp as u32;
        bp
    }
}

/// The rollout's current step (the last one if `step` is past the end);
/// `None` only for a plan with no steps.
pub fn current_step(rollout: &Rollout) -> Option<&RolloutStep> {
    let steps = &rollout.plan.steps;
    let i = usize::try_from(rollout.step).unwrap_or(usize::MAX);
    steps.get(i).or_else(|| steps.last())
}

/// How far the current step's ramp has gone at `now_ms`, 0 to 1 (1 when the
/// step has no ramp).
fn ramp_progress(rollout: &Rollout, step: &RolloutStep, now_ms: i64) -> f64 {
    match (step.ramp_to, step.ramp_secs) {
        (Some(_), Some(secs)) if secs > 0 => {
            let elapsed = now_ms.saturating_sub(rollout.step_started_at).max(0);
            (elapsed as f64 / (secs as f64 * 1000.0)).min(1.0)
        }
        _ => 1.0,
    }
}

/// The candidate's share of devices at `now_ms`, 0 to 100: the current
/// step's `percent`, or with a ramp, linear from `percent` at the step's
/// start to `ramp_to` `ramp_secs` later (and `ramp_to` from then on).
pub fn percent_now(rollout: &Rollout, now_ms: i64) -> f64 {
    let Some(step) = current_step(rollout) else {
        return 0.0;
    };
    let to = step.ramp_to.unwrap_or(step.percent);
    let p = step.percent + (to - step.percent) * ramp_progress(rollout, step, now_ms);
    p.clamp(0.0, 100.0)
}

/// Whether the current step's ramp (if any) has reached `ramp_to` at `now_ms`.
pub fn ramp_done(rollout: &Rollout, now_ms: i64) -> bool {
    current_step(rollout).is_none_or(|step| ramp_progress(rollout, step, now_ms) >= 1.0)
}

/// Why a device is in the candidate's part of the rollout, or not.
enum Membership<'a> {
    /// In a cohort of the current step or one before it.
    Cohort { name: &'a str, by_custom_id: bool },
    /// By its bucket against the percentage it is counted in now.
    Bucket {
        bucket: u32,
        percent: f64,
        inside: bool,
    },
}

impl Membership<'_> {
    fn arm(&self) -> Arm {
        match self {
            Self::Cohort { .. } | Self::Bucket { inside: true, .. } => Arm::Candidate,
            Self::Bucket { inside: false, .. } => Arm::Stable,
        }
    }
}

/// The steps reached so far: `0..=step`.
fn reached(rollout: &Rollout) -> impl Iterator<Item = &RolloutStep> {
    let upto = usize::try_from(rollout.step)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    rollout.plan.steps.iter().take(upto)
}

/// The cohort of steps `0..=step` that holds the device (device ids compared
/// without case, custom ids exactly), then the bucket against the highest
/// percentage of a reached step whose targeting rule takes the device (the
/// current step's as it stands now, earlier ones' as they ended), so a step
/// with a narrower rule never takes back a device an earlier step took.
/// Each rule's verdict goes to `trace`.
fn membership<'a>(
    rollout: &'a Rollout,
    subject: &Subject<'_>,
    cohorts: &Cohorts,
    now_ms: i64,
    trace: &mut Trace,
) -> Membership<'a> {
    for cohort in reached(rollout).filter_map(|s| s.cohort.as_ref()) {
        if cohort
            .device_ids
            .iter()
            .any(|d| d.eq_ignore_ascii_case(subject.device_id))
        {
            return Membership::Cohort {
                name: &cohort.name,
                by_custom_id: false,
            };
        }
        if subject
            .custom_id
            .is_some_and(|c| !c.is_empty() && cohort.custom_ids.iter().any(|x| x == c))
        {
            return Membership::Cohort {
                name: &cohort.name,
                by_custom_id: true,
            };
        }
    }
    let current = usize::try_from(rollout.step).unwrap_or(usize::MAX);
    let mut percent: f64 = 0.0;
    for (i, step) in reached(rollout).enumerate() {
        let at = if i >= current {
            percent_now(rollout, now_ms)
        } else {
            step.ramp_to.unwrap_or(step.percent)
        };
        let taken = match &step.target {
            None => true,
            Some(rule) => {
                let hit = target::matches(rule, subject, cohorts);
                note!(
                    trace,
                    "step {} is for {}: the device ({}) {}",
                    i + 1,
                    target::describe(rule),
                    target::facts(rule, subject),
                    if hit { "matches" } else { "does not match" }
                );
                hit
            }
        };
        if taken {
            percent = percent.max(at);
        }
    }
    let bucket = bucket(rollout.id, subject.device_id);
    Membership::Bucket {
        bucket,
        percent,
        inside: bucket < cutoff(percent),
    }
}

/// The arm the rollout's membership alone gives the device (its cohorts,
/// the steps' targeting rules and its bucket against the percentage now),
/// whatever the device runs and whether the rollout is paused. The server
/// attributes stats events with it, so what a client claims to run never
/// decides its arm.
pub fn member(rollout: &Rollout, subject: &Subject<'_>, cohorts: &Cohorts, now_ms: i64) -> Arm {
    membership(rollout, subject, cohorts, now_ms, &mut Trace::off()).arm()
}

/// The arm the device is on for the decision, with the reason in `trace`: a
/// device already running the candidate keeps it (running or paused); else a
/// paused rollout gives the stable bundle; else the device's cohort, the
/// steps' targeting rules and its bucket decide. An ended rollout gives the
/// stable arm.
pub fn arm(
    rollout: &Rollout,
    subject: &Subject<'_>,
    cohorts: &Cohorts,
    version_name: &str,
    now_ms: i64,
    trace: &mut Trace,
) -> Arm {
    let candidate = rollout.candidate_version.as_str();
    note!(
        trace,
        "channel {} has rollout {} of {candidate}: {}, step {} of {}, {:.1} % now",
        rollout.channel,
        rollout.id,
        rollout.state.as_str(),
        rollout.step.saturating_add(1),
        rollout.plan.steps.len(),
        percent_now(rollout, now_ms)
    );
    if !rollout.state.is_active() {
        note!(trace, "the rollout has ended -> stable");
        return Arm::Stable;
    }
    if version_name == candidate {
        note!(trace, "already runs the candidate {candidate} -> candidate");
        return Arm::Candidate;
    }
    if rollout.state == RolloutState::Paused {
        note!(trace, "paused: not on the candidate -> stable");
        return Arm::Stable;
    }
    let m = membership(rollout, subject, cohorts, now_ms, trace);
    let targeted = reached(rollout).any(|s| s.target.is_some());
    match &m {
        Membership::Cohort { name, by_custom_id } => note!(
            trace,
            "in cohort {name} by {} -> candidate {candidate}",
            if *by_custom_id {
                "custom id"
            } else {
                "device id"
            }
        ),
        Membership::Bucket {
            bucket,
            percent,
            inside,
        } => note!(
            trace,
            "bucket {bucket} of {BUCKETS}, {}under {} ({percent:.1} % {}) -> {}",
            if *inside { "" } else { "not " },
            cutoff(*percent),
            if targeted {
                "for this device now"
            } else {
                "now"
            },
            if *inside {
                format!("candidate {candidate}")
            } else {
                "stable".to_string()
            }
        ),
    }
    m.arm()
}

/// The plan used when a rollout is started without one: 1 %, 10 %, 50 %,
/// 100 %, an hour each, pausing on a failure or crash rate above 2 % (20
/// devices at least), advancing and promoting by itself.
pub fn default_plan() -> RolloutPlan {
    let gates = vec![
        FailureGate {
            metric: GateMetric::FailureRate,
            threshold: 0.02,
            min_devices: DEFAULT_MIN_DEVICES,
            action: GateAction::Pause,
        },
        FailureGate {
            metric: GateMetric::CrashRate,
            threshold: 0.02,
            min_devices: DEFAULT_MIN_DEVICES,
            action: GateAction::Pause,
        },
    ];
    RolloutPlan {
        steps: [1.0, 10.0, 50.0, 100.0]
            .into_iter()
            .map(|percent| RolloutStep {
                percent,
                min_duration_secs: 3600,
                failure_gates: gates.clone(),
                ..RolloutStep::default()
            })
            .collect(),
        auto_advance: true,
        auto_promote: true,
    }
}

/// Checks a plan: 1 to 20 steps; percentages within 0 to 100, never going
/// down from one step for every device to the next (a step with a targeting
/// rule may: it counts only its devices, and those earlier steps took stay;
/// a ramp ends at or above where it starts); targeting rules that pass
/// [`target::validate`];
/// `ramp_to` and `ramp_secs` together; thresholds that mean something; gates
/// judging on at least [`MIN_GATE_DEVICES`] devices; cohorts
/// with a name, UUID device ids and at most 10 000 ids in all. The error names
/// the step (from 1) and the field.
pub fn validate_plan(plan: &RolloutPlan) -> Result<(), String> {
    if plan.steps.is_empty() || plan.steps.len() > MAX_STEPS {
        return Err(format!(
            "a plan has 1 to {MAX_STEPS} steps, not {}",
            plan.steps.len()
        ));
    }
    let mut floor = 0.0;
    let mut ids = 0_usize;
    for (i, step) in plan.steps.iter().enumerate() {
        let n = i + 1;
        let at = |msg: String| format!("step {n}: {msg}");
        percent_in_range("percent", step.percent).map_err(at)?;
        // A step with a rule counts only its devices, and devices earlier
        // steps took stay: only steps for every device set the floor.
        let everyone = step.target.is_none();
        if everyone && step.percent < floor {
            return Err(at(format!(
                "percent {} is below the {floor} the step before reached (a rollout never takes the candidate back)",
                step.percent
            )));
        }
        if everyone {
            floor = step.percent;
        }
        match (step.ramp_to, step.ramp_secs) {
            (None, None) => {}
            (Some(to), Some(secs)) => {
                percent_in_range("ramp_to", to).map_err(at)?;
                if to < step.percent {
                    return Err(at(format!(
                        "ramp_to {to} is below its percent {}",
                        step.percent
                    )));
                }
                if secs == 0 || secs > MAX_SECS {
                    return Err(at(format!("ramp_secs must be 1 to {MAX_SECS}, not {secs}")));
                }
                if everyone {
                    floor = to;
                }
            }
            _ => return Err(at("ramp_to and ramp_secs go together".into())),
        }
        if step.min_duration_secs > MAX_SECS {
            return Err(at(format!(
                "min_duration_secs must be at most {MAX_SECS}, not {}",
                step.min_duration_secs
            )));
        }
        for gate in &step.failure_gates {
            failure_gate(gate).map_err(at)?;
        }
        if let Some(s) = &step.success {
            if !(s.min_confirmed_rate > 0.0 && s.min_confirmed_rate <= 1.0) {
                return Err(at(format!(
                    "success.min_confirmed_rate must be above 0 and at most 1, not {}",
                    s.min_confirmed_rate
                )));
            }
            if s.min_devices < MIN_GATE_DEVICES {
                return Err(at(format!(
                    "success.min_devices must be at least {MIN_GATE_DEVICES}, not {}",
                    s.min_devices
                )));
            }
        }
        if let Some(rule) = &step.target {
            target::validate(rule).map_err(|e| at(format!("target: {e}")))?;
        }
        if let Some(c) = &step.cohort {
            ids = ids
                .saturating_add(c.device_ids.len())
                .saturating_add(c.custom_ids.len());
            if ids > MAX_COHORT_IDS {
                return Err(at(format!(
                    "the plan's cohorts hold more than {MAX_COHORT_IDS} ids"
                )));
            }
            cohort(c).map_err(at)?;
        }
    }
    Ok(())
}

fn percent_in_range(field: &str, p: f64) -> Result<(), String> {
    if (0.0..=100.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("{field} must be within 0 to 100, not {p}"))
    }
}

fn failure_gate(g: &FailureGate) -> Result<(), String> {
    let name = g.metric.as_str();
    if g.min_devices < MIN_GATE_DEVICES {
        return Err(format!(
            "the {name} gate's min_devices must be at least {MIN_GATE_DEVICES}, not {}",
            g.min_devices
        ));
    }
    match g.metric {
        GateMetric::LaunchTimeP90 if !(g.threshold > 1.0 && g.threshold.is_finite()) => Err(
            format!(
                "the {name} gate's threshold is a ratio of launch times above 1 (1.25 = 25 % slower), not {}",
                g.threshold
            ),
        ),
        GateMetric::FailureRate | GateMetric::CrashRate | GateMetric::ErrorRate
            if !(g.threshold > 0.0 && g.threshold < 1.0) =>
        {
            Err(format!(
                "the {name} gate's threshold is a rate above 0 and below 1 (0.02 = 2 %), not {}",
                g.threshold
            ))
        }
        _ => Ok(()),
    }
}

fn cohort(c: &Cohort) -> Result<(), String> {
    if c.name.trim().is_empty() {
        return Err("a cohort needs a name".into());
    }
    crate::text::line("cohort name", Some(&c.name), MAX_NAME).map_err(|e| e.to_string())?;
    if let Some(bad) = c.device_ids.iter().find(|d| !is_uuid(d)) {
        return Err(format!(
            "cohort {}: device id {bad:?} is not a UUID",
            c.name
        ));
    }
    for id in &c.custom_ids {
        if id.is_empty() {
            return Err(format!("cohort {}: a custom id is empty", c.name));
        }
        crate::text::line("cohort custom id", Some(id), MAX_CUSTOM_ID)
            .map_err(|e| format!("cohort {}: {e}", c.name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
