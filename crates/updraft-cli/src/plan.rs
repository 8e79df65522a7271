//! `rollout start`'s plan: a `--plan` file, or the plan its flags describe
//! (steps, time per step, ramps, rate gates and their action, a first cohort),
//! or none at all, which leaves the server's default plan.

use std::path::Path;

use updraft_protocol::api::{
    Cohort, FailureGate, GateAction, GateMetric, RolloutPlan, RolloutStep, DEFAULT_MIN_DEVICES,
};

use crate::args::RolloutStartArgs;
use crate::error::{CliError, CliResult};
use crate::span::GateFlag;

/// The steps when `--steps` is not given (the server's default plan too).
pub(crate) const DEFAULT_STEPS: [f64; 4] = [1.0, 10.0, 50.0, 100.0];
/// The time per step when `--step-duration` is not given: an hour.
pub(crate) const DEFAULT_STEP_SECS: u64 = 3600;
/// The failure and crash rate gates when not given: 2 %.
pub(crate) const DEFAULT_MAX_RATE: f64 = 0.02;

/// The plan to send: `None` leaves the server's default plan.
pub(crate) fn plan(a: &RolloutStartArgs) -> CliResult<Option<RolloutPlan>> {
    if let Some(path) = &a.plan {
        return read(path).map(Some);
    }
    let shaped = a.steps.is_some()
        || a.step_duration.is_some()
        || a.ramp.is_some()
        || a.max_failure_rate.is_some()
        || a.max_crash_rate.is_some()
        || a.max_error_rate.is_some()
        || a.on_failure.is_some()
        || !a.cohort_devices.is_empty()
        || !a.cohort_custom_ids.is_empty();
    if !shaped {
        return Ok(None);
    }
    let percents = a.steps.clone().unwrap_or_else(|| DEFAULT_STEPS.to_vec());
    if percents.is_empty() {
        return Err(CliError::usage(
            "invalid_plan",
            "--steps needs at least one percentage",
        ));
    }
    if let Some(w) = percents.windows(2).find(|w| w[1] < w[0]) {
        return Err(CliError::usage(
            "invalid_plan",
            format!(
                "--steps must not go down ({} after {}): raising the share only adds devices",
                w[1], w[0]
            ),
        ));
    }
    let action = a.on_failure.map_or(GateAction::Pause, Into::into);
    let gate = |metric, flag: Option<GateFlag>, default: Option<f64>| {
        flag.map_or(default, |f| f.0).map(|threshold| FailureGate {
            metric,
            threshold,
            min_devices: DEFAULT_MIN_DEVICES,
            action,
        })
    };
    let gates: Vec<FailureGate> = [
        gate(
            GateMetric::FailureRate,
            a.max_failure_rate,
            Some(DEFAULT_MAX_RATE),
        ),
        gate(
            GateMetric::CrashRate,
            a.max_crash_rate,
            Some(DEFAULT_MAX_RATE),
        ),
        gate(GateMetric::ErrorRate, a.max_error_rate, None),
    ]
    .into_iter()
    .flatten()
    .collect();
    let min = a.step_duration.unwrap_or(DEFAULT_STEP_SECS);
    let step = |percent: f64| RolloutStep {
        percent,
        min_duration_secs: min,
        failure_gates: gates.clone(),
        ..Default::default()
    };
    let mut steps = Vec::new();
    if !a.cohort_devices.is_empty() || !a.cohort_custom_ids.is_empty() {
        steps.push(RolloutStep {
            cohort: Some(Cohort {
                name: "cohort".into(),
                device_ids: a.cohort_devices.clone(),
                custom_ids: a.cohort_custom_ids.clone(),
            }),
            ..step(0.0)
        });
    }
    for (i, p) in percents.iter().enumerate() {
        let mut s = step(*p);
        match (a.ramp, percents.get(i + 1)) {
            (Some(secs), Some(next)) if next > p && secs > 0 => {
                s.ramp_to = Some(*next);
                s.ramp_secs = Some(secs);
            }
            _ => {}
        }
        steps.push(s);
    }
    Ok(Some(RolloutPlan {
        steps,
        auto_advance: true,
        auto_promote: true,
    }))
}

