//! `/api/v1/apps/{app_id}/schedules`: scheduled deploys and rollout steps —
//! create, list (with when each pending one runs next), cancel. The runner
//! is [`crate::scheduler`]; windows are `updraft_core::schedule`.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use updraft_protocol::api::*;

use super::api::{created, known_app, JsonBody};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::Path;
use crate::state::AppState;

/// Most pending schedules per app.
const MAX_PENDING: i64 = 100;
/// The longest note kept.
const MAX_NOTE: usize = 500;
/// How far ahead a schedule may be set: two years.
const MAX_AHEAD_MS: i64 = 2 * 366 * 86_400_000;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_schedule", message)
}

/// The fields each action needs and takes, a window that follows the rules,
/// a time neither more than a day past nor more than two years away.
fn check(s: &NewSchedule, now_ms: i64) -> ApiResult<()> {
    updraft_core::text::line("channel", Some(&s.channel), 200).map_err(|e| bad(e.to_string()))?;
    updraft_core::text::line("note", s.note.as_deref(), MAX_NOTE)
        .map_err(|e| bad(e.to_string()))?;
    match (s.action, &s.bundle) {
        (ScheduleAction::AdvanceRollout, Some(_)) => {
            return Err(bad(
                "advance_rollout acts on the channel's rollout: it takes no bundle",
            ))
        }
        (ScheduleAction::Deploy | ScheduleAction::StartRollout, None) => {
            return Err(bad(format!(
                "{} needs the bundle to deploy",
                s.action.as_str()
            )))
        }
        (_, Some(b)) => super::api::check_version(b)?,
        _ => {}
    }
    if s.plan.is_some() && s.action != ScheduleAction::StartRollout {
        return Err(bad("only start_rollout takes a plan"));
    }
    if let Some(plan) = &s.plan {
        updraft_core::rollout::validate_plan(plan)
            .map_err(|m| ApiError::bad_request("invalid_plan", m))?;
    }
    if let Some(w) = &s.window {
        updraft_core::schedule::validate(w).map_err(bad)?;
    }
    if let Some(at) = s.at_ms {
        if at > now_ms.saturating_add(MAX_AHEAD_MS) {
            return Err(bad("at_ms is more than two years ahead"));
        }
        if at < now_ms.saturating_sub(86_400_000) {
            return Err(bad("at_ms is more than a day in the past: give a time to come (or none to run at once)"));
        }
    }
    Ok(())
}

/// `s` with when it runs next, by the server's clock (pending ones only).
fn with_next(mut s: Schedule, now_ms: i64) -> Schedule {
    if s.state == ScheduleState::Pending {
        s.next_run_at = updraft_core::schedule::next_run(s.at_ms, s.window.as_ref(), now_ms);
    }
    s
}

#[utoipa::path(
    post,
    path = "/apps/{app_id}/schedules",
    tag = "schedules",
    summary = r#"Schedule a deploy, or a rollout started or advanced, at a time or inside a recurring window"#,
    description = r#"Needs an API key of mode `upload` or higher (the mode deploys and rollouts need). The schedule runs once, across nodes, at the first check of the server's scheduler (every `gate_check_interval_ms`) when it is past `at_ms` and inside `window`; an action refused then (a revoked bundle, a channel with a rollout) marks it failed. At most 100 pending per app."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    request_body = NewSchedule,
    responses((status = 201, description = "Scheduled.", body = Schedule)),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn create_schedule(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(new): JsonBody<NewSchedule>,
) -> ApiResult<Response> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    let now = s.now_ms();
    check(&new, now)?;
    // Its first possible run: every pass looks only at schedules due by then.
    let due_at =
        updraft_core::schedule::next_run(new.at_ms, new.window.as_ref(), now).unwrap_or(now);
    let made = s
        .store
        .create_schedule(&app_id, &new, due_at, MAX_PENDING, &s.stamp(&auth))
        .await?;
    Ok(created(with_next(made, now)))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/schedules",
    tag = "schedules",
    summary = r#"List the app's schedules, newest first, with when each pending one runs next"#,
    description = r#"Needs an API key of mode `read` or higher. The latest 200."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 200, description = "The schedules.", body = Vec<Schedule>)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn list_schedules(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<Schedule>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let now = s.now_ms();
    let all = s.store.list_schedules(&app_id).await?;
    Ok(Json(all.into_iter().map(|x| with_next(x, now)).collect()))
}

#[utoipa::path(
    post,
    path = "/apps/{app_id}/schedules/{id}/cancel",
    tag = "schedules",
    summary = r#"Cancel a pending schedule (it stays listed, cancelled)"#,
    description = r#"Needs an API key of mode `upload` or higher. 409 when it already ran, failed or was cancelled."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("id" = i64, Path, description = "The schedule's id.", example = 1)),
    responses((status = 200, description = "Cancelled.", body = Schedule)),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn cancel_schedule(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, id)): Path<(String, i64)>,
) -> ApiResult<Json<Schedule>> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    let done = s
        .store
        .cancel_schedule(&app_id, id, &s.stamp(&auth))
        .await?;
    Ok(Json(done))
}
