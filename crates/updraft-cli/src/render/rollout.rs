//! A rollout for people: its status (steps with the current one marked and
//! its time as a bar, every gate, both arms, warnings), the list of rollouts,
//! and the one-line results of starting and acting on one.

use updraft_protocol::api::{
    ArmHealth, GateResult, Rollout, RolloutState, RolloutStatus, RolloutStep, RolloutVerb,
};

use super::{bar, count_of, or_dash, right, Paint};
use crate::output::{table, when};
use crate::span::{millis, percent, rate, secs};

/// Width of a step's time bar.
const BAR: usize = 20;

/// `state` coloured by what it means.
fn state(s: RolloutState, paint: Paint) -> String {
    match s {
        RolloutState::Running | RolloutState::Promoted => paint.green(s.as_str()),
        RolloutState::Paused => paint.yellow(s.as_str()),
        RolloutState::Reverted => paint.red(s.as_str()),
    }
}

/// Who a step adds: `10%`, `1% → 10% over 2d`, `cohort qa (2 devices) + 1%`.
fn step_devices(s: &RolloutStep) -> String {
    let mut share = percent(s.percent);
    if let (Some(to), Some(over)) = (s.ramp_to, s.ramp_secs) {
        share = format!("{share} → {} over {}", percent(to), secs(over));
    }
    let Some(c) = &s.cohort else {
        return share;
    };
    let mut who = Vec::new();
    if !c.device_ids.is_empty() {
        who.push(plural(c.device_ids.len(), "device"));
    }
    if !c.custom_ids.is_empty() {
        who.push(plural(c.custom_ids.len(), "custom id"));
    }
    let cohort = format!("cohort {} ({})", c.name, who.join(", "));
    if s.percent > 0.0 || s.ramp_to.is_some() {
        format!("{cohort} + {share}")
    } else {
        cohort
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The current step's time: a bar of its age against the longer of its
/// minimum and its ramp.
fn step_time(r: &Rollout, s: &RolloutStep, now_ms: i64) -> String {
    let age = u64::try_from((now_ms - r.step_started_at) / 1000).unwrap_or(0);
    let target = s.min_duration_secs.max(s.ramp_secs.unwrap_or(0));
    let mut text = if target == 0 {
        format!("{} (no minimum)", secs(age))
    } else {
        format!(
            "{} {} of {}",
            bar(age as f64 / target as f64, BAR),
            secs(age.min(target)),
            secs(target)
        )
    };
    if r.state == RolloutState::Paused {
        text.push_str(" (paused)");
    }
    text
}

fn steps_table(st: &RolloutStatus, now_ms: i64, paint: Paint) -> String {
    let r = &st.rollout;
    let current = usize::try_from(r.step).unwrap_or(usize::MAX);
    let rows: Vec<Vec<String>> = r
        .plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let progress = match (i.cmp(&current), r.state) {
                (std::cmp::Ordering::Less, _) => paint.green("done"),
                (std::cmp::Ordering::Equal, RolloutState::Promoted) => paint.green("promoted"),
                (std::cmp::Ordering::Equal, RolloutState::Reverted) => paint.red("reverted"),
                (std::cmp::Ordering::Equal, _) => step_time(r, s, now_ms),
                (std::cmp::Ordering::Greater, RolloutState::Promoted) => "skipped".into(),
                (std::cmp::Ordering::Greater, _) => String::new(),
            };
            vec![
                if i == current { ">" } else { "" }.to_string(),
                (i + 1).to_string(),
                step_devices(s),
                secs(s.min_duration_secs),
                progress,
            ]
        })
        .collect();
    table(&["", "STEP", "DEVICES", "MIN TIME", "PROGRESS"], &rows)
}

/// A gate's value or threshold: a ratio for launch times, else a rate.
fn gate_value(gate: &str, v: f64) -> String {
    if gate == "launch_time_p90" {
        format!("{v:.2}x")
    } else {
        rate(v)
    }
}

fn gate_status(status: &str, paint: Paint) -> String {
    match status {
        "pass" => paint.green(status),
        "fail" => paint.red(status),
        _ => paint.yellow(status),
    }
}

