//! The management API under `/api/v1`: apps, bundles (upload and external
//! registration live in `bundle_upload`), channels with deploy history and rollback, devices
//! and overrides, events, explain, and API keys. Every route checks the key's
//! mode and app allow-list.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use updraft_core::decide::Outcome;
use updraft_core::validate::{is_valid_app_id, validate, Endpoint};
use updraft_protocol::api::*;
use updraft_protocol::device::InfoObject;
use updraft_store::{DeviceQuery, EventQuery};

use crate::auth::{hash_secret, new_secret, Auth};
use crate::error::{ApiError, ApiResult};
use crate::routes::bundle_checks::checked_public_key;
use crate::state::AppState;

/// Parses a JSON body into `T` with a precise 400 on failure.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.max_json_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| ApiError::too_large(limit as u64))?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::bad_request("invalid_json_body", format!("invalid request body: {e}"))
        })
    }
}

pub(crate) fn created<T: serde::Serialize>(v: T) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

pub(crate) async fn known_app(
    state: &AppState,
    auth: &Auth,
    mode: KeyMode,
    app_id: &str,
) -> ApiResult<App> {
    auth.require_app(mode, app_id)?;
    state
        .store
        .get_app(app_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("app {app_id} not found")))
}

// ---- apps ----

pub async fn list_apps(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<App>>> {
    auth.require(KeyMode::Read)?;
    let apps = s
        .store
        .list_apps()
        .await?
        .into_iter()
        .filter(|a| auth.can_see(&a.app_id))
        .collect();
    Ok(Json(apps))
}

pub async fn create_app(
    State(s): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<NewApp>,
) -> ApiResult<Response> {
    auth.require_app(KeyMode::Write, &body.app_id)?;
    if !is_valid_app_id(&body.app_id) {
        return Err(ApiError::bad_request(
            "invalid_app_id",
            format!(
                "app_id {:?} must be in reverse-domain form, e.g. com.example.app",
                body.app_id
            ),
        ));
    }
    let app = s.store.create_app(&body, crate::now_ms()).await?;
    // Devices that asked before the app existed are answered from memory; forget that.
    s.snapshots.invalidate(&body.app_id);
    Ok(created(app))
}

pub async fn get_app(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<App>> {
    Ok(Json(known_app(&s, &auth, KeyMode::Read, &app_id).await?))
}

pub async fn update_app(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(patch): JsonBody<AppPatch>,
) -> ApiResult<Json<App>> {
    auth.require_app(KeyMode::Write, &app_id)?;
    let mut patch = patch;
    if let Some(pem) = patch.public_key.as_deref().filter(|p| !p.trim().is_empty()) {
        patch.public_key = Some(checked_public_key(pem)?.to_pem());
    }
    let app = s.store.update_app(&app_id, &patch).await?;
    s.snapshots.invalidate(&app_id);
    Ok(Json(app))
}

pub async fn delete_app(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require_app(KeyMode::Write, &app_id)?;
    let shas: Vec<String> = s
        .store
        .list_bundles(&app_id)
        .await?
        .into_iter()
        .filter_map(|b| b.blob_sha256)
        .collect();
    s.store.delete_app(&app_id).await?;
    s.snapshots.invalidate(&app_id);
    // A re-created app with the same id must get its device rows written again.
    if let Some(f) = &s.seen_filter {
        f.clear();
    }
    s.collect_blobs(shas).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---- bundles ----

pub async fn list_bundles(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<Bundle>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    Ok(Json(s.store.list_bundles(&app_id).await?))
}

pub async fn get_bundle(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, version)): Path<(String, String)>,
) -> ApiResult<Json<Bundle>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    match s.store.get_bundle(&app_id, &version).await? {
        Some(b) if !b.deleted => Ok(Json(b)),
        _ => Err(ApiError::not_found(format!(
            "bundle {version} not found in app {app_id}"
        ))),
    }
}

pub async fn update_bundle(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, version)): Path<(String, String)>,
    JsonBody(meta): JsonBody<BundleMeta>,
) -> ApiResult<Json<Bundle>> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    check_min_version(&meta)?;
    let b = s.store.update_bundle_meta(&app_id, &version, &meta).await?;
    s.snapshots.invalidate(&app_id);
    Ok(Json(b))
}

pub async fn delete_bundle(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, version)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let sha = s
        .store
        .get_bundle(&app_id, &version)
        .await?
        .and_then(|b| b.blob_sha256);
    s.store.delete_bundle(&app_id, &version).await?;
    s.snapshots.invalidate(&app_id);
    s.collect_blobs(sha).await;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn check_version(version: &str) -> ApiResult<()> {
    if updraft_core::version::parse_bundle_version(version).is_none() {
        return Err(ApiError::bad_request(
            "invalid_version_format",
            format!("bundle version {version:?} must be semver, such as 1.2.3 or 1.2.3-beta.1 (no leading v)"),
        ));
    }
    Ok(())
}

