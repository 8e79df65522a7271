//! What `blind_spots` warns about.

use super::*;

#[test]
fn blind_spots_say_what_the_gates_cannot_see() {
    let watched = rollout(
        vec![step(vec![gate(
            GateMetric::CrashRate,
            0.02,
            GateAction::Pause,
        )])],
        0,
    );
    assert_eq!(
        blind_spots(&watched, &none()),
        ["crash_rate needs 20 devices on the candidate, 0 so far: the candidate is promoted on time alone"]
    );
    let unwatched = rollout(vec![step(vec![]), step(vec![])], 1);
    assert_eq!(
        blind_spots(&unwatched, &none()),
        ["step 2 has no failure gate: nothing pauses or reverts a bad candidate"]
    );
    // Installs with no app_launch_ready at all.
    let mut c = ArmHealth {
        installed: READY_BLIND_AFTER,
        ran: 20,
        ..ArmHealth::default()
    };
    let w = blind_spots(&watched, &c);
    assert_eq!(w.len(), 1);
    assert!(
        w[0].starts_with("10 devices installed the candidate and none reported app_launch_ready")
    );
    c.installed = READY_BLIND_AFTER - 1;
    assert!(
        blind_spots(&watched, &c).is_empty(),
        "too few installs to tell"
    );
    c.installed = 50;
    c.launch_samples = 1;
    c.confirmed = 1;
    assert!(
        blind_spots(&watched, &c).is_empty(),
        "one device reported ready"
    );
    // Many devices ran it and no crash or error was seen: only a hint, only past the threshold.
    c.ran = CRASH_HINT_AFTER;
    let w = blind_spots(&watched, &c);
    assert_eq!(w.len(), 1);
    assert!(w[0].starts_with("200 devices ran the candidate and none reported a crash"));
    c.crashed = 1;
    assert!(blind_spots(&watched, &c).is_empty());
    c.crashed = 0;
    c.ran = CRASH_HINT_AFTER - 1;
    assert!(blind_spots(&watched, &c).is_empty());
    c.ran = CRASH_HINT_AFTER;
    c.attempted = CRASH_HINT_AFTER;
    let fail_only = rollout(vec![failure_rate_2pc()], 0);
    assert!(
        blind_spots(&fail_only, &c).is_empty(),
        "no crash or error gate: nothing relies on crash reports"
    );
}

#[test]
fn blind_spots_say_when_gates_have_too_few_devices_to_judge() {
    let two = || {
        step(vec![
            gate(GateMetric::FailureRate, 0.02, GateAction::Pause),
            gate(GateMetric::CrashRate, 0.02, GateAction::Revert),
        ])
    };
    let mut r = rollout(vec![two(), two()], 0);
    let mut c = ArmHealth {
        attempted: 5,
        ran: 3,
        ..ArmHealth::default()
    };
    assert_eq!(
        blind_spots(&r, &c),
        ["failure_rate needs 20 devices on the candidate, 5 so far; crash_rate needs 20, 3 so far: \
          this step advances on time alone"]
    );
    r.step = 1;
    assert!(blind_spots(&r, &c)[0].ends_with(": the candidate is promoted on time alone"));
    r.plan.auto_promote = false;
    assert!(blind_spots(&r, &c)[0].ends_with(": no failure gate can judge the candidate yet"));
    // A success gate holds the step back: it does not advance on time alone.
    r.step = 0;
    r.plan.steps[0].success = Some(SuccessGate {
        min_confirmed_rate: 0.9,
        min_devices: 20,
    });
    assert!(blind_spots(&r, &c)[0].ends_with(": no failure gate can judge the candidate yet"));
    r.plan.steps[0].success = None;
    // Paused, it does not advance at all; the gates still cannot judge.
    r.state = RolloutState::Paused;
    assert!(blind_spots(&r, &c)[0].ends_with(": no failure gate can judge the candidate yet"));
    r.state = RolloutState::Running;
    // One gate judges: the other one's blindness is still said.
    c.attempted = 20;
    assert_eq!(
        blind_spots(&r, &c),
        ["crash_rate needs 20 devices on the candidate, 3 so far: the other gates judge alone for now"]
    );
    c.ran = 20;
    assert!(blind_spots(&r, &c).is_empty(), "every gate can judge");
    // The launch-time gate counts launch times.
    let mut launch = rollout(
        vec![step(vec![gate(
            GateMetric::LaunchTimeP90,
            1.25,
            GateAction::Pause,
        )])],
        0,
    );
    assert_eq!(
        blind_spots(&launch, &c),
        ["launch_time_p90 needs 20 devices on the candidate, 0 so far: the candidate is promoted on time alone"]
    );
    // An ended rollout has nothing left to judge.
    launch.state = RolloutState::Promoted;
    assert!(blind_spots(&launch, &c).is_empty());
}