/// The gates of the current step: its latest evaluation, or the plan's
/// gates when it was not evaluated yet.
fn gates(st: &RolloutStatus, paint: Paint) -> String {
    let r = &st.rollout;
    let step = usize::try_from(r.step)
        .ok()
        .and_then(|i| r.plan.steps.get(i));
    let check = st.checks.first().filter(|c| c.step == r.step);
    let (heading, results): (String, Vec<GateResult>) = match check {
        Some(c) => (
            format!(
                "Gates of step {} (checked {} UTC: {})",
                r.step + 1,
                when(c.at),
                c.outcome
            ),
            c.gates.clone(),
        ),
        None => {
            let mut planned: Vec<GateResult> = step
                .map(|s| {
                    s.failure_gates
                        .iter()
                        .map(|g| GateResult {
                            gate: g.metric.as_str().into(),
                            status: "-".into(),
                            value: None,
                            bound: None,
                            threshold: g.threshold,
                            devices: 0,
                            detail: format!("{} when tripped", g.action.as_str()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let Some(g) = step.and_then(|s| s.success.as_ref()) {
                planned.push(GateResult {
                    gate: "success".into(),
                    status: "-".into(),
                    value: None,
                    bound: None,
                    threshold: g.min_confirmed_rate,
                    devices: 0,
                    detail: format!("advance once confirmed, on {} devices", g.min_devices),
                });
            }
            (
                format!("Gates of step {} (not checked yet)", r.step + 1),
                planned,
            )
        }
    };
    if results.is_empty() {
        return format!("{heading}: none\n");
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|g| {
            vec![
                g.gate.clone(),
                gate_status(&g.status, paint),
                or_dash(g.value, |v| gate_value(&g.gate, v)),
                or_dash(g.bound, |v| gate_value(&g.gate, v)),
                gate_value(&g.gate, g.threshold),
                if check.is_some() {
                    g.devices.to_string()
                } else {
                    "-".into()
                },
                g.detail.clone(),
            ]
        })
        .collect();
    format!(
        "{heading}\n{}",
        table(
            &[
                "GATE",
                "STATUS",
                "VALUE",
                "BOUND",
                "THRESHOLD",
                "DEVICES",
                "DETAIL"
            ],
            &rows
        )
    )
}

fn arm_row(name: &str, bundle: &str, h: &ArmHealth) -> Vec<String> {
    vec![
        name.into(),
        bundle.into(),
        h.devices.to_string(),
        h.attempted.to_string(),
        h.installed.to_string(),
        h.ran.to_string(),
        count_of(h.failed, h.attempted),
        count_of(h.crashed, h.ran),
        count_of(h.errored, h.ran),
        count_of(h.confirmed, h.installed),
        or_dash(h.launch_p90_ms, |ms| {
            millis(i64::try_from(ms).unwrap_or(i64::MAX))
        }),
    ]
}

/// `rollout status`: everything about the channel's rollout at `now_ms`.
pub(crate) fn status(st: &RolloutStatus, now_ms: i64, paint: Paint) -> String {
    let r = &st.rollout;
    let total = r.plan.steps.len();
    let mut out = format!(
        "{} {} of {} on {} (stable: {})\n",
        paint.bold("Rollout"),
        r.id,
        r.candidate_version,
        r.channel,
        st.stable_version
    );
    let share = if r.state.is_active() {
        format!(", {} of devices now", percent(st.percent_now))
    } else {
        String::new()
    };
    out.push_str(&format!(
        "state    {}: step {} of {total}{share}\n",
        state(r.state, paint),
        r.step + 1
    ));
    out.push_str(&format!("started  {} UTC\n", when(r.started_at)));
    if let Some(end) = r.ended_at {
        out.push_str(&format!("ended    {} UTC\n", when(end)));
    }
    if let Some(reason) = &r.reason {
        out.push_str(&format!("reason   {reason}\n"));
    }
    let mut then = Vec::new();
    if !r.plan.auto_advance {
        then.push("steps advance only by `updraft rollout advance`");
    }
    then.push(if r.plan.auto_promote {
        "promoted once the last step passes"
    } else {
        "after the last step, promote it by hand"
    });
    out.push_str(&format!("plan     {}\n\n", then.join("; ")));
    out.push_str(&steps_table(st, now_ms, paint));
    out.push('\n');
    out.push_str(&gates(st, paint));
    out.push('\n');
    let headers = [
        "ARM",
        "BUNDLE",
        "DEVICES",
        "TRIED",
        "INSTALLED",
        "RAN",
        "FAILED",
        "CRASHED",
        "JS ERRORS",
        "CONFIRMED",
        "LAUNCH P90",
    ];
    let mut rows = vec![
        arm_row("candidate", &r.candidate_version, &st.candidate),
        arm_row("stable", &st.stable_version, &st.stable),
    ];
    for (col, header) in headers.iter().enumerate().skip(2) {
        let mut cells: Vec<String> = rows.iter().map(|row| row[col].clone()).collect();
        right(&mut cells, header);
        for (row, cell) in rows.iter_mut().zip(cells) {
            row[col] = cell;
        }
    }
    out.push_str("Arms (devices counted once each)\n");
    out.push_str(&table(&headers, &rows));
    for w in &st.warnings {
        out.push_str(&format!("\n{} {w}", paint.yellow("warning:")));
    }
    out
}

/// `rollout list`: one line per rollout.
pub(crate) fn list(rollouts: &[Rollout], paint: Paint) -> String {
    if rollouts.is_empty() {
        return "No rollouts yet: `updraft rollout start --bundle VERSION` starts one.".into();
    }
    let rows: Vec<Vec<String>> = rollouts
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.channel.clone(),
                r.candidate_version.clone(),
                state(r.state, paint),
                format!("{}/{}", r.step + 1, r.plan.steps.len()),
                when(r.started_at),
                or_dash(r.ended_at, when),
                r.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "CHANNEL",
            "BUNDLE",
            "STATE",
            "STEP",
            "STARTED (UTC)",
            "ENDED (UTC)",
            "REASON",
        ],
        &rows,
    )
}

/// What `rollout start` did.
pub(crate) fn started(r: &Rollout) -> String {
    let first = r.plan.steps.first().map(step_devices).unwrap_or_default();
    format!(
        "Started rollout {} of {} on {}: step 1 of {}, {first}.\nWatch it: updraft rollout status --channel {} --watch",
        r.id,
        r.candidate_version,
        r.channel,
        r.plan.steps.len(),
        r.channel
    )
}

/// What a manual action did.
pub(crate) fn acted(verb: RolloutVerb, r: &Rollout) -> String {
    let (v, c) = (&r.candidate_version, &r.channel);
    let step = format!("step {} of {}", r.step + 1, r.plan.steps.len());
    match verb {
        RolloutVerb::Pause => format!(
            "Paused the rollout of {v} on {c} at {step}: no more devices get it; those that have it keep it."
        ),
        RolloutVerb::Resume => format!("Resumed the rollout of {v} on {c} at {step}."),
        RolloutVerb::Advance => format!("Advanced the rollout of {v} on {c} to {step}."),
        RolloutVerb::Promote => {
            format!("Promoted {v}: it is now the bundle of {c} for every device.")
        }
        RolloutVerb::Revert => format!(
            "Reverted the rollout of {v} on {c}: every device goes back to the channel's bundle."
        ),
    }
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
