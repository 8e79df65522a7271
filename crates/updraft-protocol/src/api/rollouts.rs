//! Rollouts (`/api/v1/apps/{app_id}/channels/{name}/rollout`): a candidate
//! bundle beside a channel's stable one, its staged plan with health gates,
//! its state, and the health of each arm.

use serde::{Deserialize, Serialize};

use super::Target;

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Devices in the current step get the candidate; gates are watched.
    Running,
    /// No new device gets the candidate (devices already on it keep it);
    /// nothing advances until it is resumed.
    Paused,
    /// The candidate became the channel's bundle; the rollout is over.
    Promoted,
    /// Every device goes back to the stable bundle; the rollout is over.
    Reverted,
}

impl RolloutState {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Promoted => "promoted",
            Self::Reverted => "reverted",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "paused" => Self::Paused,
            "promoted" => Self::Promoted,
            "reverted" => Self::Reverted,
            _ => return None,
        })
    }

    /// Running or paused: the rollout still decides what devices get.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Running | Self::Paused)
    }
}

/// Which side of a rollout a device is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The device gets the candidate bundle.
    Candidate,
    /// The device gets the channel's stable bundle.
    Stable,
}

impl Arm {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Candidate => "candidate",
            Self::Stable => "stable",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "candidate" => Self::Candidate,
            "stable" => Self::Stable,
            _ => return None,
        })
    }
}

/// A named group of devices put on the candidate before (or beside) any
/// percentage: by device id (UUID, compared case-insensitively) or custom id
/// (exact).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// A name for people (`internal`, `qa`).
    pub name: String,
    /// Device ids in the cohort.
    #[serde(default)]
    pub device_ids: Vec<String>,
    /// Custom ids in the cohort.
    #[serde(default)]
    pub custom_ids: Vec<String>,
}

/// What a failure gate measures, per arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateMetric {
    /// Devices with a failed update (rolled back, download, checksum,
    /// decrypt, unzip, set or manifest failure) among those that tried it.
    FailureRate,
    /// Devices with a crash (`app_crash*`, `app_anr`, `app_killed_*`,
    /// `app_initialization_failure`, WebView process gone or unclean
    /// restart) among those that ran the bundle.
    CrashRate,
    /// Devices with a JavaScript error or unhandled rejection among those
    /// that ran the bundle.
    ErrorRate,
    /// The candidate's launch time p90 against the stable's
    /// (`app_launch_ready.metadata.duration_ms`), as a ratio above 1.
    LaunchTimeP90,
}

impl GateMetric {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailureRate => "failure_rate",
            Self::CrashRate => "crash_rate",
            Self::ErrorRate => "error_rate",
            Self::LaunchTimeP90 => "launch_time_p90",
        }
    }
}

/// What happens when a failure gate trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateAction {
    /// Pause the rollout: no new device gets the candidate.
    Pause,
    /// Revert: every device in the rollout goes back to the stable bundle.
    Revert,
    /// Only record an alert in the change log (`rollout.alert`).
    Alert,
}

impl GateAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Revert => "revert",
            Self::Alert => "alert",
        }
    }
}

/// A failure gate: trips when the candidate is worse than `threshold` with
/// confidence, on at least `min_devices` devices, and worse than the stable
/// arm (when the stable arm has enough devices to tell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureGate {
    /// What is measured.
    pub metric: GateMetric,
    /// For rates: the highest acceptable rate (0.02 = 2 %). For
    /// `launch_time_p90`: the highest acceptable ratio of candidate p90 to
    /// stable p90 (1.25 = 25 % slower).
    pub threshold: f64,
    /// The gate judges nothing below this many devices in the candidate arm.
    #[serde(default = "default_min_devices")]
    pub min_devices: u64,
    /// What to do when it trips.
    pub action: GateAction,
}

/// The default of [`FailureGate::min_devices`] and [`SuccessGate::min_devices`].
pub const DEFAULT_MIN_DEVICES: u64 = 20;

fn default_min_devices() -> u64 {
    DEFAULT_MIN_DEVICES
}

/// A step's success gate: the step may advance once this share of the
/// candidate's devices that installed it confirmed it (reported it ready, and
/// no rollback or crash), on at least `min_devices` confirmed devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuccessGate {
    /// Share of installs that must be confirmed (0.95 = 95 %).
    pub min_confirmed_rate: f64,
    /// At least this many confirmed devices.
    #[serde(default = "default_min_devices")]
    pub min_devices: u64,
}

/// One step of a plan. The candidate arm while the step runs is every cohort
/// of this step and the steps before it, plus `percent` of the other devices
/// (rising linearly to `ramp_to` over `ramp_secs` when set).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutStep {
    /// Share of devices on the candidate, 0 to 100 (decimals allowed: 0.5).
    #[serde(default)]
    pub percent: f64,
    /// A cohort added to the candidate from this step on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<Cohort>,
    /// The step's percentage counts only devices matching this rule (a
    /// device an earlier step took stays on the candidate); absent: every device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// A time ramp: the percentage rises linearly from `percent` to this
    /// over `ramp_secs` (a failed gate stops it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_to: Option<f64>,
    /// How long the ramp takes, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_secs: Option<u64>,
    /// The step lasts at least this long before it may advance (seconds).
    #[serde(default)]
    pub min_duration_secs: u64,
    /// Advance only when this passes; absent: advance on time alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<SuccessGate>,
    /// Watched for as long as the step runs.
    #[serde(default)]
    pub failure_gates: Vec<FailureGate>,
}

