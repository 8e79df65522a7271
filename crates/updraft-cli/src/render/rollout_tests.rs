//! Snapshots of a rollout's text, colours off.

use updraft_protocol::api::{
    Cohort, FailureGate, GateAction, GateMetric, RolloutCheck, RolloutPlan, SuccessGate,
};

use super::*;

/// 2026-01-01 10:00 UTC.
const T0: i64 = 1_767_261_600_000;
const MIN: i64 = 60_000;

fn gate(metric: GateMetric, threshold: f64) -> FailureGate {
    FailureGate {
        metric,
        threshold,
        min_devices: 20,
        action: GateAction::Pause,
    }
}

fn plan() -> RolloutPlan {
    let gates = vec![
        gate(GateMetric::FailureRate, 0.02),
        gate(GateMetric::CrashRate, 0.02),
        gate(GateMetric::LaunchTimeP90, 1.25),
    ];
    let step = |percent: f64| RolloutStep {
        percent,
        min_duration_secs: 3600,
        failure_gates: gates.clone(),
        ..Default::default()
    };
    RolloutPlan {
        steps: vec![
            RolloutStep {
                cohort: Some(Cohort {
                    name: "qa".into(),
                    device_ids: vec!["a".into(), "b".into()],
                    custom_ids: vec!["qa-1".into()],
                }),
                ..step(0.0)
            },
            RolloutStep {
                ramp_to: Some(50.0),
                ramp_secs: Some(2 * 86_400),
                success: Some(SuccessGate {
                    min_confirmed_rate: 0.95,
                    min_devices: 20,
                }),
                ..step(10.0)
            },
            step(50.0),
            step(100.0),
        ],
        auto_advance: true,
        auto_promote: true,
    }
}

fn rollout(state: RolloutState, step: u32) -> Rollout {
    Rollout {
        id: 3,
        app_id: "com.example.app".into(),
        channel_id: 1,
        channel: "production".into(),
        candidate_id: 7,
        candidate_version: "1.0.2".into(),
        plan: plan(),
        state,
        step,
        step_started_at: T0 + 90 * MIN,
        started_at: T0,
        ended_at: None,
        reason: None,
        revision: 4,
    }
}

fn arm(devices: u64, failed: u64, crashed: u64, p90: Option<u64>) -> ArmHealth {
    ArmHealth {
        devices,
        attempted: devices,
        installed: devices - failed,
        ran: devices - failed,
        failed,
        crashed,
        errored: 0,
        confirmed: devices - failed - crashed,
        launch_p90_ms: p90,
        launch_samples: devices - failed,
    }
}

fn result(
    gate: &str,
    status: &str,
    value: Option<f64>,
    bound: Option<f64>,
    threshold: f64,
    devices: u64,
    detail: &str,
) -> GateResult {
    GateResult {
        gate: gate.into(),
        status: status.into(),
        value,
        bound,
        threshold,
        devices,
        detail: detail.into(),
    }
}

fn running() -> RolloutStatus {
    let candidate = arm(250, 1, 9, Some(1830));
    let stable = arm(2400, 10, 12, Some(1420));
    RolloutStatus {
        rollout: rollout(RolloutState::Running, 1),
        stable_version: "1.0.1".into(),
        percent_now: 12.5,
        candidate: candidate.clone(),
        stable: stable.clone(),
        checks: vec![RolloutCheck {
            id: 40,
            step: 1,
            at: T0 + 110 * MIN,
            outcome: "none".into(),
            gates: vec![
                result(
                    "failure_rate",
                    "pass",
                    Some(0.004),
                    Some(0.0011),
                    0.02,
                    250,
                    "1 of 250 failed",
                ),
                result(
                    "crash_rate",
                    "fail",
                    Some(0.0362),
                    Some(0.0215),
                    0.02,
                    249,
                    "9 of 249 crashed",
                ),
                result(
                    "launch_time_p90",
                    "pass",
                    Some(1.289),
                    None,
                    1.25,
                    249,
                    "1830 ms against 1420 ms",
                ),
                result(
                    "success",
                    "pending",
                    Some(0.96),
                    None,
                    0.95,
                    239,
                    "step needs 1h",
                ),
            ],
            candidate,
            stable,
        }],
        warnings: vec!["2 devices of the candidate arm run a plugin that trims stats".into()],
    }
}

#[test]
fn a_running_rollout_shows_its_step_gates_and_arms() {
    let now = T0 + 111 * MIN;
    let text = status(&running(), now, Paint::OFF);
    assert!(!text.contains('\u{1b}'), "no colour codes when off");
    insta::assert_snapshot!(text);
}

#[test]
fn an_unchecked_paused_step_lists_its_planned_gates() {
    let mut st = running();
    st.rollout.state = RolloutState::Paused;
    st.rollout.step = 2;
    st.rollout.reason = Some("crash_rate: 3.62% (bound 2.15%) > 2%".into());
    st.checks[0].step = 1;
    st.percent_now = 50.0;
    st.warnings.clear();
    insta::assert_snapshot!(status(&st, T0 + 95 * MIN, Paint::OFF));
}

#[test]
fn an_ended_rollout_marks_where_it_ended() {
    let mut st = running();
    st.rollout.state = RolloutState::Promoted;
    st.rollout.ended_at = Some(T0 + 200 * MIN);
    st.rollout.reason = Some("by hand: looks good".into());
    st.rollout.plan.auto_advance = false;
    st.checks.clear();
    let text = status(&st, T0 + 300 * MIN, Paint::OFF);
    assert!(!text.contains("of devices now"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn the_list_has_a_line_per_rollout() {
    let mut ended = rollout(RolloutState::Reverted, 0);
    ended.id = 2;
    ended.candidate_version = "1.0.1-rc.1".into();
    ended.ended_at = Some(T0 - 10 * MIN);
    ended.started_at = T0 - 60 * MIN;
    ended.reason = Some("gate failure_rate".into());
    insta::assert_snapshot!(list(
        &[rollout(RolloutState::Running, 1), ended],
        Paint::OFF
    ));
    assert!(list(&[], Paint::OFF).contains("rollout start"));
}

#[test]
fn starts_and_actions_say_what_changed() {
    let r = rollout(RolloutState::Running, 0);
    assert_eq!(
        started(&r),
        "Started rollout 3 of 1.0.2 on production: step 1 of 4, cohort qa (2 devices, 1 custom id).\nWatch it: updraft rollout status --channel production --watch"
    );
    let r = rollout(RolloutState::Paused, 1);
    assert_eq!(
        acted(RolloutVerb::Pause, &r),
        "Paused the rollout of 1.0.2 on production at step 2 of 4: no more devices get it; those that have it keep it."
    );
    assert!(acted(RolloutVerb::Promote, &r).contains("now the bundle of production"));
}

#[test]
fn colours_mark_states_and_statuses_without_breaking_columns() {
    let text = status(&running(), T0 + 111 * MIN, Paint { on: true });
    assert!(text.contains("\u{1b}[31mfail\u{1b}[0m"), "{text}");
    assert!(text.contains("\u{1b}[32mrunning\u{1b}[0m"), "{text}");
    let plain = status(&running(), T0 + 111 * MIN, Paint::OFF);
    let stripped: String = {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    assert_eq!(stripped, plain, "colours add codes and nothing else");
}