/// A plan file: the API's `RolloutPlan` as JSON.
pub(crate) fn read(path: &Path) -> CliResult<RolloutPlan> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io("cannot read", path, &e))?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::usage(
            "invalid_plan",
            format!("{} is not a rollout plan: {e}", path.display()),
        )
        .hint("a plan is {\"steps\": [{\"percent\": 1, \"min_duration_secs\": 3600, \"failure_gates\": [...]}, ...]}, as `updraft rollout status --json` shows under rollout.plan")
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command, RolloutCommand};

    fn start_args(flags: &[&str]) -> RolloutStartArgs {
        let mut argv = vec!["updraft", "rollout", "start", "--bundle", "1.0.2"];
        argv.extend_from_slice(flags);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Rollout(RolloutCommand::Start(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    fn built(flags: &[&str]) -> Option<RolloutPlan> {
        plan(&start_args(flags)).unwrap()
    }

    #[test]
    fn no_flags_leave_the_servers_default_plan() {
        assert_eq!(built(&[]), None);
    }

    #[test]
    fn flags_describe_steps_times_ramps_and_gates() {
        let p = built(&[
            "--steps",
            "5,25,100",
            "--step-duration",
            "2h",
            "--ramp",
            "1d",
            "--max-error-rate",
            "0.5%",
            "--max-crash-rate",
            "off",
            "--on-failure",
            "revert",
        ])
        .unwrap();
        let percents: Vec<f64> = p.steps.iter().map(|s| s.percent).collect();
        assert_eq!(percents, [5.0, 25.0, 100.0]);
        assert!(p.steps.iter().all(|s| s.min_duration_secs == 7200));
        assert_eq!(
            (p.steps[0].ramp_to, p.steps[0].ramp_secs),
            (Some(25.0), Some(86_400))
        );
        assert_eq!(p.steps[1].ramp_to, Some(100.0));
        assert_eq!(
            p.steps[2].ramp_to, None,
            "the last step has nowhere to ramp"
        );
        let gates = &p.steps[0].failure_gates;
        let metrics: Vec<(GateMetric, f64, GateAction)> = gates
            .iter()
            .map(|g| (g.metric, g.threshold, g.action))
            .collect();
        assert_eq!(
            metrics,
            [
                (GateMetric::FailureRate, 0.02, GateAction::Revert),
                (GateMetric::ErrorRate, 0.005, GateAction::Revert),
            ]
        );
        assert!(p.auto_advance && p.auto_promote);
    }

    #[test]
    fn one_flag_gives_the_default_plan_with_that_change() {
        let p = built(&["--on-failure", "revert"]).unwrap();
        let percents: Vec<f64> = p.steps.iter().map(|s| s.percent).collect();
        assert_eq!(percents, DEFAULT_STEPS);
        assert!(p.steps.iter().all(|s| s.min_duration_secs == 3600));
        let gates: Vec<GateMetric> = p.steps[0].failure_gates.iter().map(|g| g.metric).collect();
        assert_eq!(gates, [GateMetric::FailureRate, GateMetric::CrashRate]);
    }

    #[test]
    fn a_cohort_goes_first_in_a_step_of_its_own() {
        let p = built(&[
            "--cohort-devices",
            "00000000-0000-4000-8000-000000000001,00000000-0000-4000-8000-000000000002",
            "--cohort-custom-ids",
            "qa-1",
            "--steps",
            "10,100",
        ])
        .unwrap();
        assert_eq!(p.steps.len(), 3);
        let c = p.steps[0].cohort.as_ref().unwrap();
        assert_eq!(p.steps[0].percent, 0.0);
        assert_eq!(c.device_ids.len(), 2);
        assert_eq!(c.custom_ids, ["qa-1"]);
        assert!(p.steps[1].cohort.is_none());
    }

    #[test]
    fn steps_that_go_down_are_refused() {
        let e = plan(&start_args(&["--steps", "10,5"])).unwrap_err();
        assert_eq!(e.code, "invalid_plan");
        assert!(e.message.contains("5 after 10"), "{}", e.message);
    }

    #[test]
    fn a_plan_file_is_read_as_the_apis_plan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(
            &path,
            r#"{"steps":[{"percent":20,"min_duration_secs":60}],"auto_promote":false}"#,
        )
        .unwrap();
        let p = built(&["--plan", path.to_str().unwrap()]).unwrap();
        assert_eq!(p.steps[0].percent, 20.0);
        assert!(p.auto_advance && !p.auto_promote);
        std::fs::write(&path, r#"{"steps":[],"stages":1}"#).unwrap();
        let e = plan(&start_args(&["--plan", path.to_str().unwrap()])).unwrap_err();
        assert!(e.message.contains("is not a rollout plan"), "{}", e.message);
    }
}
