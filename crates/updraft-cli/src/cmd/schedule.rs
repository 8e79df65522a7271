//! `schedule add|list|cancel`: deploys and rollout steps of the project's
//! app, at a time or inside a recurring window.

use serde_json::json;
use updraft_core::schedule::{describe, parse_window};
use updraft_protocol::api::{NewSchedule, Schedule, ScheduleAction};

use crate::args::{ScheduleAddArgs, ScheduleCommand};
use crate::error::{CliError, CliResult};
use crate::output::{table, when};
use crate::Ctx;

fn new_schedule(a: ScheduleAddArgs) -> CliResult<NewSchedule> {
    let at_ms = match &a.at {
        None => None,
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    CliError::usage("invalid_time", format!("--at {t:?} is not an RFC 3339 time ({e})"))
                        .hint("give the offset too, such as 2026-12-07T02:00:00+01:00 or 2026-12-07T01:00:00Z")
                })?
                .timestamp_millis(),
        ),
    };
    let window = a
        .window
        .as_deref()
        .map(parse_window)
        .transpose()
        .map_err(|e| CliError::usage("invalid_window", e))?;
    let action = if a.advance_rollout {
        ScheduleAction::AdvanceRollout
    } else if a.start_rollout {
        ScheduleAction::StartRollout
    } else {
        ScheduleAction::Deploy
    };
    Ok(NewSchedule {
        channel: a.channel,
        action,
        bundle: a.bundle,
        plan: a.plan.as_deref().map(crate::plan::read).transpose()?,
        at_ms,
        window,
        note: a.note,
    })
}

/// What the schedule does, in words.
fn what(s: &Schedule) -> String {
    let bundle = s.bundle.as_deref().unwrap_or("?");
    match s.action {
        ScheduleAction::Deploy => format!("deploy {bundle} to {}", s.channel),
        ScheduleAction::StartRollout => format!("start a rollout of {bundle} on {}", s.channel),
        ScheduleAction::AdvanceRollout => format!("advance {}'s rollout", s.channel),
    }
}

/// When it runs, in words.
fn timing(s: &Schedule) -> String {
    let mut parts = Vec::new();
    if let Some(at) = s.at_ms {
        parts.push(format!("from {}", when(at)));
    }
    if let Some(w) = &s.window {
        parts.push(format!("in {}", describe(w)));
    }
    if parts.is_empty() {
        parts.push("at once".into());
    }
    parts.join(", ")
}

pub(crate) async fn run(ctx: &Ctx, c: ScheduleCommand) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    match c {
        ScheduleCommand::Add(a) => {
            let new = new_schedule(a)?;
            let s = client.create_schedule(&app, &new).await?;
            ctx.out.result(
                || {
                    format!(
                        "Schedule {}: {} ({}){}.",
                        s.id,
                        what(&s),
                        timing(&s),
                        s.next_run_at
                            .map(|n| format!("; next run {}", when(n)))
                            .unwrap_or_default()
                    )
                },
                json!(s),
            );
        }
        ScheduleCommand::List => {
            let all = client.list_schedules(&app).await?;
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|s| {
                    vec![
                        s.id.to_string(),
                        what(s),
                        timing(s),
                        match (&s.error, s.next_run_at) {
                            (Some(e), _) => format!("{} ({e})", s.state.as_str()),
                            (None, Some(n)) => format!("{}, next {}", s.state.as_str(), when(n)),
                            (None, None) => s.state.as_str().to_string(),
                        },
                    ]
                })
                .collect();
            ctx.out.result(
                || {
                    if all.is_empty() {
                        format!("No schedules in {app}: `updraft schedule add --channel production --bundle 1.2.0 --window \"weekdays 02:00-05:00 Europe/Paris\"` makes one.")
                    } else {
                        table(&["ID", "WHAT", "WHEN", "STATE"], &rows)
                    }
                },
                json!(all),
            );
        }
        ScheduleCommand::Cancel { id } => {
            let s = client.cancel_schedule(&app, id).await?;
            ctx.out.result(
                || format!("Cancelled schedule {id}: {}.", what(&s)),
                json!(s),
            );
        }
    }
    Ok(())
}
