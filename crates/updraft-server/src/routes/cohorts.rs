//! `/api/v1/apps/{app_id}/cohorts`: the app's named cohorts (device ids and
//! custom ids), which targeting rules name with `{"cohort": name}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use updraft_protocol::api::*;

use super::api::{known_app, JsonBody};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::Path;
use crate::state::AppState;

/// Most cohorts per app.
const MAX_PER_APP: i64 = 100;

#[utoipa::path(
    get,
    path = "/apps/{app_id}/cohorts",
    tag = "cohorts",
    summary = r#"List the app's named cohorts"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 200, description = "The cohorts by name.", body = Vec<NamedCohort>)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn list_cohorts(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<NamedCohort>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    Ok(Json(s.store.list_cohorts(&app_id).await?))
}

#[utoipa::path(
    put,
    path = "/apps/{app_id}/cohorts/{name}",
    tag = "cohorts",
    summary = r#"Create a named cohort or replace its members"#,
    description = r#"Needs an API key of mode `write` or higher. Device ids are UUIDs; at most 10 000 ids in all and 100 cohorts per app. Every node serves the new members at once (the app's snapshot is reloaded)."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,64}$", description = "The cohort's name.", example = "beta")),
    request_body = CohortMembers,
    responses(
        (status = 200, description = "Replaced.", body = NamedCohort),
        (status = 201, description = "Created.", body = NamedCohort),
    ),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn put_cohort(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
    JsonBody(members): JsonBody<CohortMembers>,
) -> ApiResult<Response> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let bad = |m: String| ApiError::bad_request("invalid_cohort", m);
    updraft_core::target::cohort_name(&name).map_err(bad)?;
    updraft_core::target::validate_members(&members.device_ids, &members.custom_ids)
        .map_err(bad)?;
    let (cohort, created) = s
        .store
        .put_cohort(&app_id, &name, &members, MAX_PER_APP, &s.stamp(&auth))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(cohort)).into_response())
}

#[utoipa::path(
    delete,
    path = "/apps/{app_id}/cohorts/{name}",
    tag = "cohorts",
    summary = r#"Delete a named cohort no rule names"#,
    description = r#"Needs an API key of mode `write` or higher. 409 while a channel's targeting rule or an active rollout's step names it."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, description = "The cohort's name.", example = "beta")),
    responses((status = 204, description = "Deleted.")),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn delete_cohort(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    s.store
        .delete_cohort(&app_id, &name, &s.stamp(&auth))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
