//! Unit tests of the gates: the Wilson bounds, the figures, the
//! step verdict and the plan's automatic moves, and the blind spots.

use super::*;
use updraft_protocol::api::RolloutPlan;

mod blind;
mod wilson;

const MIN: i64 = 60_000;

fn gate(metric: GateMetric, threshold: f64, action: GateAction) -> FailureGate {
    FailureGate {
        metric,
        threshold,
        min_devices: 20,
        action,
    }
}

fn step(gates: Vec<FailureGate>) -> RolloutStep {
    RolloutStep {
        percent: 10.0,
        min_duration_secs: 1800,
        failure_gates: gates,
        ..RolloutStep::default()
    }
}

/// An arm where `k` of `n` devices tried and failed.
fn failing(k: u64, n: u64) -> ArmHealth {
    ArmHealth {
        devices: n,
        attempted: n,
        failed: k,
        ..ArmHealth::default()
    }
}

/// An arm where `k` of `n` devices that ran it crashed.
fn crashing(k: u64, n: u64) -> ArmHealth {
    ArmHealth {
        devices: n,
        attempted: n,
        installed: n,
        ran: n,
        crashed: k,
        ..ArmHealth::default()
    }
}

fn failure_rate_2pc() -> RolloutStep {
    step(vec![gate(GateMetric::FailureRate, 0.02, GateAction::Pause)])
}

fn rollout(steps: Vec<RolloutStep>, at: u32) -> Rollout {
    Rollout {
        id: 7,
        app_id: "com.example.app".into(),
        channel_id: 1,
        channel: "production".into(),
        candidate_id: 2,
        candidate_version: "1.2.0".into(),
        plan: RolloutPlan {
            steps,
            auto_advance: true,
            auto_promote: true,
        },
        state: RolloutState::Running,
        step: at,
        step_started_at: 0,
        started_at: 0,
        ended_at: None,
        reason: None,
        revision: 1,
    }
}

#[test]
fn one_failure_in_two_devices_stops_nothing() {
    let v = evaluate(&failure_rate_2pc(), &failing(1, 2), &failing(0, 0), 0, true);
    assert_eq!(v.gates[0].status, PENDING);
    assert_eq!(
        v.gates[0].detail,
        "1 of 2 devices failed; 20 are needed to judge"
    );
    assert_eq!(v.outcome, Outcome::None);
}

#[test]
fn thirty_failures_in_a_thousand_at_two_percent_pause() {
    let v = evaluate(
        &failure_rate_2pc(),
        &failing(30, 1000),
        &failing(0, 5),
        0,
        false,
    );
    let g = &v.gates[0];
    assert_eq!((g.gate.as_str(), g.status.as_str()), ("failure_rate", FAIL));
    assert_eq!(g.devices, 1000);
    assert_eq!(g.value, Some(0.03));
    assert!((g.bound.unwrap() - 0.022_316).abs() < 1e-5);
    assert_eq!(
        g.detail,
        "3.0 % of 1,000 devices failed (at least 2.2 % with 95 % confidence) > 2.0 %"
    );
    assert_eq!(v.outcome, Outcome::Pause);
    assert_eq!(
        v.reason(),
        "pause: failure_rate: 3.0 % of 1,000 devices failed (at least 2.2 % with 95 % confidence) > 2.0 %"
    );
    // A healthy stable arm with enough devices: still trips, and says so.
    let v = evaluate(
        &failure_rate_2pc(),
        &failing(30, 1000),
        &failing(5, 1000),
        0,
        false,
    );
    assert_eq!(v.outcome, Outcome::Pause);
    assert!(v.gates[0]
        .detail
        .ends_with("; stable 0.5 % of 1,000 (at most 1.0 %)"));
}

