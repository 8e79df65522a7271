//! `/api/v1/apps/{app_id}/channels/{name}/rollout`, `/rollouts` and
//! `/metrics`: start a staged rollout, watch it, act on it, and a release's
//! metrics. The rules (plan validation, the default plan, gates) are in
//! `updraft_core::rollout` and `updraft_core::gate`; the runner that acts on
//! gates is [`crate::rollout_runner`].

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use updraft_protocol::api::*;
use updraft_store::Transition;

use super::api::{check_reason, created, known_app, JsonBody};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::{Path, Query};
use crate::state::AppState;

/// The latest gate evaluations shown in a rollout's status.
const CHECKS_SHOWN: i64 = 20;
/// The default metrics window: the last 24 hours.
const DEFAULT_WINDOW_MS: i64 = 86_400_000;
/// The longest metrics window: 90 days.
const MAX_WINDOW_MS: i64 = 90 * 86_400_000;

#[utoipa::path(
    post,
    path = "/apps/{app_id}/channels/{name}/rollout",
    tag = "rollouts",
    summary = r#"Start a staged rollout of a candidate bundle on a channel"#,
    description = r#"Needs an API key of mode `upload` or higher. Without a plan, the default plan: 1 %, 10 %, 50 %, 100 %, an hour each, pausing when the failure or crash rate is above 2 %."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, description = "The channel name.", example = "production")),
    request_body = NewRollout,
    responses(
        (status = 201, description = "The rollout, running its first step.", body = Rollout),
        (status = 400, description = "The plan is invalid, or the bundle is unknown or the channel's own.", body = updraft_protocol::error::ErrorBody),
        (status = 409, description = "The channel already has an active rollout.", body = updraft_protocol::error::ErrorBody),
    ),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn start_rollout(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
    JsonBody(new): JsonBody<NewRollout>,
) -> ApiResult<Response> {
    Ok(created(
        start_rollout_op(&s, &auth, &app_id, &name, new).await?,
    ))
}

/// Starting a rollout, for the API and the dashboard alike.
pub(crate) async fn start_rollout_op(
    s: &AppState,
    auth: &Auth,
    app_id: &str,
    name: &str,
    mut new: NewRollout,
) -> ApiResult<Rollout> {
    known_app(s, auth, KeyMode::Upload, app_id).await?;
    let plan = new
        .plan
        .take()
        .unwrap_or_else(updraft_core::rollout::default_plan);
    updraft_core::rollout::validate_plan(&plan)
        .map_err(|m| ApiError::bad_request("invalid_plan", m))?;
    new.plan = Some(plan);
    Ok(s.store
        .start_rollout(app_id, name, &new, &s.stamp(auth))
        .await?)
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/channels/{name}/rollout",
    tag = "rollouts",
    summary = r#"The channel's latest rollout: its steps, both arms' health and the latest gate evaluations"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, description = "The channel name.", example = "production")),
    responses((status = 200, description = "The rollout and its health.", body = RolloutStatus)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn rollout_status(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
) -> ApiResult<Json<RolloutStatus>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let rollout = s
        .store
        .get_rollout(&app_id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("channel {name} has no rollout")))?;
    let channel = s
        .store
        .get_channel(&app_id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("channel {name} not found")))?;
    let (candidate, stable) = s.store.arm_health(rollout.id).await?;
    let checks = s
        .store
        .list_rollout_checks(rollout.id, CHECKS_SHOWN)
        .await?;
    let now = s.now_ms();
    let percent_now = if rollout.state.is_active() {
        updraft_core::rollout::percent_now(&rollout, now)
    } else if rollout.state == RolloutState::Promoted {
        100.0
    } else {
        0.0
    };
    let warnings = updraft_core::gate::blind_spots(&rollout, &candidate);
    Ok(Json(RolloutStatus {
        stable_version: channel.bundle_version,
        percent_now,
        candidate,
        stable,
        checks,
        warnings,
        rollout,
    }))
}

