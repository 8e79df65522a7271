//! Unit tests of the rollout rules: buckets, percentages and ramps, arms and
//! plan validation.

use super::*;
use crate::validate::Platform;
use updraft_protocol::api::{SuccessGate, Target};

static NATIVE: semver::Version = semver::Version::new(1, 0, 0);

fn subject<'a>(device_id: &'a str, custom: Option<&'a str>) -> Subject<'a> {
    Subject {
        device_id,
        custom_id: custom,
        platform: Platform::Android,
        native: &NATIVE,
        country: None,
    }
}

/// The membership arm of a device with no country, on Android 1.0.0.
fn member(r: &Rollout, device_id: &str, custom: Option<&str>, now_ms: i64) -> Arm {
    super::member(r, &subject(device_id, custom), &Cohorts::new(), now_ms)
}

const DEVICE: &str = "00000000-0000-4000-8000-000000000001";
const MIN: i64 = 60_000;

fn step(percent: f64) -> RolloutStep {
    RolloutStep {
        percent,
        ..RolloutStep::default()
    }
}

fn rollout(steps: Vec<RolloutStep>) -> Rollout {
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
        step: 0,
        step_started_at: 1_000_000,
        started_at: 1_000_000,
        ended_at: None,
        reason: None,
        revision: 1,
    }
}