#[test]
fn a_candidate_no_worse_than_the_stable_bundle_does_not_stop() {
    let v = evaluate(
        &failure_rate_2pc(),
        &failing(15, 1000),
        &failing(15, 1000),
        0,
        false,
    );
    assert_eq!(v.gates[0].status, PASS);
    assert_eq!(
        v.gates[0].detail,
        "1.5 % of 1,000 devices failed (at least 1.0 % with 95 % confidence), not above 2.0 %"
    );
    // 5 % against an equally failing stable arm: above the threshold, not above the stable.
    let v = evaluate(
        &failure_rate_2pc(),
        &failing(50, 1000),
        &failing(50, 1000),
        0,
        false,
    );
    assert_eq!(v.gates[0].status, PASS);
    assert!(v.gates[0]
        .detail
        .contains("but the stable arm is no better"));
    assert_ne!(v.outcome, Outcome::Pause);
    // The same candidate against a healthy stable arm trips.
    let v = evaluate(
        &failure_rate_2pc(),
        &failing(50, 1000),
        &failing(10, 1000),
        0,
        false,
    );
    assert_eq!(v.outcome, Outcome::Pause);
}

#[test]
fn twenty_percent_crashes_over_fifty_devices_stop() {
    let s = step(vec![gate(GateMetric::CrashRate, 0.02, GateAction::Revert)]);
    let v = evaluate(&s, &crashing(10, 50), &crashing(0, 3), 99 * MIN, true);
    assert_eq!(v.outcome, Outcome::Revert);
    assert_eq!(
        v.gates[0].detail,
        "20.0 % of 50 devices crashed (at least 12.3 % with 95 % confidence) > 2.0 %"
    );
    // Crash and error rates count over devices that ran the bundle, not that tried it.
    let mut c = crashing(10, 50);
    c.ran = 10;
    let v = evaluate(&s, &c, &ArmHealth::default(), 0, true);
    assert_eq!(v.gates[0].status, PENDING);
}

#[test]
fn error_rate_counts_javascript_errors_over_devices_that_ran_it() {
    let s = step(vec![gate(GateMetric::ErrorRate, 0.05, GateAction::Alert)]);
    let c = ArmHealth {
        ran: 200,
        errored: 40,
        failed: 200,
        attempted: 200,
        ..ArmHealth::default()
    };
    let v = evaluate(&s, &c, &ArmHealth::default(), 0, true);
    assert_eq!(v.outcome, Outcome::Alert);
    assert!(v.gates[0]
        .detail
        .starts_with("20.0 % of 200 devices had a JavaScript error"));
}

#[test]
fn revert_beats_pause_beats_alert() {
    let all = |actions: &[GateAction]| {
        let gates = actions
            .iter()
            .map(|a| gate(GateMetric::CrashRate, 0.02, *a))
            .collect();
        evaluate(
            &step(gates),
            &crashing(100, 500),
            &ArmHealth::default(),
            0,
            true,
        )
        .outcome
    };
    assert_eq!(all(&[GateAction::Alert]), Outcome::Alert);
    assert_eq!(all(&[GateAction::Alert, GateAction::Pause]), Outcome::Pause);
    assert_eq!(all(&[GateAction::Pause, GateAction::Alert]), Outcome::Pause);
    assert_eq!(
        all(&[GateAction::Alert, GateAction::Revert, GateAction::Pause]),
        Outcome::Revert
    );
    // Only tripped gates act: a revert gate that passes does not.
    let s = step(vec![
        gate(GateMetric::CrashRate, 0.02, GateAction::Alert),
        gate(GateMetric::FailureRate, 0.5, GateAction::Revert),
    ]);
    assert_eq!(
        evaluate(&s, &crashing(100, 500), &ArmHealth::default(), 0, true).outcome,
        Outcome::Alert
    );
}