#[utoipa::path(
    post,
    path = "/apps/{app_id}/channels/{name}/rollout/{action}",
    tag = "rollouts",
    summary = r#"Pause, resume, advance, promote or revert the channel's active rollout"#,
    description = r#"Needs an API key of mode `upload` or higher. Promote makes the candidate the channel's bundle (a deploy in its history); revert sends every device back to the stable bundle."#,
    params(
        ("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"),
        ("name" = String, Path, description = "The channel name.", example = "production"),
        ("action" = RolloutVerb, Path, description = "What to do.", example = "pause"),
    ),
    request_body(content = Option<RolloutAction>, description = "An optional reason, kept with the change."),
    responses(
        (status = 200, description = "The rollout after the action.", body = Rollout),
        (status = 409, description = "The rollout's state does not allow it (ended, already paused, at its last step).", body = updraft_protocol::error::ErrorBody),
    ),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn rollout_action(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name, verb)): Path<(String, String, RolloutVerb)>,
    body: Option<JsonBody<RolloutAction>>,
) -> ApiResult<Json<Rollout>> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    let reason = body.and_then(|JsonBody(a)| a.reason);
    check_reason(reason.as_deref())?;
    let rollout = s
        .store
        .get_rollout(&app_id, &name)
        .await?
        // An ended one is refused by the store with its state (409).
        .ok_or_else(|| ApiError::not_found(format!("channel {name} has no rollout")))?;
    let transition = match verb {
        RolloutVerb::Pause => Transition::Pause,
        RolloutVerb::Resume => Transition::Resume,
        RolloutVerb::Advance => Transition::Advance,
        RolloutVerb::Promote => Transition::Promote,
        RolloutVerb::Revert => Transition::Revert,
    };
    let r = s
        .store
        .transition_rollout(
            &app_id,
            rollout.id,
            transition,
            None,
            reason.as_deref(),
            &s.stamp(&auth),
        )
        .await?;
    Ok(Json(r))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/rollouts",
    tag = "rollouts",
    summary = r#"The app's rollouts, newest first (at most 100)"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 200, description = "The rollouts.", body = Vec<Rollout>)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn list_rollouts(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<Rollout>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    Ok(Json(s.store.list_rollouts(&app_id).await?))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/metrics",
    tag = "rollouts",
    summary = r#"Release metrics of a bundle or a channel over a window: the funnel, rates, adoption and times"#,
    description = r#"Needs an API key of mode `read` or higher. Exactly one of `bundle` or `channel` (a channel measures its rollout's candidate while one is active, else its bundle). The window defaults to the last 24 hours and is at most 90 days."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), MetricsQuery),
    responses((status = 200, description = "The metrics.", body = ReleaseMetrics)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn metrics(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(q): Query<MetricsQuery>,
) -> ApiResult<Json<ReleaseMetrics>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    // The window is `[since, until)`: by default it ends just after now, so
    // what happened this millisecond counts.
    let until = q.until.unwrap_or_else(|| s.now_ms() + 1);
    let since = q.since.unwrap_or(until.saturating_sub(DEFAULT_WINDOW_MS));
    if since >= until || until.saturating_sub(since) > MAX_WINDOW_MS {
        return Err(ApiError::bad_request(
            "invalid_window",
            "since must be before until, at most 90 days apart",
        ));
    }
    let version = match (&q.bundle, &q.channel) {
        (Some(b), None) => b.clone(),
        (None, Some(c)) => channel_release(&s, &app_id, c).await?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_query_parameters",
                "give exactly one of bundle or channel",
            ))
        }
    };
    if version == "builtin" {
        return Err(ApiError::bad_request(
            "invalid_query_parameters",
            "the builtin bundle has no release metrics: it ships in the store build",
        ));
    }
    let mut m = s
        .store
        .release_metrics(&app_id, &version, since, until)
        .await?;
    m.channel = q.channel;
    Ok(Json(m))
}

/// The bundle a channel is releasing: its active rollout's candidate, else
/// its bundle.
async fn channel_release(s: &AppState, app_id: &str, name: &str) -> ApiResult<String> {
    if let Some(r) = s
        .store
        .get_rollout(app_id, name)
        .await?
        .filter(|r| r.state.is_active())
    {
        return Ok(r.candidate_version);
    }
    let channel = s.store.get_channel(app_id, name).await?.ok_or_else(|| {
        ApiError::bad_request(
            "unknown_channel",
            format!("channel {name:?} is not a channel of app {app_id}"),
        )
    })?;
    Ok(channel.bundle_version)
}
