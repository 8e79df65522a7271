//! `/api/v1/apps/{app_id}/devices`, `/events` and `/offers`: what the fleet
//! does, overrides and pins, and rollback blocks.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use updraft_protocol::api::*;
use updraft_store::{check_hour, DeviceQuery, EventQuery};

use super::api::{known_app, JsonBody};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::{Path, Query};
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/apps/{app_id}/devices",
    tag = "devices",
    summary = r#"List devices; search by device id or custom id prefix"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), DeviceListQuery),
    responses((status = 200, description = "A page of devices.", body = Page<Device>)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn list_devices(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(q): Query<DeviceListQuery>,
) -> ApiResult<Json<Page<Device>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let query = DeviceQuery {
        search: q.search.filter(|x| !x.is_empty()),
        cursor: q.cursor,
        limit: q.limit.unwrap_or(50),
    };
    Ok(Json(s.store.list_devices(&app_id, &query).await?))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/devices/{device_id}",
    tag = "devices",
    summary = r#"Get a device, its override and rolled-back bundles"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("device_id" = String, Path, pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "The device id (a UUID; compared case-insensitively).", example = "00000000-0000-4000-8000-000000000001")),
    responses((status = 200, description = "The device.", body = Device)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn get_device(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, device_id)): Path<(String, String)>,
) -> ApiResult<Json<Device>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    s.store
        .get_device(&app_id, &device_id.to_ascii_lowercase())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("device {device_id} not found in app {app_id}")))
}

fn device_id_param(raw: &str) -> ApiResult<String> {
    let d = raw.to_ascii_lowercase();
    if updraft_core::validate::is_uuid(&d) {
        Ok(d)
    } else {
        Err(ApiError::bad_request(
            "invalid_device_id",
            format!("device id {raw:?} is not a UUID"),
        ))
    }
}

#[utoipa::path(
    put,
    path = "/apps/{app_id}/devices/{device_id}/override",
    tag = "devices",
    summary = r#"Put a device on a channel or pin it to a bundle"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("device_id" = String, Path, pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "The device id (a UUID; compared case-insensitively).", example = "00000000-0000-4000-8000-000000000001")),
    request_body = SetOverride,
    responses((status = 200, description = "The device with its override.", body = Device)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn set_override(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, device_id)): Path<(String, String)>,
    JsonBody(o): JsonBody<SetOverride>,
) -> ApiResult<Json<Device>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let device_id = device_id_param(&device_id)?;
    s.store
        .set_override(&app_id, &device_id, &o, &s.stamp(&auth))
        .await?;
    let d = s
        .store
        .get_device(&app_id, &device_id)
        .await?
        .ok_or_else(|| ApiError::internal("override", "device vanished"))?;
    Ok(Json(d))
}

/// `DELETE /api/v1/apps/{app_id}/devices/{device_id}/blocks[?version=V]`:
/// clears the device's rollback blocks (listed in the device's
/// `failed_bundles`), so it may be offered those bundles again.
#[utoipa::path(
    delete,
    path = "/apps/{app_id}/devices/{device_id}/blocks",
    tag = "devices",
    summary = r#"Clear a device"s rollback blocks (listed in its `failed_bundles`), so it may be offered those bundles again"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("device_id" = String, Path, pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "The device id (a UUID; compared case-insensitively).", example = "00000000-0000-4000-8000-000000000001"), ClearBlocks),
    responses((status = 200, description = "How many blocks were cleared.", body = BlocksCleared)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn clear_blocks(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, device_id)): Path<(String, String)>,
    Query(q): Query<ClearBlocks>,
) -> ApiResult<Json<BlocksCleared>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let device_id = device_id_param(&device_id)?;
    let version = q.version.as_deref().filter(|v| !v.is_empty());
    let cleared = s
        .store
        .clear_failures(&app_id, &device_id, version, &s.stamp(&auth))
        .await?;
    Ok(Json(BlocksCleared { cleared }))
}

/// Query of [`clear_blocks`].
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ClearBlocks {
    /// Only the block of this bundle version.
    pub(crate) version: Option<String>,
}

#[utoipa::path(
    delete,
    path = "/apps/{app_id}/devices/{device_id}/override",
    tag = "devices",
    summary = r#"Remove a device override"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("device_id" = String, Path, pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "The device id (a UUID; compared case-insensitively).", example = "00000000-0000-4000-8000-000000000001")),
    responses((status = 204, description = "Removed.")),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn remove_override(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, device_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let device_id = device_id_param(&device_id)?;
    if !s
        .store
        .remove_override(&app_id, &device_id, &s.stamp(&auth))
        .await?
    {
        return Err(ApiError::not_found(format!(
            "device {device_id} has no override"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- events and explain ----

#[utoipa::path(
    get,
    path = "/apps/{app_id}/events",
    tag = "events",
    summary = r#"Recorded stats events, newest first"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), EventListQuery),
    responses((status = 200, description = "The events.", body = Vec<Event>)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn list_events(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(q): Query<EventListQuery>,
) -> ApiResult<Json<Vec<Event>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let query = EventQuery {
        device_id: q.device_id.map(|d| d.to_ascii_lowercase()),
        action: q.action,
        limit: q.limit.unwrap_or(100),
    };
    Ok(Json(s.store.list_events(&app_id, &query).await?))
}

/// `GET /api/v1/apps/{app_id}/offers`: update offers per bundle and day.
#[utoipa::path(
    get,
    path = "/apps/{app_id}/offers",
    tag = "events",
    summary = r#"Update offers per bundle and day (days since the Unix epoch, UTC), newest first"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 200, description = "Offer counts.", body = Vec<OfferCount>)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn list_offers(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<OfferCount>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    Ok(Json(s.store.list_offers(&app_id).await?))
}

/// The longest window of [`check_counts`]: 90 days.
const MAX_CHECK_WINDOW_MS: i64 = 90 * 86_400_000;
const HOUR_MS: i64 = 3_600_000;

#[utoipa::path(
    get,
    path = "/apps/{app_id}/checks",
    tag = "events",
    summary = r#"Update checks (POST /updates answered) per hour over a window"#,
    description = r#"Needs an API key of mode `read` or higher. The window defaults to the last 24 hours and is at most 90 days; every hour of it is listed, oldest first. Each node adds its counts with its telemetry flushes, so the current hour lags by up to a flush interval. Kept as long as events (`event_retention_days`)."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ChecksQuery),
    responses((status = 200, description = "Checks per hour.", body = CheckCounts)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn check_counts(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(q): Query<ChecksQuery>,
) -> ApiResult<Json<CheckCounts>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let until = q.until.unwrap_or_else(|| s.now_ms() + 1);
    // The default start: a day before `until`, not before 1970.
    let since = q.since.unwrap_or(until.saturating_sub(86_400_000).max(0));
    if since >= until || until.saturating_sub(since) > MAX_CHECK_WINDOW_MS || since < 0 {
        return Err(ApiError::bad_request(
            "invalid_window",
            "since must be before until, at most 90 days apart, and not before 1970",
        ));
    }
    let (first, end) = (check_hour(since), check_hour(until - 1) + 1);
    let stored: std::collections::HashMap<i64, i64> = s
        .store
        .check_counts(&app_id, first, end)
        .await?
        .into_iter()
        .collect();
    let hours = (first..end)
        .map(|h| HourCount {
            at: h * HOUR_MS,
            checks: stored.get(&h).copied().unwrap_or(0),
        })
        .collect();
    Ok(Json(CheckCounts {
        since: first * HOUR_MS,
        until,
        hours,
    }))
}