pub(crate) fn check_min_version(meta: &BundleMeta) -> ApiResult<()> {
    if let Some(m) = &meta.min_update_version {
        if updraft_core::version::coerce_native(m).is_none() {
            return Err(ApiError::bad_request(
                "invalid_version_format",
                format!("min_update_version {m:?} is not a version"),
            ));
        }
    }
    Ok(())
}

pub use super::bundle_upload::{register_external, upload_bundle, UploadParams};

// ---- channels ----

pub async fn list_channels(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<Channel>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    Ok(Json(s.store.list_channels(&app_id).await?))
}

pub async fn create_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(patch): JsonBody<ChannelPatch>,
) -> ApiResult<Response> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let w = s
        .store
        .create_channel(&app_id, &patch, crate::now_ms())
        .await?;
    s.snapshots.invalidate(&app_id);
    Ok(created(w))
}

pub async fn get_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
) -> ApiResult<Json<Channel>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    s.store
        .get_channel(&app_id, &name)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("channel {name} not found in app {app_id}")))
}

pub async fn update_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
    JsonBody(patch): JsonBody<ChannelPatch>,
) -> ApiResult<Json<ChannelWrite>> {
    // Moving a channel to another bundle is a deploy (upload mode); any other change needs write.
    let only_bundle = patch.bundle.is_some()
        && ChannelPatch {
            bundle: None,
            ..patch.clone()
        } == ChannelPatch::default();
    known_app(
        &s,
        &auth,
        if only_bundle {
            KeyMode::Upload
        } else {
            KeyMode::Write
        },
        &app_id,
    )
    .await?;
    let w = s
        .store
        .update_channel(&app_id, &name, &patch, crate::now_ms())
        .await?;
    s.snapshots.invalidate(&app_id);
    Ok(Json(w))
}

pub async fn delete_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    s.store.delete_channel(&app_id, &name).await?;
    s.snapshots.invalidate(&app_id);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn channel_history(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Deploy>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    if s.store.get_channel(&app_id, &name).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "channel {name} not found in app {app_id}"
        )));
    }
    Ok(Json(s.store.deploy_history(&app_id, &name).await?))
}

pub async fn rollback_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
) -> ApiResult<Json<ChannelWrite>> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    let w = s
        .store
        .rollback_channel(&app_id, &name, crate::now_ms())
        .await?;
    s.snapshots.invalidate(&app_id);
    Ok(Json(w))
}

// ---- devices ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceListParams {
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
}

pub async fn list_devices(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(q): Query<DeviceListParams>,
) -> ApiResult<Json<Page<Device>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let query = DeviceQuery {
        search: q.search.filter(|x| !x.is_empty()),
        cursor: q.cursor,
        limit: q.limit.unwrap_or(50),
    };
    Ok(Json(s.store.list_devices(&app_id, &query).await?))
}

pub async fn get_device(
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

pub async fn set_override(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, device_id)): Path<(String, String)>,
    JsonBody(o): JsonBody<SetOverride>,
) -> ApiResult<Json<Device>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let device_id = device_id_param(&device_id)?;
    s.store
        .set_override(&app_id, &device_id, &o, crate::now_ms())
        .await?;
    s.snapshots.invalidate(&app_id);
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
pub async fn clear_blocks(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, device_id)): Path<(String, String)>,
    Query(q): Query<ClearBlocks>,
) -> ApiResult<Json<serde_json::Value>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let device_id = device_id_param(&device_id)?;
    let version = q.version.as_deref().filter(|v| !v.is_empty());
    s.snapshots.forget_blocks(&app_id, &device_id, version);
    let cleared = s.store.clear_failures(&app_id, &device_id, version).await?;
    s.snapshots.invalidate(&app_id);
    Ok(Json(serde_json::json!({ "cleared": cleared })))
}

/// Query of [`clear_blocks`].
#[derive(Debug, serde::Deserialize)]
pub struct ClearBlocks {
    /// Only the block of this bundle version.
    pub version: Option<String>,
}

pub async fn remove_override(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, device_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let device_id = device_id_param(&device_id)?;
    if !s.store.remove_override(&app_id, &device_id).await? {
        return Err(ApiError::not_found(format!(
            "device {device_id} has no override"
        )));
    }
    s.snapshots.invalidate(&app_id);
    Ok(StatusCode::NO_CONTENT)
}

// ---- events and explain ----

