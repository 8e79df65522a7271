//! A channel's rollout on its page: the steps and gates, the latest gate
//! check with the failure rate drawn against its threshold, the actions
//! (pause, resume, advance, promote, revert) and the form that starts one.
//! Each action calls the `/api/v1` rollout handler with the session's key.

use axum::extract::State;
use maud::{html, Markup};
use updraft_protocol::api::*;

use super::charts::{self, Point};
use super::forms::Posted;
use super::layout::{csrf, rate, see_other, time, PageError, PageResult};
use super::session::Signed;
use crate::error::ApiError;
use crate::rejection::{Path, Query};
use crate::routes::api::JsonBody;
use crate::routes::rollouts;
use crate::state::AppState;

use super::channels::here;

pub(crate) fn section(signed: &Signed, base: &str, r: &RolloutStatus) -> Markup {
    let ro = &r.rollout;
    let active = ro.state.is_active();
    let can = signed.auth.0.mode >= KeyMode::Upload;
    html! {
        section #rollout aria-labelledby="rollout-title" {
            h2 #rollout-title { "Rollout" }
            (super::apps::rollout_line(r))
            p.muted {
                "From " span.mono { (r.stable_version) } " to " span.mono { (ro.candidate_version) }
                ", started " (time(ro.started_at))
                @if let Some(why) = &ro.reason { ". Last reason: " (why) }
            }
            div.table-wrap { table {
                caption { "Steps" }
                thead { tr { th scope="col" { "Step" } th.num scope="col" { "Devices" } th.num scope="col" { "At least" } th scope="col" { "Gates" } } }
                tbody {
                    @for (i, step) in ro.plan.steps.iter().enumerate() {
                        tr aria-current=[(active && i == ro.step as usize).then_some("step")] {
                            td { (i + 1) @if active && i == ro.step as usize { " (now)" } }
                            td.num { (format!("{} %", step.percent)) }
                            td.num { (format!("{} min", step.min_duration_secs / 60)) }
                            td {
                                @for g in &step.failure_gates {
                                    span.badge { (g.metric.as_str()) " ≤ " (gate_threshold(g)) " → " (g.action.as_str()) } " "
                                }
                                @if let Some(ok) = &step.success {
                                    span.badge { "confirmed ≥ " (rate(Some(ok.min_confirmed_rate))) }
                                }
                            }
                        }
                    }
                }
            } }
            @if let Some(check) = r.checks.first() {
                h3 { "Latest gate check (step " (check.step + 1) ", " (time(check.at)) ": " (check.outcome) ")" }
                ul {
                    @for g in &check.gates {
                        li { strong { (g.gate) } " " (g.status) ": " (g.detail) }
                    }
                }
            }
            @for (gate, title) in GATE_CHARTS {
                @if let Some((points, threshold)) = gate_series(r, gate) {
                    (charts::line(&format!("{gate}-chart"), title, &points, Some(threshold), &format!("{base}/gate.csv?gate={gate}")))
                }
            }
            @for w in &r.warnings { p.notice { (w) } }
            @if active && can {
                div.actions {
                    @if ro.state == RolloutState::Running { (verb(signed, base, "pause", "Pause", None)) }
                    @if ro.state == RolloutState::Paused { (verb(signed, base, "resume", "Resume", None)) }
                    @if (ro.step as usize) + 1 < ro.plan.steps.len() { (verb(signed, base, "advance", "Advance to the next step", None)) }
                    (verb(signed, base, "promote", "Promote to everyone", Some("Give the candidate to every device now?")))
                    (verb(signed, base, "revert", "Revert", Some("Send every device back to the stable bundle?")))
                }
            }
        }
    }
}

fn gate_threshold(g: &FailureGate) -> String {
    if g.metric == GateMetric::LaunchTimeP90 {
        format!("{:.2}×", g.threshold)
    } else {
        rate(Some(g.threshold))
    }
}

fn verb(signed: &Signed, base: &str, verb: &str, label: &str, confirm: Option<&str>) -> Markup {
    let danger = verb == "revert";
    html! {
        form.inline method="post" action={ (base) "/rollout/" (verb) } data-confirm=[confirm] {
            (csrf(signed))
            @if danger { button.danger type="submit" { (label) } } @else { button type="submit" { (label) } }
        }
    }
}

pub(crate) fn start_form(signed: &Signed, base: &str, c: &Channel, live: &[&Bundle]) -> Markup {
    html! {
        details {
            summary { "Start a staged rollout" }
            form.stack method="post" action={ (base) "/rollout" } {
                (csrf(signed))
                label for="rollout-bundle" { "Candidate bundle" }
                select #rollout-bundle name="bundle" required {
                    @for b in live.iter().filter(|b| b.version != c.bundle_version) {
                        option value=(b.version) { (b.version) }
                    }
                }
                label for="rollout-steps" { "Steps, in percent of devices" }
                input #rollout-steps type="text" name="steps" placeholder="1, 10, 50, 100" aria-describedby="rollout-steps-help";
                label for="rollout-minutes" { "Minutes per step" }
                input #rollout-minutes type="text" inputmode="numeric" name="minutes" placeholder="60";
                p.muted #rollout-steps-help { "Each step pauses the rollout when the failure or crash rate is above 2 % on at least 20 devices. Empty: 1, 10, 50, 100, an hour each." }
                div { button type="submit" { "Start rollout" } }
            }
        }
    }
}

