//! A channel's rules on its page: its targeting rule (shown in words and
//! edited as the API's JSON, with the API's validation) and its schedules
//! (pending ones can be cancelled). Schedules are made with the CLI or the
//! API (`updraft schedule`).

use axum::extract::State;
use maud::{html, Markup};
use updraft_protocol::api::*;

use super::channels::here;
use super::forms::Posted;
use super::layout::{csrf, see_other, time, PageResult};
use super::session::Signed;
use crate::error::ApiError;
use crate::rejection::Path;
use crate::routes::api::JsonBody;
use crate::routes::{channels, schedules};
use crate::state::AppState;

/// The targeting section.
pub(crate) fn target(signed: &Signed, base: &str, c: &Channel) -> Markup {
    let can = signed.auth.0.mode >= KeyMode::Write;
    let json = c
        .target
        .as_ref()
        .and_then(|t| serde_json::to_string_pretty(t).ok())
        .unwrap_or_default();
    html! {
        h2 #targeting { "Targeting" }
        p #target-words {
            @match &c.target {
                Some(t) => { "Only devices where " strong { (updraft_core::target::describe(t)) } " get this channel through their default channel or as a public channel (an admin's override still puts any device on it)." }
                None => { "Every device the flags above allow." }
            }
        }
        @if can {
            details {
                summary { "Edit the rule" }
                form.stack method="post" action={ (base) "/target" } {
                    (csrf(signed))
                    label for="target-json" { "Rule, as JSON (see docs/targeting.md); empty: every device" }
                    textarea #target-json name="target" rows="8" spellcheck="false" { (json) }
                    div { button type="submit" { "Save rule" } }
                }
            }
        }
    }
}

/// The schedules section: this channel's, newest first.
pub(crate) fn schedules(signed: &Signed, base: &str, all: &[Schedule]) -> Markup {
    let can = signed.auth.0.mode >= KeyMode::Upload;
    html! {
        h2 #schedules { "Schedules" }
        @if all.is_empty() {
            p.muted { "None. Plan a deploy or a rollout with " code { "updraft schedule add" } "." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { "Action" } th scope="col" { "Bundle" } th scope="col" { "When" }
                    th scope="col" { "State" } th scope="col" { "Note" } th scope="col" { "" }
                } }
                tbody {
                    @for sc in all {
                        tr {
                            td { (sc.action.as_str()) }
                            td.mono { (sc.bundle.as_deref().unwrap_or("")) }
                            td {
                                @if let Some(t) = sc.next_run_at.or(sc.at_ms) { (time(t)) }
                                @if sc.window.is_some() { " " span.muted { "(in a window)" } }
                            }
                            td { (sc.state.as_str()) @if let Some(e) = &sc.error { br; span.error { (e) } } }
                            td { (sc.note.as_deref().unwrap_or("")) }
                            td {
                                @if can && sc.state == ScheduleState::Pending {
                                    form.inline method="post" action={ (base) "/schedules/" (sc.id) "/cancel" } data-confirm="Cancel this schedule?" {
                                        (csrf(signed))
                                        button.secondary type="submit" aria-label={ "Cancel schedule " (sc.id) } { "Cancel" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

/// This channel's schedules, newest first.
pub(crate) async fn of_channel(
    s: &AppState,
    signed: &Signed,
    app_id: &str,
    name: &str,
) -> Result<Vec<Schedule>, ApiError> {
    let mut all = schedules::list_schedules(
        State(s.clone()),
        signed.auth.clone(),
        Path(app_id.to_string()),
    )
    .await?
    .0;
    all.retain(|sc| sc.channel == name);
    all.sort_by_key(|sc| std::cmp::Reverse(sc.id));
    Ok(all)
}

/// `POST /ui/apps/{app}/channels/{name}/target`: saves the rule.
pub(crate) async fn save_target(
    State(s): State<AppState>,
    Path((app_id, name)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let raw = posted.fields.get("target").unwrap_or_default();
    let rule: Option<Target> = if raw.is_empty() {
        None
    } else {
        Some(
            serde_json::from_str(raw)
                .map_err(|e| ApiError::bad_request("invalid_target", format!("target: {e}")))?,
        )
    };
    let patch = ChannelPatch {
        target: Some(rule),
        ..ChannelPatch::default()
    };
    let _changed = channels::update_channel(
        State(s),
        posted.signed.auth,
        Path((app_id.clone(), name.clone())),
        JsonBody(patch),
    )
    .await?;
    Ok(see_other(&format!("{}#targeting", here(&app_id, &name))))
}

/// `POST /ui/apps/{app}/channels/{name}/schedules/{id}/cancel`.
pub(crate) async fn cancel(
    State(s): State<AppState>,
    Path((app_id, name, id)): Path<(String, String, i64)>,
    posted: Posted,
) -> PageResult {
    // Only a schedule of this channel, through this channel's page.
    let planned = of_channel(&s, &posted.signed, &app_id, &name).await?;
    if !planned.iter().any(|sc| sc.id == id) {
        return Err(ApiError::not_found(format!("channel {name} has no schedule {id}")).into());
    }
    let _cancelled =
        schedules::cancel_schedule(State(s), posted.signed.auth, Path((app_id.clone(), id)))
            .await?;
    Ok(see_other(&format!("{}#schedules", here(&app_id, &name))))
}