fn device(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn traced(r: &Rollout, device_id: &str, custom: Option<&str>, running: &str) -> (Arm, Vec<String>) {
    let mut t = Trace::on();
    let a = arm(
        r,
        &subject(device_id, custom),
        &Cohorts::new(),
        running,
        r.step_started_at,
        &mut t,
    );
    (a, t.into_lines())
}

#[test]
fn the_bucket_is_the_sha256_rule_and_ignores_case() {
    // Computed independently: sha256("7:<device>")[..8] as big-endian u64 % 10000.
    assert_eq!(bucket(7, DEVICE), 1383);
    assert_eq!(bucket(1, DEVICE), 5215);
    assert_eq!(bucket(1, "AAAAAAAA-0000-4000-8000-000000000001"), 1372);
    assert_eq!(
        bucket(1, "AAAAAAAA-0000-4000-8000-000000000001"),
        bucket(1, "aaaaaaaa-0000-4000-8000-000000000001")
    );
    assert_ne!(
        bucket(7, DEVICE),
        bucket(8, DEVICE),
        "each rollout reshuffles"
    );
}

#[test]
fn buckets_spread_evenly_so_a_percentage_is_that_share_of_devices() {
    let n = 20_000;
    let under = |p: f64| {
        (0..n)
            .filter(|i| bucket(3, &device(*i)) < cutoff(p))
            .count()
    };
    for (p, lo, hi) in [(1.0, 140, 260), (10.0, 1_850, 2_150), (50.0, 9_700, 10_300)] {
        let got = under(p);
        assert!((lo..=hi).contains(&got), "{p} %: {got} of {n}");
    }
    assert_eq!(under(0.0), 0);
    assert_eq!(under(100.0), n as usize);
}

#[test]
fn the_cutoff_rounds_to_basis_points_and_clamps() {
    assert_eq!(cutoff(0.0), 0);
    assert_eq!(cutoff(0.5), 50);
    assert_eq!(cutoff(1.0), 100);
    assert_eq!(cutoff(33.333), 3333);
    assert_eq!(cutoff(33.336), 3334);
    assert_eq!(cutoff(100.0), BUCKETS);
    assert_eq!(cutoff(250.0), BUCKETS);
    assert_eq!(cutoff(-3.0), 0);
    assert_eq!(cutoff(f64::NAN), 0);
}

#[test]
fn raising_the_percentage_only_adds_devices() {
    let mut r = rollout(vec![step(1.0), step(10.0), step(50.0), step(100.0)]);
    let mut before: Vec<String> = Vec::new();
    for s in 0..4 {
        r.step = s;
        let now: Vec<String> = (0..2_000)
            .map(device)
            .filter(|d| member(&r, d, None, r.step_started_at) == Arm::Candidate)
            .collect();
        assert!(
            before.iter().all(|d| now.contains(d)),
            "step {s} dropped a device"
        );
        assert!(now.len() > before.len(), "step {s} added no device");
        before = now;
    }
    assert_eq!(before.len(), 2_000);
}

#[test]
fn a_ramp_rises_linearly_from_the_steps_start_and_then_holds() {
    let mut s = step(10.0);
    s.ramp_to = Some(50.0);
    s.ramp_secs = Some(1000);
    let r = rollout(vec![s]);
    let t0 = r.step_started_at;
    let at = |ms: i64| percent_now(&r, t0 + ms);
    assert!((at(0) - 10.0).abs() < 1e-9);
    assert!((at(250_000) - 20.0).abs() < 1e-9);
    assert!((at(500_000) - 30.0).abs() < 1e-9);
    assert!((at(1_000_000) - 50.0).abs() < 1e-9);
    assert!((at(9_000_000) - 50.0).abs() < 1e-9);
    assert!((at(-5_000) - 10.0).abs() < 1e-9, "a clock behind the start");
    assert!(!ramp_done(&r, t0 + 999_999));
    assert!(ramp_done(&r, t0 + 1_000_000));
    assert!(ramp_done(&rollout(vec![step(5.0)]), 0), "no ramp is done");
    assert!(
        (percent_now(&rollout(vec![step(5.0)]), t0 + 1) - 5.0).abs() < 1e-9,
        "no ramp: the step's percent"
    );
}

#[test]
fn percent_now_follows_the_current_step() {
    let mut r = rollout(vec![step(1.0), step(25.0)]);
    assert!((percent_now(&r, 0) - 1.0).abs() < 1e-9);
    r.step = 1;
    assert!((percent_now(&r, 0) - 25.0).abs() < 1e-9);
    r.step = 9;
    assert!(
        (percent_now(&r, 0) - 25.0).abs() < 1e-9,
        "past the end: the last step"
    );
    assert!(percent_now(&rollout(vec![]), 0).abs() < 1e-9);
}

#[test]
fn the_bucket_decides_with_bucket_and_percent_in_the_trace() {
    // DEVICE's bucket in rollout 7 is 1383.
    let (a, trace) = traced(&rollout(vec![step(13.84)]), DEVICE, None, "1.0.0");
    assert_eq!(a, Arm::Candidate);
    assert_eq!(
        trace,
        [
            "channel production has rollout 7 of 1.2.0: running, step 1 of 1, 13.8 % now",
            "bucket 1383 of 10000, under 1384 (13.8 % now) -> candidate 1.2.0",
        ]
    );
    let (a, trace) = traced(&rollout(vec![step(13.83)]), DEVICE, None, "1.0.0");
    assert_eq!(a, Arm::Stable);
    assert_eq!(
        trace[1],
        "bucket 1383 of 10000, not under 1383 (13.8 % now) -> stable"
    );
}

#[test]
fn a_device_on_the_candidate_keeps_it_even_when_paused() {
    let mut r = rollout(vec![step(0.0)]);
    let (a, trace) = traced(&r, DEVICE, None, "1.2.0");
    assert_eq!(a, Arm::Candidate);
    assert_eq!(trace[1], "already runs the candidate 1.2.0 -> candidate");
    r.state = RolloutState::Paused;
    assert_eq!(traced(&r, DEVICE, None, "1.2.0").0, Arm::Candidate);
    // Membership ignores what the device claims to run.
    assert_eq!(member(&r, DEVICE, None, 0), Arm::Stable);
}

#[test]
fn a_paused_rollout_gives_new_devices_the_stable_bundle() {
    let mut r = rollout(vec![step(100.0)]);
    r.state = RolloutState::Paused;
    let (a, trace) = traced(&r, DEVICE, None, "1.0.0");
    assert_eq!(a, Arm::Stable);
    assert_eq!(trace[1], "paused: not on the candidate -> stable");
    assert_eq!(
        member(&r, DEVICE, None, 0),
        Arm::Candidate,
        "membership ignores the pause"
    );
}

#[test]
fn an_ended_rollout_gives_the_stable_arm() {
    for state in [RolloutState::Promoted, RolloutState::Reverted] {
        let mut r = rollout(vec![step(100.0)]);
        r.state = state;
        assert_eq!(
            traced(&r, DEVICE, None, "1.2.0").0,
            Arm::Stable,
            "{state:?}"
        );
    }
}

#[test]
fn cohorts_of_this_step_and_earlier_ones_are_on_the_candidate() {
    let qa = Cohort {
        name: "qa".into(),
        device_ids: vec![DEVICE.to_uppercase()],
        custom_ids: vec!["tester-1".into()],
    };
    let mut first = step(0.0);
    first.cohort = Some(qa);
    let mut later = step(0.0);
    later.cohort = Some(Cohort {
        name: "beta".into(),
        device_ids: vec![device(99)],
        custom_ids: vec![],
    });
    let mut r = rollout(vec![first, later]);
    let (a, trace) = traced(&r, DEVICE, None, "1.0.0");
    assert_eq!(a, Arm::Candidate);
    assert_eq!(trace[1], "in cohort qa by device id -> candidate 1.2.0");
    let (a, trace) = traced(&r, &device(5), Some("tester-1"), "1.0.0");
    assert_eq!(a, Arm::Candidate);
    assert_eq!(trace[1], "in cohort qa by custom id -> candidate 1.2.0");
    assert_eq!(
        member(&r, &device(5), Some("Tester-1"), 0),
        Arm::Stable,
        "custom ids are exact"
    );
    assert_eq!(member(&r, &device(5), Some(""), 0), Arm::Stable);
    assert_eq!(
        member(&r, &device(99), None, 0),
        Arm::Stable,
        "a later step's cohort"
    );
    r.step = 1;
    assert_eq!(member(&r, &device(99), None, 0), Arm::Candidate);
    assert_eq!(
        member(&r, DEVICE, None, 0),
        Arm::Candidate,
        "earlier cohorts stay"
    );
}

#[test]
fn the_default_plan_is_valid_and_as_documented() {
    let p = default_plan();
    validate_plan(&p).unwrap();
    let percents: Vec<f64> = p.steps.iter().map(|s| s.percent).collect();
    assert_eq!(percents, [1.0, 10.0, 50.0, 100.0]);
    for s in &p.steps {
        assert_eq!(s.min_duration_secs, 3600);
        assert!(s.success.is_none());
        let gates: Vec<_> = s
            .failure_gates
            .iter()
            .map(|g| (g.metric, g.threshold, g.min_devices, g.action))
            .collect();
        assert_eq!(
            gates,
            [
                (GateMetric::FailureRate, 0.02, 20, GateAction::Pause),
                (GateMetric::CrashRate, 0.02, 20, GateAction::Pause),
            ]
        );
    }
    assert!(p.auto_advance && p.auto_promote);
}

#[test]
fn plans_that_cannot_work_are_refused_with_the_step_and_field() {
    let ok = || default_plan();
    let gate = |metric, threshold| FailureGate {
        metric,
        threshold,
        min_devices: 20,
        action: GateAction::Pause,
    };
    type Edit = Box<dyn Fn(&mut RolloutPlan)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|p| p.steps.clear()),
            "a plan has 1 to 20 steps, not 0",
        ),
        (
            Box::new(|p| p.steps = vec![step(1.0); 21]),
            "a plan has 1 to 20 steps, not 21",
        ),
        (
            Box::new(|p| p.steps[1].percent = 100.5),
            "step 2: percent must be within 0 to 100, not 100.5",
        ),
        (
            Box::new(|p| p.steps[0].percent = f64::NAN),
            "step 1: percent must be within 0 to 100, not NaN",
        ),
        (
            Box::new(|p| p.steps[2].percent = 5.0),
            "step 3: percent 5 is below the 10 the step before reached",
        ),
        (
            Box::new(|p| {
                p.steps[1].ramp_to = Some(60.0);
                p.steps[1].ramp_secs = Some(60);
            }),
            "step 3: percent 50 is below the 60 the step before reached",
        ),
        (
            Box::new(|p| {
                p.steps[1].ramp_to = Some(5.0);
                p.steps[1].ramp_secs = Some(60);
            }),
            "step 2: ramp_to 5 is below its percent 10",
        ),
        (
            Box::new(|p| p.steps[0].ramp_to = Some(5.0)),
            "step 1: ramp_to and ramp_secs go together",
        ),
        (
            Box::new(|p| p.steps[0].ramp_secs = Some(60)),
            "step 1: ramp_to and ramp_secs go together",
        ),
        (
            Box::new(|p| {
                p.steps[0].ramp_to = Some(5.0);
                p.steps[0].ramp_secs = Some(0);
            }),
            "step 1: ramp_secs must be 1 to 31536000, not 0",
        ),
        (
            Box::new(|p| p.steps[0].min_duration_secs = MAX_SECS + 1),
            "step 1: min_duration_secs must be at most 31536000",
        ),
        (
            Box::new(move |p| p.steps[0].failure_gates = vec![gate(GateMetric::FailureRate, 1.0)]),
            "step 1: the failure_rate gate's threshold is a rate above 0 and below 1",
        ),
        (
            Box::new(move |p| p.steps[0].failure_gates = vec![gate(GateMetric::CrashRate, 0.0)]),
            "step 1: the crash_rate gate's threshold is a rate above 0 and below 1",
        ),
        (
            Box::new(move |p| {
                p.steps[3].failure_gates = vec![gate(GateMetric::LaunchTimeP90, 1.0)];
            }),
            "step 4: the launch_time_p90 gate's threshold is a ratio of launch times above 1",
        ),
        (
            Box::new(move |p| {
                let mut g = gate(GateMetric::ErrorRate, 0.1);
                g.min_devices = 0;
                p.steps[0].failure_gates = vec![g];
            }),
            "step 1: the error_rate gate's min_devices must be at least 5, not 0",
        ),
        (
            Box::new(move |p| {
                let mut g = gate(GateMetric::FailureRate, 0.02);
                g.min_devices = 4;
                p.steps[2].failure_gates.push(g);
            }),
            "step 3: the failure_rate gate's min_devices must be at least 5, not 4",
        ),
        (
            Box::new(|p| {
                p.steps[1].success = Some(SuccessGate {
                    min_confirmed_rate: 0.9,
                    min_devices: 4,
                });
            }),
            "step 2: success.min_devices must be at least 5, not 4",
        ),
        (
            Box::new(|p| {
                p.steps[0].success = Some(SuccessGate {
                    min_confirmed_rate: 0.0,
                    min_devices: 20,
                });
            }),
            "step 1: success.min_confirmed_rate must be above 0 and at most 1, not 0",
        ),
        (
            Box::new(|p| {
                p.steps[0].success = Some(SuccessGate {
                    min_confirmed_rate: 1.5,
                    min_devices: 20,
                });
            }),
            "step 1: success.min_confirmed_rate must be above 0 and at most 1, not 1.5",
        ),
        (
            Box::new(|p| {
                p.steps[0].cohort = Some(Cohort {
                    name: "  ".into(),
                    ..Cohort::default()
                });
            }),
            "step 1: a cohort needs a name",
        ),
        (
            Box::new(|p| {
                p.steps[0].cohort = Some(Cohort {
                    name: "qa".into(),
                    device_ids: vec!["not-a-uuid".into()],
                    custom_ids: vec![],
                });
            }),
            "step 1: cohort qa: device id \"not-a-uuid\" is not a UUID",
        ),
        (
            Box::new(|p| {
                p.steps[0].cohort = Some(Cohort {
                    name: "qa".into(),
                    device_ids: vec![],
                    custom_ids: vec!["a\nb".into()],
                });
            }),
            "step 1: cohort qa: cohort custom id must not contain control characters",
        ),
        (
            Box::new(|p| {
                for (i, s) in p.steps.iter_mut().enumerate().take(2) {
                    s.cohort = Some(Cohort {
                        name: format!("c{i}"),
                        device_ids: vec![],
                        custom_ids: vec!["x".into(); 5_001],
                    });
                }
            }),
            "step 2: the plan's cohorts hold more than 10000 ids",
        ),
    ];
    for (edit, want) in cases {
        let mut p = ok();
        edit(&mut p);
        let err = validate_plan(&p).expect_err(want);
        assert!(err.starts_with(want), "got {err:?}, want {want:?}");
    }
    // Edges that are allowed.
    let mut p = ok();
    p.steps[0].percent = 0.0;
    p.steps[3].percent = 60.0;
    p.steps[1].ramp_to = Some(50.0);
    p.steps[1].ramp_secs = Some(1);
    p.steps[0].success = Some(SuccessGate {
        min_confirmed_rate: 1.0,
        min_devices: MIN_GATE_DEVICES,
    });
    p.steps[0].failure_gates[0].min_devices = MIN_GATE_DEVICES;
    p.steps[0].cohort = Some(Cohort {
        name: "qa".into(),
        device_ids: vec![DEVICE.to_uppercase()],
        custom_ids: vec!["x".into(); 9_999],
    });
    validate_plan(&p).unwrap();
}

