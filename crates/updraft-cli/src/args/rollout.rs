//! The command line of staged rollouts and release metrics: `rollout
//! start|status|pause|resume|advance|promote|revert|list` and `metrics`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use updraft_protocol::api::GateAction;

use super::DEFAULT_CHANNEL;
use crate::span;

#[derive(Debug, Subcommand)]
pub(crate) enum RolloutCommand {
    /// Start a staged rollout: a growing share of the channel's devices gets a bundle while
    /// health gates watch it.
    ///
    /// Without flags the server's default plan runs: 1%, 10%, 50%, 100% of devices, at least
    /// an hour each, pausing when more than 2% of devices fail to update or crash. Each flag
    /// changes its part of that plan; --plan gives a whole plan as JSON instead.
    Start(RolloutStartArgs),
    /// Show the channel's rollout: its steps, its gates and the health of both arms.
    Status(RolloutStatusArgs),
    /// Stop giving the bundle to more devices (devices that have it keep it).
    Pause(RolloutActionArgs),
    /// Continue a paused rollout (the current step's clock starts again).
    Resume(RolloutActionArgs),
    /// Go to the next step now, whatever the gates say.
    Advance(RolloutActionArgs),
    /// Make the rollout's bundle the channel's bundle now, for every device.
    Promote(RolloutActionArgs),
    /// Send every device back to the channel's bundle and end the rollout.
    Revert(RolloutActionArgs),
    /// The app's rollouts, newest first.
    List,
}

/// What a tripped gate does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnFailure {
    /// Stop giving the bundle to more devices until someone resumes.
    Pause,
    /// Send every device back to the channel's bundle.
    Revert,
}

impl From<OnFailure> for GateAction {
    fn from(o: OnFailure) -> Self {
        match o {
            OnFailure::Pause => GateAction::Pause,
            OnFailure::Revert => GateAction::Revert,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct RolloutStartArgs {
    /// The channel whose devices get the bundle.
    #[arg(long, short, default_value = DEFAULT_CHANNEL)]
    pub channel: String,
    /// The bundle version to roll out (uploaded, and not the channel's bundle already).
    #[arg(long, short, value_name = "VERSION")]
    pub bundle: String,
    /// The share of devices of each step, in percent [default: 1,10,50,100].
    #[arg(long, value_delimiter = ',', value_name = "PERCENTS", value_parser = span::parse_percent)]
    pub steps: Option<Vec<f64>>,
    /// How long each step runs at least before it advances: 90s, 30m, 1h, 2d, 1w
    /// [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = span::parse_secs)]
    pub step_duration: Option<u64>,
    /// Raise the share of devices linearly from each step's percentage to the next one's over
    /// this time, instead of jumping at the next step.
    #[arg(long, value_name = "DURATION", value_parser = span::parse_secs)]
    pub ramp: Option<u64>,
    /// Trip when more than this share of the devices that tried the bundle failed to install
    /// it (rolled back, download, checksum, unzip …): 2%, 0.5%, or off [default: 2%].
    #[arg(long, value_name = "RATE", value_parser = span::parse_gate)]
    pub max_failure_rate: Option<span::GateFlag>,
    /// Trip when more than this share of the devices that ran the bundle crashed: 2%, or off
    /// [default: 2%].
    #[arg(long, value_name = "RATE", value_parser = span::parse_gate)]
    pub max_crash_rate: Option<span::GateFlag>,
    /// Trip when more than this share of the devices that ran the bundle reported a JavaScript
    /// error: 0.5%, or off [default: off].
    #[arg(long, value_name = "RATE", value_parser = span::parse_gate)]
    pub max_error_rate: Option<span::GateFlag>,
    /// What a tripped gate does [default: pause].
    #[arg(long, value_enum, value_name = "ACTION")]
    pub on_failure: Option<OnFailure>,
    /// Device ids (comma-separated) that get the bundle first, in a step of their own before
    /// the percentages.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub cohort_devices: Vec<String>,
    /// Custom ids (comma-separated) that get the bundle first, as --cohort-devices.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub cohort_custom_ids: Vec<String>,
    /// The whole plan as a JSON file (the API's RolloutPlan, as `rollout status --json`
    /// shows it under rollout.plan) instead of the flags above.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "steps", "step_duration", "ramp", "max_failure_rate", "max_crash_rate",
        "max_error_rate", "on_failure", "cohort_devices", "cohort_custom_ids",
    ])]
    pub plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RolloutStatusArgs {
    /// The channel.
    #[arg(long, short, default_value = DEFAULT_CHANNEL)]
    pub channel: String,
    /// Redraw every 2 seconds until the rollout ends or Ctrl-C (on a terminal; elsewhere,
    /// print once).
    #[arg(long, short)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RolloutActionArgs {
    /// The channel.
    #[arg(long, short, default_value = DEFAULT_CHANNEL)]
    pub channel: String,
    /// Why, recorded with the change in the change log.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("release").required(true).args(["channel", "bundle"])))]
pub(crate) struct MetricsArgs {
    /// The channel: its rollout's bundle while one runs, else the bundle it serves.
    #[arg(long, short)]
    pub channel: Option<String>,
    /// A bundle version.
    #[arg(long, short, value_name = "VERSION")]
    pub bundle: Option<String>,
    /// The window: this long until now (30m, 24h, 7d) [default: 24h].
    #[arg(long, value_name = "DURATION", value_parser = span::parse_secs, conflicts_with_all = ["since", "until"])]
    pub last: Option<u64>,
    /// Start of the window: an RFC 3339 date or time (2026-01-31, 2026-01-31T18:00:00Z);
    /// default: 24 hours before --until.
    #[arg(long, value_name = "WHEN", value_parser = crate::expiry::parse_instant)]
    pub since: Option<i64>,
    /// End of the window, as --since [default: now].
    #[arg(long, value_name = "WHEN", value_parser = crate::expiry::parse_instant)]
    pub until: Option<i64>,
}
