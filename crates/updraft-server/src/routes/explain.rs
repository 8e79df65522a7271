//! `/api/v1/apps/{app_id}/explain` and `/devices/{device_id}/explain`: the
//! update decision for a device, dry-run, with every rule evaluated (the
//! channel, the rollout bucket and arm, the policies, the offer). Both call
//! the function `/updates` calls.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use updraft_core::decide::Decision;
use updraft_core::validate::{validate, Endpoint};
use updraft_protocol::api::*;
use updraft_protocol::device::{InfoObject, UpdatesReply};

use super::api::{known_app, JsonBody};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::{Path, Query};
use crate::state::AppState;

/// `POST /api/v1/apps/{app_id}/explain`: runs the decision for a device request
/// (the plugin's InfoObject) without recording anything, and returns every rule evaluated.
#[utoipa::path(
    post,
    path = "/apps/{app_id}/explain",
    tag = "devices",
    summary = r#"Dry-run the update decision for a device request and return every rule evaluated"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ExplainQuery),
    request_body = InfoObject,
    responses((status = 200, description = "The outcome, the channel chosen, the trace of every rule evaluated and the exact reply `/updates` would send.", body = Explanation)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn explain(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(app_id): Path<String>,
    Query(q): Query<ExplainQuery>,
    JsonBody(mut info): JsonBody<InfoObject>,
) -> ApiResult<Json<Explanation>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let country = country(q)?;
    info.app_id = Some(app_id.clone());
    let mut req =
        validate(info, Endpoint::Updates).map_err(|e| ApiError::bad_request(e.code, e.message))?;
    req.country = country;
    let entry = s
        .snapshots
        .get(&*s.store, &app_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("app {app_id} not found")))?;
    // The very function `/updates` calls: the same reply, with the trace.
    let d = entry.decide(&req, true, s.now_ms(), &|| s.base_url(&headers));
    Ok(Json(explanation(d)))
}

/// `GET /api/v1/apps/{app_id}/devices/{device_id}/explain`: the decision for
/// the device's last recorded request.
#[utoipa::path(
    get,
    path = "/apps/{app_id}/devices/{device_id}/explain",
    tag = "devices",
    summary = r#"What the server would answer this device now, from its last recorded request, and every rule evaluated"#,
    description = r#"Needs an API key of mode `read` or higher. The request is rebuilt from the device's stored row (platform, native and bundle versions, plugin version, build flags, custom id, default channel, key id); 404 when the device was never seen, 409 `nothing_to_replay` when it never sent a complete check (it is known from an override or from stats only)."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("device_id" = String, Path, pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "The device id (a UUID; compared case-insensitively).", example = "00000000-0000-4000-8000-000000000001"), ExplainQuery),
    responses(
        (status = 200, description = "The outcome, the channel chosen, the trace of every rule evaluated and the exact reply `/updates` would send.", body = Explanation),
        (status = 409, description = "The device never sent a complete check (`nothing_to_replay`).", body = updraft_protocol::error::ErrorBody),
    ),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn explain_device(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path((app_id, device_id)): Path<(String, String)>,
    Query(q): Query<ExplainQuery>,
) -> ApiResult<Json<Explanation>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let country = country(q)?;
    let device_id = device_id.to_ascii_lowercase();
    let d = s
        .store
        .get_device(&app_id, &device_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("device {device_id} not found in app {app_id}"))
        })?;
    let info = InfoObject {
        app_id: Some(app_id.clone()),
        device_id: Some(d.device_id),
        platform: d.platform,
        version_name: d.version_name,
        version_build: d.version_build,
        version_code: d.version_code,
        version_os: d.version_os,
        plugin_version: d.plugin_version,
        is_emulator: d.is_emulator,
        is_prod: d.is_prod,
        custom_id: d.custom_id,
        default_channel: d.default_channel,
        key_id: d.key_id,
        ..InfoObject::default()
    };
    // A device known only from an override or from stats never sent a
    // whole check: the request is fine, the device has nothing to replay.
    let mut req = validate(info, Endpoint::Updates).map_err(|e| {
        ApiError::new(
            StatusCode::CONFLICT,
            "nothing_to_replay",
            format!(
                "device {device_id} has no complete check to replay ({}); explain a request with POST /apps/{app_id}/explain",
                e.message
            ),
        )
    })?;
    req.country = country;
    let entry = s
        .snapshots
        .get(&*s.store, &app_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("app {app_id} not found")))?;
    let d = entry.decide(&req, true, s.now_ms(), &|| s.base_url(&headers));
    Ok(Json(explanation(d)))
}

/// The query's country, upper-cased; 400 when it is not two letters.
fn country(q: ExplainQuery) -> ApiResult<Option<String>> {
    match q.country {
        None => Ok(None),
        Some(c) => match updraft_core::target::country_code(&c) {
            Some(code) => Ok(Some(code)),
            None => Err(ApiError::bad_request(
                "invalid_query_parameters",
                format!("country {c:?} is not a two-letter ISO 3166-1 code"),
            )),
        },
    }
}

/// The explain reply of a decision.
fn explanation(d: Decision) -> Explanation {
    let outcome = match &d.reply {
        UpdatesReply::Update(u) => ExplainOutcome::Update {
            version: u.version.clone(),
        },
        UpdatesReply::RevertToBuiltin(_) => ExplainOutcome::RevertToBuiltin,
        UpdatesReply::NoUpdate(n) => ExplainOutcome::NoUpdate {
            error: n.error.clone(),
            message: n.message.clone(),
            kind: n.kind,
        },
    };
    Explanation {
        outcome,
        channel: d.channel,
        trace: d.trace,
        reply: d.reply,
    }
}