#[test]
fn a_failing_alert_gate_does_not_hold_back_an_advance_or_a_promotion() {
    let alerting = || {
        step(vec![
            gate(GateMetric::ErrorRate, 0.05, GateAction::Alert),
            gate(GateMetric::CrashRate, 0.5, GateAction::Revert),
        ])
    };
    let c = ArmHealth {
        ran: 200,
        errored: 40,
        ..ArmHealth::default()
    };
    // The step is old enough: it advances, and the failing gate is still shown.
    let v = evaluate(&alerting(), &c, &none(), 40 * MIN, true);
    assert_eq!(v.outcome, Outcome::Advance);
    assert_eq!(v.gates[0].status, FAIL);
    assert_eq!(
        v.reason(),
        "step passed: 40 min >= 30 min; also failing (alert): error_rate: 20.0 % of 200 devices \
         had a JavaScript error (at least 15.8 % with 95 % confidence) > 5.0 %"
    );
    let mut r = rollout(vec![alerting(), alerting()], 0);
    assert_eq!(
        evaluate_rollout(&r, &c, &none(), 40 * MIN).outcome,
        Outcome::Advance
    );
    r.step = 1;
    assert_eq!(
        evaluate_rollout(&r, &c, &none(), 40 * MIN).outcome,
        Outcome::Promote
    );
    // No automatic move: then the alert is what the step calls for.
    r.plan.auto_promote = false;
    assert_eq!(
        evaluate_rollout(&r, &c, &none(), 40 * MIN).outcome,
        Outcome::Alert
    );
    // Too young to advance: the alert.
    assert_eq!(
        evaluate(&alerting(), &c, &none(), 10 * MIN, true).outcome,
        Outcome::Alert
    );
    // A pause or revert gate still beats the advance.
    for (action, outcome) in [
        (GateAction::Pause, Outcome::Pause),
        (GateAction::Revert, Outcome::Revert),
    ] {
        let s = step(vec![gate(GateMetric::ErrorRate, 0.05, action)]);
        assert_eq!(evaluate(&s, &c, &none(), 40 * MIN, true).outcome, outcome);
    }
}

#[test]
fn a_step_advances_only_with_time_success_and_ramp_done() {
    let mut s = step(vec![gate(GateMetric::FailureRate, 0.02, GateAction::Pause)]);
    s.success = Some(SuccessGate {
        min_confirmed_rate: 0.95,
        min_devices: 20,
    });
    let healthy = ArmHealth {
        attempted: 40,
        installed: 40,
        ran: 40,
        confirmed: 39,
        ..ArmHealth::default()
    };
    let v = evaluate(&s, &healthy, &ArmHealth::default(), 40 * MIN, true);
    assert_eq!(v.outcome, Outcome::Advance);
    assert_eq!(
        v.reason(),
        "step passed: 39 of 40 installs confirmed (97.5 % >= 95.0 %), 40 min >= 30 min"
    );
    let v = evaluate(&s, &healthy, &ArmHealth::default(), 12 * MIN, true);
    assert_eq!(v.outcome, Outcome::None);
    assert_eq!(v.reason(), "waiting: min_duration: 12 min of 30 min");
    let few = ArmHealth {
        installed: 40,
        confirmed: 30,
        ..healthy.clone()
    };
    let v = evaluate(&s, &few, &ArmHealth::default(), 40 * MIN, true);
    assert_eq!(v.outcome, Outcome::None);
    assert_eq!(
        v.reason(),
        "waiting: success: 30 of 40 installs confirmed; needs 95.0 % and 20 confirmed devices"
    );
    // 19 of 19 is 100 %, but fewer than 20 confirmed devices.
    let small = ArmHealth {
        installed: 19,
        confirmed: 19,
        ..ArmHealth::default()
    };
    assert_eq!(
        evaluate(&s, &small, &small, 40 * MIN, true).outcome,
        Outcome::None
    );
    s.ramp_to = Some(50.0);
    s.ramp_secs = Some(3600);
    let v = evaluate(&s, &healthy, &ArmHealth::default(), 40 * MIN, false);
    assert_eq!(v.outcome, Outcome::None);
    assert!(
        v.reason().ends_with("ramp: ramp to 50.0 % still rising"),
        "{}",
        v.reason()
    );
    assert_eq!(
        evaluate(&s, &healthy, &ArmHealth::default(), 61 * MIN, true).outcome,
        Outcome::Advance
    );
}

#[test]
fn without_a_success_gate_time_alone_advances() {
    let s = step(vec![]);
    let none = ArmHealth::default();
    assert_eq!(
        evaluate(&s, &none, &none, 30 * MIN - 1, true).outcome,
        Outcome::None
    );
    assert_eq!(
        evaluate(&s, &none, &none, 30 * MIN, true).outcome,
        Outcome::Advance
    );
    // A pending failure gate does not hold a step back.
    assert_eq!(
        evaluate(&failure_rate_2pc(), &failing(0, 3), &none, 30 * MIN, true).outcome,
        Outcome::Advance
    );
}

