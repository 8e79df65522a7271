//! The command line of scheduled deploys: `schedule add|list|cancel`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Schedule a deploy (or a rollout started or advanced) at a time and/or inside a recurring window.
    Add(ScheduleAddArgs),
    /// List the app's schedules, newest first, with when each pending one runs next.
    List,
    /// Cancel a pending schedule.
    Cancel {
        /// The schedule's id (from `schedule list`).
        id: i64,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ScheduleAddArgs {
    /// The channel it acts on.
    #[arg(long, short)]
    pub channel: String,
    /// The bundle to deploy (or to roll out with --start-rollout).
    #[arg(long, short, required_unless_present = "advance_rollout")]
    pub bundle: Option<String>,
    /// Start a rollout of the bundle instead of deploying it (the default plan, or --plan).
    #[arg(long, conflicts_with = "advance_rollout")]
    pub start_rollout: bool,
    /// Advance the channel's running rollout by one step.
    #[arg(long, conflicts_with = "bundle")]
    pub advance_rollout: bool,
    /// With --start-rollout: the plan as a JSON file (the API's RolloutPlan).
    #[arg(long, value_name = "FILE", requires = "start_rollout")]
    pub plan: Option<PathBuf>,
    /// Not before this time: RFC 3339 with an offset, such as 2026-12-07T02:00:00+01:00.
    #[arg(long, value_name = "TIME", required_unless_present = "window")]
    pub at: Option<String>,
    /// Only inside this window: DAYS HH:MM-HH:MM ZONE, such as "weekdays 02:00-05:00 Europe/Paris".
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
    /// A note for people.
    #[arg(long)]
    pub note: Option<String>,
}