#[test]
fn membership_uses_the_clock_for_ramps() {
    let mut s = step(0.0);
    s.ramp_to = Some(100.0);
    s.ramp_secs = Some(100 * 60);
    let r = rollout(vec![s]);
    let t0 = r.step_started_at;
    // DEVICE's bucket 1383 is under the ramp from 13.84 % on: minute 13.84.
    assert_eq!(member(&r, DEVICE, None, t0 + 13 * MIN), Arm::Stable);
    assert_eq!(member(&r, DEVICE, None, t0 + 14 * MIN), Arm::Candidate);
}

#[test]
fn a_targeted_step_counts_its_devices_and_never_takes_one_back() {
    let fr: Target = serde_json::from_value(serde_json::json!({"country": ["FR"]})).unwrap();
    let mut r = rollout(vec![
        RolloutStep {
            target: Some(fr),
            ..step(100.0)
        },
        step(10.0),
        step(100.0),
    ]);
    assert_eq!(
        validate_plan(&r.plan),
        Ok(()),
        "a step after a targeted one may be lower"
    );
    let france = Subject {
        country: Some("FR"),
        ..subject(DEVICE, None)
    };
    let elsewhere = subject(DEVICE, None);
    let none = Cohorts::new();
    // DEVICE's bucket in rollout 7 is 1383: above 10 %.
    assert_eq!(super::member(&r, &france, &none, 0), Arm::Candidate);
    assert_eq!(super::member(&r, &elsewhere, &none, 0), Arm::Stable);
    r.step = 1;
    assert_eq!(
        super::member(&r, &france, &none, 0),
        Arm::Candidate,
        "the first step took it; the second step's 10 % does not take it back"
    );
    assert_eq!(super::member(&r, &elsewhere, &none, 0), Arm::Stable);
    r.step = 2;
    assert_eq!(super::member(&r, &elsewhere, &none, 0), Arm::Candidate);
    let bad = RolloutPlan {
        steps: vec![RolloutStep {
            target: Some(Target::Country(vec!["France".into()])),
            ..step(5.0)
        }],
        ..r.plan.clone()
    };
    assert!(validate_plan(&bad)
        .unwrap_err()
        .starts_with("step 1: target: country"));
    let lower = RolloutPlan {
        steps: vec![step(50.0), step(10.0)],
        ..r.plan.clone()
    };
    assert!(
        validate_plan(&lower).is_err(),
        "steps for every device still never go down"
    );
}