#[test]
fn launch_time_compares_the_p90s_once_both_arms_have_samples() {
    let s = step(vec![gate(
        GateMetric::LaunchTimeP90,
        1.25,
        GateAction::Pause,
    )]);
    let arm = |p90, samples| ArmHealth {
        launch_p90_ms: Some(p90),
        launch_samples: samples,
        ..ArmHealth::default()
    };
    let v = evaluate(&s, &arm(1500, 40), &arm(1000, 40), 0, true);
    assert_eq!(v.outcome, Outcome::Pause);
    assert_eq!(v.gates[0].value, Some(1.5));
    assert_eq!(
        v.gates[0].detail,
        "launch p90 1,500 ms is 1.50x the stable's 1,000 ms > 1.25x"
    );
    let v = evaluate(&s, &arm(1200, 40), &arm(1000, 40), 0, true);
    assert_eq!(v.gates[0].status, PASS);
    let v = evaluate(&s, &arm(9000, 40), &arm(1000, 19), 0, true);
    assert_eq!(v.gates[0].status, PENDING);
    assert_eq!(
        v.gates[0].detail,
        "launch times from 40 candidate and 19 stable devices; 20 of each are needed"
    );
}

#[test]
fn the_plan_decides_whether_a_passed_step_advances_or_promotes() {
    let none = ArmHealth::default();
    let mut r = rollout(vec![step(vec![]), step(vec![])], 0);
    let now = 31 * MIN;
    assert_eq!(
        evaluate_rollout(&r, &none, &none, now).outcome,
        Outcome::Advance
    );
    r.plan.auto_advance = false;
    let v = evaluate_rollout(&r, &none, &none, now);
    assert_eq!(v.outcome, Outcome::None);
    assert_eq!(
        v.reason(),
        "step passed, not moved automatically: 31 min >= 30 min"
    );
    r.step = 1;
    assert_eq!(
        evaluate_rollout(&r, &none, &none, now).outcome,
        Outcome::Promote,
        "promoting needs only auto_promote"
    );
    assert_eq!(
        evaluate_rollout(&r, &none, &none, now).reason(),
        "last step passed: 31 min >= 30 min"
    );
    r.plan.auto_promote = false;
    assert_eq!(
        evaluate_rollout(&r, &none, &none, now).outcome,
        Outcome::None
    );
    // The step's clock is the rollout's: not yet 30 minutes into step 2.
    r.plan.auto_promote = true;
    r.step_started_at = 10 * MIN;
    assert_eq!(
        evaluate_rollout(&r, &none, &none, now).outcome,
        Outcome::None
    );
}

#[test]
fn a_ramp_holds_the_step_until_it_reaches_its_target() {
    let mut s = step(vec![]);
    s.min_duration_secs = 0;
    s.ramp_to = Some(50.0);
    s.ramp_secs = Some(3600);
    let r = rollout(vec![s, step(vec![])], 0);
    let none = ArmHealth::default();
    assert_eq!(
        evaluate_rollout(&r, &none, &none, 59 * MIN).outcome,
        Outcome::None
    );
    assert_eq!(
        evaluate_rollout(&r, &none, &none, 60 * MIN).outcome,
        Outcome::Advance
    );
}

