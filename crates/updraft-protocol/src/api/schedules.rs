//! Scheduled deploys: a deploy, or a rollout started or advanced, at a time
//! or inside a recurring window.

use serde::{Deserialize, Serialize};

use super::RolloutPlan;

/// What a schedule does when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleAction {
    /// Point the channel at `bundle` (a deploy in its history).
    Deploy,
    /// Start a rollout of `bundle` on the channel with `plan` (the default
    /// plan when absent).
    StartRollout,
    /// Advance the channel's active rollout by one step.
    AdvanceRollout,
}

impl ScheduleAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::StartRollout => "start_rollout",
            Self::AdvanceRollout => "advance_rollout",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "deploy" => Some(Self::Deploy),
            "start_rollout" => Some(Self::StartRollout),
            "advance_rollout" => Some(Self::AdvanceRollout),
            _ => None,
        }
    }
}

/// A recurring window: on these days, from `start` to `end` local time in
/// `time_zone` (an `end` before `start` runs past midnight into the next day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Days the window opens: `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, 24-hour local time.
    #[schema(pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub start: String,
    /// `HH:MM`, 24-hour local time; the window closes before this minute.
    #[schema(pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub end: String,
    /// An IANA time zone (`Europe/Paris`, `UTC`).
    pub time_zone: String,
}

/// Schedule a deploy or a rollout step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    /// The channel it acts on.
    pub channel: String,
    /// What it does.
    pub action: ScheduleAction,
    /// The bundle to deploy or roll out (not for `advance_rollout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The rollout's plan (`start_rollout` only; the default plan when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<RolloutPlan>,
    /// Not before this time (epoch milliseconds); absent: as soon as the
    /// window opens (or at once without a window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
    /// Only inside this window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// A note for people (at most 500 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where a schedule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleState {
    /// Waiting for its time or window.
    Pending,
    /// Ran, once.
    Executed,
    /// Cancelled before it ran.
    Cancelled,
    /// Its action was refused when it was due (see `error`); it does not run again.
    Failed,
}

impl ScheduleState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Executed => "executed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "executed" => Some(Self::Executed),
            "cancelled" => Some(Self::Cancelled),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A scheduled deploy or rollout step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Schedule {
    /// Server-assigned id.
    pub id: i64,
    /// The app.
    pub app_id: String,
    /// The channel it acts on.
    pub channel: String,
    /// What it does.
    pub action: ScheduleAction,
    /// The bundle deployed or rolled out.
    pub bundle: Option<String>,
    /// The plan of a rollout it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<RolloutPlan>,
    /// Not before this time (epoch milliseconds).
    pub at_ms: Option<i64>,
    /// Only inside this window.
    pub window: Option<Window>,
    /// The note given.
    pub note: Option<String>,
    /// Where it stands.
    pub state: ScheduleState,
    /// Who scheduled it (`key:<id>`, …).
    pub created_by: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// When it ran, failed or was cancelled (epoch milliseconds).
    pub ended_at: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// When a pending schedule runs next, by the server's clock (epoch
    /// milliseconds): its time, or its window's next opening after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_at: Option<i64>,
}