/// `POST /ui/apps/{app}/channels/{name}/rollout`: starts a rollout.
pub(crate) async fn start(
    State(s): State<AppState>,
    Path((app_id, name)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let f = &posted.fields;
    let bundle = f
        .text("bundle")
        .ok_or_else(|| ApiError::bad_request("invalid_plan", "choose the candidate bundle"))?
        .to_string();
    let plan = plan_from(
        f.get("steps").unwrap_or_default(),
        f.get("minutes").unwrap_or_default(),
    )?;
    rollouts::start_rollout_op(
        &s,
        &posted.signed.auth,
        &app_id,
        &name,
        NewRollout { bundle, plan },
    )
    .await?;
    Ok(see_other(&format!("{}#rollout", here(&app_id, &name))))
}

/// A plan from the form: percentages separated by commas or spaces, and
/// minutes per step; both empty is the default plan. Each step keeps the
/// default plan's failure gates. The API then validates it as any plan.
fn plan_from(steps: &str, minutes: &str) -> Result<Option<RolloutPlan>, ApiError> {
    let bad = |m: String| ApiError::bad_request("invalid_plan", m);
    if steps.trim().is_empty() && minutes.trim().is_empty() {
        return Ok(None);
    }
    let default = updraft_core::rollout::default_plan();
    let percents: Vec<f64> = if steps.trim().is_empty() {
        default.steps.iter().map(|s| s.percent).collect()
    } else {
        steps
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.trim_end_matches('%')
                    .parse::<f64>()
                    .map_err(|_| bad(format!("{p:?} is not a percentage")))
            })
            .collect::<Result<_, _>>()?
    };
    let minutes: u64 = if minutes.trim().is_empty() {
        60
    } else {
        minutes
            .trim()
            .parse()
            .map_err(|_| bad(format!("{minutes:?} is not a number of minutes")))?
    };
    let gates = default.steps[0].failure_gates.clone();
    Ok(Some(RolloutPlan {
        steps: percents
            .into_iter()
            .map(|percent| RolloutStep {
                percent,
                min_duration_secs: minutes.saturating_mul(60),
                failure_gates: gates.clone(),
                ..RolloutStep::default()
            })
            .collect(),
        ..default
    }))
}

/// `POST /ui/apps/{app}/channels/{name}/rollout/{verb}`.
pub(crate) async fn act(
    State(s): State<AppState>,
    Path((app_id, name, verb)): Path<(String, String, RolloutVerb)>,
    posted: Posted,
) -> Result<axum::response::Response, PageError> {
    let reason = posted.fields.text("reason").map(|r| {
        JsonBody(RolloutAction {
            reason: Some(r.to_string()),
        })
    });
    let _acted = rollouts::rollout_action(
        State(s),
        posted.signed.auth,
        Path((app_id.clone(), name.clone(), verb)),
        reason,
    )
    .await?;
    Ok(see_other(&format!("{}#rollout", here(&app_id, &name))))
}

/// The rate gates drawn as charts: the gate's name and the chart's title.
const GATE_CHARTS: [(&str, &str); 3] = [
    ("failure_rate", "Candidate failure rate at each gate check"),
    ("crash_rate", "Candidate crash rate at each gate check"),
    (
        "error_rate",
        "Candidate JavaScript error rate at each gate check",
    ),
];

/// The candidate's value of `gate` at each gate check (oldest first) and
/// the gate's threshold, when the rollout has that gate.
fn gate_series(r: &RolloutStatus, gate: &str) -> Option<(Vec<Point>, f64)> {
    let find = |c: &RolloutCheck| c.gates.iter().find(|g| g.gate == gate).cloned();
    let threshold = r.checks.iter().find_map(find)?.threshold;
    let points = r
        .checks
        .iter()
        .rev()
        .filter_map(|c| {
            Some(Point {
                at: c.at,
                value: find(c)?.value.unwrap_or(0.0),
            })
        })
        .collect();
    Some((points, threshold))
}

/// The query of a gate chart's CSV.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct GateQuery {
    gate: String,
}

/// `GET /ui/apps/{app}/channels/{name}/gate.csv?gate=`: a gate chart's numbers.
pub(crate) async fn gate_csv(
    State(s): State<AppState>,
    signed: Signed,
    Path((app_id, name)): Path<(String, String)>,
    Query(q): Query<GateQuery>,
) -> PageResult {
    let Some((gate, _)) = GATE_CHARTS.iter().find(|(g, _)| *g == q.gate) else {
        return Err(ApiError::not_found(format!("no chart of gate {:?}", q.gate)).into());
    };
    let r = rollouts::rollout_status(State(s), signed.auth, Path((app_id, name.clone())))
        .await?
        .0;
    let points = gate_series(&r, gate).map(|(p, _)| p).unwrap_or_default();
    Ok(charts::csv(&format!("{name}-{gate}"), &points))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_from_the_form() {
        assert_eq!(plan_from("", "").unwrap(), None);
        let p = plan_from("5, 50 100%", "2").unwrap().unwrap();
        assert_eq!(
            p.steps.iter().map(|s| s.percent).collect::<Vec<_>>(),
            vec![5.0, 50.0, 100.0]
        );
        assert!(p
            .steps
            .iter()
            .all(|s| s.min_duration_secs == 120 && s.failure_gates.len() == 2));
        assert!(plan_from("five", "").is_err());
        assert!(plan_from("5", "-1").is_err());
    }
}