#[test]
fn a_paused_rollout_still_reverts_and_alerts_but_never_pauses_or_moves() {
    let with = |action| step(vec![gate(GateMetric::FailureRate, 0.02, action)]);
    let mut r = rollout(vec![with(GateAction::Revert), step(vec![])], 0);
    r.state = RolloutState::Paused;
    let bad = failing(30, 1000);
    let v = evaluate_rollout(&r, &bad, &none(), 99 * MIN);
    assert_eq!(v.outcome, Outcome::Revert, "a paused rollout is reverted");
    assert!(v.reason().starts_with("revert: failure_rate: 3.0 %"));
    r.plan.steps[0] = with(GateAction::Alert);
    assert_eq!(
        evaluate_rollout(&r, &bad, &none(), 99 * MIN).outcome,
        Outcome::Alert
    );
    // A pause gate and an alert gate failing together: the alert still goes out.
    r.plan.steps[0]
        .failure_gates
        .push(gate(GateMetric::FailureRate, 0.02, GateAction::Pause));
    assert_eq!(
        evaluate_rollout(&r, &bad, &none(), 99 * MIN).outcome,
        Outcome::Alert
    );
    r.plan.steps[0] = with(GateAction::Pause);
    let v = evaluate_rollout(&r, &bad, &none(), 99 * MIN);
    assert_eq!(v.outcome, Outcome::None, "already paused");
    assert_eq!(v.gates[0].status, FAIL);
    // Healthy and past its time, a paused rollout neither advances nor promotes.
    assert_eq!(
        evaluate_rollout(&r, &failing(0, 1000), &none(), 99 * MIN).outcome,
        Outcome::None
    );
    r.step = 1;
    assert_eq!(
        evaluate_rollout(&r, &none(), &none(), 99 * MIN).outcome,
        Outcome::None
    );
}

#[test]
fn an_ended_rollout_reports_its_gates_and_does_nothing() {
    let mut r = rollout(vec![failure_rate_2pc()], 0);
    for state in [RolloutState::Promoted, RolloutState::Reverted] {
        r.state = state;
        let v = evaluate_rollout(&r, &failing(30, 1000), &none(), 99 * MIN);
        assert_eq!(v.outcome, Outcome::None, "{state:?}");
        assert_eq!(
            v.gates[0].status, FAIL,
            "{state:?}: the gate is still reported"
        );
        assert!(v
            .reason()
            .starts_with("failing, not acted on: failure_rate: 3.0 %"));
        let v = evaluate_rollout(&r, &failing(0, 1000), &none(), 99 * MIN);
        assert_eq!(v.outcome, Outcome::None, "{state:?} never advances");
        for action in [GateAction::Revert, GateAction::Alert] {
            let mut ended = rollout(
                vec![step(vec![gate(GateMetric::FailureRate, 0.02, action)])],
                0,
            );
            ended.state = state;
            assert_eq!(
                evaluate_rollout(&ended, &failing(30, 1000), &none(), 99 * MIN).outcome,
                Outcome::None,
                "{state:?} takes no {action:?}"
            );
        }
    }
    r.state = RolloutState::Running;
    assert_eq!(
        evaluate_rollout(&r, &failing(30, 1000), &none(), 0).outcome,
        Outcome::Pause
    );
    assert_eq!(
        evaluate_rollout(&rollout(vec![], 0), &none(), &none(), 0),
        StepVerdict {
            gates: vec![],
            outcome: Outcome::None
        }
    );
}

fn none() -> ArmHealth {
    ArmHealth::default()
}

#[test]
fn outcomes_have_their_wire_names() {
    let all = [
        (Outcome::None, "none"),
        (Outcome::Advance, "advance"),
        (Outcome::Promote, "promote"),
        (Outcome::Pause, "pause"),
        (Outcome::Revert, "revert"),
        (Outcome::Alert, "alert"),
    ];
    for (o, name) in all {
        assert_eq!(o.as_str(), name);
    }
}

#[test]
fn confirmations_beyond_the_installs_never_pass_a_success_gate() {
    let mut s = step(Vec::new());
    s.min_duration_secs = 0;
    s.success = Some(SuccessGate {
        min_confirmed_rate: 0.95,
        min_devices: 20,
    });
    // Ready reports from devices whose installs were not counted: 5 installs
    // cannot be 100 % confirmed by 30 ready devices.
    let c = ArmHealth {
        installed: 5,
        ran: 30,
        confirmed: 30,
        ..ArmHealth::default()
    };
    let v = evaluate(&s, &c, &ArmHealth::default(), 0, true);
    let success = v.gates.iter().find(|g| g.gate == "success").unwrap();
    assert_eq!(success.status, "pending", "{success:?}");
    assert_eq!(success.value, Some(1.0));
    assert_eq!(v.outcome, Outcome::None);
}