/// A staged plan: the steps in order. After the last one passes, the
/// candidate is promoted when `auto_promote` is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutPlan {
    /// The steps, at least one.
    pub steps: Vec<RolloutStep>,
    /// Advance automatically when a step's time and success gate pass
    /// (default true); otherwise only `advance` moves it.
    #[serde(default = "yes")]
    pub auto_advance: bool,
    /// Promote automatically after the last step passes (default true).
    #[serde(default = "yes")]
    pub auto_promote: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/apps/{app_id}/channels/{name}/rollout`: start a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRollout {
    /// The candidate bundle's version; not the channel's current bundle.
    pub bundle: String,
    /// The plan; absent: the default plan (1 %, 10 %, 50 %, 100 %, an hour
    /// each, pausing on a failure or crash rate above 2 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<RolloutPlan>,
}

/// A manual action on a rollout, with an optional reason for the log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutAction {
    /// Why, recorded with the change: one line of at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub reason: Option<String>,
}

/// A rollout as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rollout {
    /// Server-assigned id; part of every device's bucket.
    pub id: i64,
    /// The app.
    pub app_id: String,
    /// The channel's id.
    pub channel_id: i64,
    /// The channel's name.
    pub channel: String,
    /// The candidate bundle's id.
    pub candidate_id: i64,
    /// The candidate bundle's version.
    pub candidate_version: String,
    /// The plan.
    pub plan: RolloutPlan,
    /// Where it stands.
    pub state: RolloutState,
    /// The current step (0-based index into `plan.steps`).
    pub step: u32,
    /// Epoch ms when the current step started.
    pub step_started_at: i64,
    /// Epoch ms when the rollout started.
    pub started_at: i64,
    /// Epoch ms when it was promoted or reverted.
    pub ended_at: Option<i64>,
    /// Why it was last paused, reverted or promoted (a gate or a person).
    pub reason: Option<String>,
    /// Raised by every change of state or step (for compare-and-set).
    pub revision: i64,
}

/// The health of one arm of a rollout: devices counted once each, by the
/// arm the server resolved for them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArmHealth {
    /// Devices attributed to the arm that reported anything about its bundle.
    pub devices: u64,
    /// Devices that tried to get the bundle (offered, downloading or beyond).
    pub attempted: u64,
    /// Devices that installed it (`set`).
    pub installed: u64,
    /// Devices that ran it (installed, launched or reported health).
    pub ran: u64,
    /// Devices with a failure (rollback, download, checksum, …).
    pub failed: u64,
    /// Devices with a crash.
    pub crashed: u64,
    /// Devices with a JavaScript error.
    pub errored: u64,
    /// Devices that reported it ready, with no rollback or crash.
    pub confirmed: u64,
    /// p90 of launch time (ms), when any was reported.
    pub launch_p90_ms: Option<u64>,
    /// Launch times counted.
    pub launch_samples: u64,
}

/// One gate's result at one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GateResult {
    /// `failure_rate`, `crash_rate`, `error_rate`, `launch_time_p90` or `success`.
    pub gate: String,
    /// `pass`, `fail` or `pending` (not enough devices or time yet).
    pub status: String,
    /// The candidate's value (a rate or a ratio), when known.
    pub value: Option<f64>,
    /// The bound the decision used (the Wilson bound of the rate), when known.
    pub bound: Option<f64>,
    /// The threshold.
    pub threshold: f64,
    /// Devices judged.
    pub devices: u64,
    /// What it means, in words.
    pub detail: String,
}

/// A gate evaluation of a rollout's current step and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RolloutCheck {
    /// Server-assigned id.
    pub id: i64,
    /// The step evaluated.
    pub step: u32,
    /// Epoch ms.
    pub at: i64,
    /// `none`, `advance`, `promote`, `pause`, `revert` or `alert`.
    pub outcome: String,
    /// Every gate of the step.
    pub gates: Vec<GateResult>,
    /// The candidate arm's health at the time.
    pub candidate: ArmHealth,
    /// The stable arm's health at the time.
    pub stable: ArmHealth,
}

/// `GET /api/v1/apps/{app_id}/channels/{name}/rollout`: the rollout, its
/// arms now and its latest gate evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RolloutStatus {
    /// The rollout.
    pub rollout: Rollout,
    /// The channel's stable bundle version (or `builtin`).
    pub stable_version: String,
    /// The candidate's share of devices now, 0 to 100 (ramps included).
    pub percent_now: f64,
    /// The candidate arm's health now.
    pub candidate: ArmHealth,
    /// The stable arm's health now.
    pub stable: ArmHealth,
    /// The latest gate evaluations, newest first (at most 20).
    pub checks: Vec<RolloutCheck>,
    /// Set when the gates cannot see failures (no device of the candidate
    /// arm sent a failure or health action yet, or its plugin trims stats).
    pub warnings: Vec<String>,
}

/// A manual action on a rollout (`POST .../rollout/{action}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutVerb {
    /// Stop giving the candidate to new devices.
    Pause,
    /// Continue a paused rollout (its step's clock restarts).
    Resume,
    /// Go to the next step now, whatever the gates say.
    Advance,
    /// Make the candidate the channel's bundle now.
    Promote,
    /// Send every device back to the stable bundle.
    Revert,
}

impl RolloutVerb {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Advance => "advance",
            Self::Promote => "promote",
            Self::Revert => "revert",
        }
    }
}