pub async fn list_events(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Vec<Event>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let limit = match q.get("limit") {
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::bad_request("invalid_limit", "limit must be a number"))?,
        None => 100,
    };
    let query = EventQuery {
        device_id: q.get("device_id").map(|d| d.to_ascii_lowercase()),
        action: q.get("action").cloned(),
        limit,
    };
    Ok(Json(s.store.list_events(&app_id, &query).await?))
}

/// `GET /api/v1/apps/{app_id}/offers`: update offers per bundle and day.
pub async fn list_offers(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<OfferCount>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    Ok(Json(s.store.list_offers(&app_id).await?))
}

/// `POST /api/v1/apps/{app_id}/explain`: runs the decision for a device request
/// (the plugin's InfoObject) without recording anything, and returns every rule evaluated.
pub async fn explain(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(mut info): JsonBody<InfoObject>,
) -> ApiResult<Json<Value>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    info.app_id = Some(app_id.clone());
    let req =
        validate(info, Endpoint::Updates).map_err(|e| ApiError::bad_request(e.code, e.message))?;
    let entry = s
        .snapshots
        .get(&*s.store, &app_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("app {app_id} not found")))?;
    let d = entry.decide(&req, true);
    let outcome = match &d.outcome {
        Outcome::Update { bundle_id } => {
            json!({"result": "update", "version": entry.view.bundles[bundle_id].version})
        }
        Outcome::RevertToBuiltin => json!({"result": "revert_to_builtin"}),
        Outcome::NoUpdate {
            code,
            message,
            kind,
            ..
        } => json!({"result": "no_update", "error": code, "message": message, "kind": kind}),
    };
    Ok(Json(
        json!({"outcome": outcome, "channel": d.channel, "trace": d.trace}),
    ))
}

// ---- API keys ----

/// `GET /api/v1/me`: the calling key (name, mode, allow-list, expiry), so a
/// client can tell what it may do before it tries.
pub async fn me(auth: Auth) -> Json<ApiKey> {
    Json(auth.0)
}

/// `GET /api/v1/keys`: the keys within the caller's reach (an app-limited
/// key never sees an unscoped one).
pub async fn list_keys(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<ApiKey>>> {
    auth.require(KeyMode::All)?;
    let mut keys = s.store.list_api_keys().await?;
    keys.retain(|k| auth.reaches(k));
    Ok(Json(keys))
}

/// `POST /api/v1/keys`: a new key is never broader nor longer-lived than the
/// key that creates it. Without `expires_at`, a key made by an expiring key
/// expires with it.
pub async fn create_key(
    State(s): State<AppState>,
    auth: Auth,
    JsonBody(mut k): JsonBody<NewApiKey>,
) -> ApiResult<Response> {
    auth.require(KeyMode::All)?;
    if !auth.0.apps.is_empty() && (k.apps.is_empty() || k.apps.iter().any(|a| !auth.can_see(a))) {
        return Err(ApiError::forbidden(
            "a key limited to some apps can only create keys limited to those apps",
        ));
    }
    if k.name.trim().is_empty() {
        return Err(ApiError::bad_request("invalid_name", "a key needs a name"));
    }
    let now = crate::now_ms();
    if k.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            "expires_at must be in the future (epoch milliseconds)",
        ));
    }
    if let Some(limit) = auth.0.expires_at {
        match k.expires_at {
            None => k.expires_at = Some(limit),
            Some(t) if t > limit => {
                return Err(ApiError::forbidden(
                    "a key cannot create a key that outlives it: give an expires_at no later than this key's",
                ))
            }
            Some(_) => {}
        }
    }
    let secret = new_secret();
    let key = s
        .store
        .create_api_key(&k, &hash_secret(&secret), now)
        .await?;
    Ok(created(CreatedApiKey { key, secret }))
}

/// `DELETE /api/v1/keys/{id}`: only keys within the caller's reach; the last
/// unexpired unscoped `all` key stays (409), so an admin always remains.
pub async fn delete_key(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    auth.require(KeyMode::All)?;
    let keys = s.store.list_api_keys().await?;
    // A key out of reach is reported as missing: its existence is not the caller's business.
    let Some(target) = keys.iter().find(|k| k.id == id && auth.reaches(k)) else {
        return Err(ApiError::not_found(format!("API key {id} not found")));
    };
    if let Some(limit) = auth.0.expires_at {
        if target.expires_at.is_none_or(|t| t > limit) {
            return Err(ApiError::forbidden(
                "a key cannot delete a key that outlives it",
            ));
        }
    }
    s.store.delete_api_key(id, crate::now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi(headers: HeaderMap) -> Response {
    let _ = headers;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("../../openapi.json"),
    )
        .into_response()
}
