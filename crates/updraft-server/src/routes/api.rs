//! The management API under `/api/v1`: apps, bundles (upload and external
//! registration live in `bundle_upload`), channels with deploy history and rollback, devices
//! and overrides, events, explain, and API keys. Every route checks the key's
//! mode and app allow-list.

use axum::extract::{FromRequest, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use updraft_core::decide::Outcome;
use updraft_core::validate::{is_valid_app_id, validate, Endpoint};
use updraft_protocol::api::*;
use updraft_protocol::device::InfoObject;
use updraft_store::{DeviceQuery, EventQuery};

use crate::auth::{hash_secret, new_secret, Auth};
use crate::error::{ApiError, ApiResult};
use crate::rejection::{Path, Query};
use crate::routes::bundle_checks::checked_public_key;
use crate::state::AppState;

/// Parses a JSON body into `T` with a precise 400 on failure. The content type
/// is not checked: `curl -d` (form-encoded) and clients that send none work.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, ApiError> {
        // The route's body limit (the JSON limit on every route that takes JSON).
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::too_large(state.config.max_json_bytes as u64)
                }
                _ => ApiError::from(r),
            })?;
        // Every body of this API is an object; serde would also read a struct from an array.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::bad_request(
                "invalid_json_body",
                "invalid request body: expected a JSON object",
            ));
        }
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

#[utoipa::path(
    get,
    path = "/apps",
    tag = "apps",
    summary = r#"List apps the key can see"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    responses((status = 200, description = "The apps, oldest first.", body = Vec<App>)),
    security(("bearer" = ["read"]))
)]
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

#[utoipa::path(
    post,
    path = "/apps",
    tag = "apps",
    summary = r#"Create an app"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    request_body = NewApp,
    responses((status = 201, description = "Created.", body = App)),
    security(("bearer" = ["write"]))
)]
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

#[utoipa::path(
    get,
    path = "/apps/{app_id}",
    tag = "apps",
    summary = r#"Get an app"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 200, description = "The app.", body = App)),
    security(("bearer" = ["read"]))
)]
pub async fn get_app(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<App>> {
    Ok(Json(known_app(&s, &auth, KeyMode::Read, &app_id).await?))
}

#[utoipa::path(
    patch,
    path = "/apps/{app_id}",
    tag = "apps",
    summary = r#"Change app settings"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    request_body = AppPatch,
    responses((status = 200, description = "The app as changed.", body = App)),
    security(("bearer" = ["write"]))
)]
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

#[utoipa::path(
    delete,
    path = "/apps/{app_id}",
    tag = "apps",
    summary = r#"Delete an app and everything under it"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 204, description = "Deleted.")),
    security(("bearer" = ["write"]))
)]
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

#[utoipa::path(
    get,
    path = "/apps/{app_id}/bundles",
    tag = "bundles",
    summary = r#"List bundles, newest first"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 200, description = "The bundles, deleted ones included (flagged `deleted`).", body = Vec<Bundle>)),
    security(("bearer" = ["read"]))
)]
pub async fn list_bundles(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<Bundle>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    Ok(Json(s.store.list_bundles(&app_id).await?))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/bundles/{version}",
    tag = "bundles",
    summary = r#"Get a bundle"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("version" = String, Path, description = "The bundle version name.", example = "1.0.0")),
    responses((status = 200, description = "The bundle.", body = Bundle)),
    security(("bearer" = ["read"]))
)]
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

#[utoipa::path(
    patch,
    path = "/apps/{app_id}/bundles/{version}",
    tag = "bundles",
    summary = r#"Change bundle metadata"#,
    description = r#"Needs an API key of mode `upload` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("version" = String, Path, description = "The bundle version name.", example = "1.0.0")),
    request_body = BundleMeta,
    responses((status = 200, description = "The bundle as changed.", body = Bundle)),
    security(("bearer" = ["upload"]))
)]
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

#[utoipa::path(
    delete,
    path = "/apps/{app_id}/bundles/{version}",
    tag = "bundles",
    summary = r#"Soft-delete a bundle (refused while a channel or device pin uses it)"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("version" = String, Path, description = "The bundle version name.", example = "1.0.0")),
    responses((status = 204, description = "Deleted; its version name is never reused.")),
    security(("bearer" = ["write"]))
)]
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

/// A channel name, when given, is not blank (devices and the CLI name channels).
fn check_channel_name(patch: &ChannelPatch) -> ApiResult<()> {
    if patch.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::bad_request(
            "invalid_name",
            "a channel name cannot be blank",
        ));
    }
    Ok(())
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/channels",
    tag = "channels",
    summary = r#"List channels"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 200, description = "The channels.", body = Vec<Channel>)),
    security(("bearer" = ["read"]))
)]
pub async fn list_channels(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<Channel>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    Ok(Json(s.store.list_channels(&app_id).await?))
}

#[utoipa::path(
    post,
    path = "/apps/{app_id}/channels",
    tag = "channels",
    summary = r#"Create a channel (at most one public channel per platform: others lose `public` and are listed in `unpublished`)"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    request_body = ChannelPatch,
    responses((status = 201, description = "Created.", body = ChannelWrite)),
    security(("bearer" = ["write"]))
)]
pub async fn create_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(patch): JsonBody<ChannelPatch>,
) -> ApiResult<Response> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    check_channel_name(&patch)?;
    let w = s
        .store
        .create_channel(&app_id, &patch, crate::now_ms())
        .await?;
    s.snapshots.invalidate(&app_id);
    Ok(created(w))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/channels/{name}",
    tag = "channels",
    summary = r#"Get a channel"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, description = "The channel name.", example = "production")),
    responses((status = 200, description = "The channel.", body = Channel)),
    security(("bearer" = ["read"]))
)]
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

#[utoipa::path(
    patch,
    path = "/apps/{app_id}/channels/{name}",
    tag = "channels",
    summary = r#"Change a channel; changing only `bundle` is a deploy and needs upload mode"#,
    description = r#"Needs an API key of mode `upload` or higher. Changing any other field needs `write`."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, description = "The channel name.", example = "production")),
    request_body = ChannelPatch,
    responses((status = 200, description = "The channel as changed.", body = ChannelWrite)),
    security(("bearer" = ["upload"]))
)]
pub async fn update_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
    JsonBody(patch): JsonBody<ChannelPatch>,
) -> ApiResult<Json<ChannelWrite>> {
    check_channel_name(&patch)?;
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

#[utoipa::path(
    delete,
    path = "/apps/{app_id}/channels/{name}",
    tag = "channels",
    summary = r#"Delete a channel and its device overrides"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, description = "The channel name.", example = "production")),
    responses((status = 204, description = "Deleted.")),
    security(("bearer" = ["write"]))
)]
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

#[utoipa::path(
    get,
    path = "/apps/{app_id}/channels/{name}/history",
    tag = "channels",
    summary = r#"Deploy history, newest first"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, description = "The channel name.", example = "production")),
    responses((status = 200, description = "The deploys.", body = Vec<Deploy>)),
    security(("bearer" = ["read"]))
)]
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

#[utoipa::path(
    post,
    path = "/apps/{app_id}/channels/{name}/rollback",
    tag = "channels",
    summary = r#"Point the channel back at its previous bundle"#,
    description = r#"Needs an API key of mode `upload` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, description = "The channel name.", example = "production")),
    responses((status = 200, description = "The channel as changed.", body = ChannelWrite)),
    security(("bearer" = ["upload"]))
)]
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

/// Query of [`list_devices`].
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeviceListParams {
    /// A prefix of the device id or custom id.
    #[serde(default)]
    pub search: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// Query of [`list_events`].
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventListParams {
    /// Only this device's events.
    #[serde(default)]
    pub device_id: Option<String>,
    /// Only events with this action (such as `set`, `update_fail`).
    #[serde(default)]
    pub action: Option<String>,
    /// At most this many events (default 100).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/devices",
    tag = "devices",
    summary = r#"List devices; search by device id or custom id prefix"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), DeviceListParams),
    responses((status = 200, description = "A page of devices.", body = Page<Device>)),
    security(("bearer" = ["read"]))
)]
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
pub async fn clear_blocks(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, device_id)): Path<(String, String)>,
    Query(q): Query<ClearBlocks>,
) -> ApiResult<Json<BlocksCleared>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let device_id = device_id_param(&device_id)?;
    let version = q.version.as_deref().filter(|v| !v.is_empty());
    s.snapshots.forget_blocks(&app_id, &device_id, version);
    let cleared = s.store.clear_failures(&app_id, &device_id, version).await?;
    s.snapshots.invalidate(&app_id);
    Ok(Json(BlocksCleared { cleared }))
}

/// Query of [`clear_blocks`].
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClearBlocks {
    /// Only the block of this bundle version.
    pub version: Option<String>,
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

#[utoipa::path(
    get,
    path = "/apps/{app_id}/events",
    tag = "events",
    summary = r#"Recorded stats events, newest first"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), EventListParams),
    responses((status = 200, description = "The events.", body = Vec<Event>)),
    security(("bearer" = ["read"]))
)]
pub async fn list_events(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(q): Query<EventListParams>,
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
#[utoipa::path(
    post,
    path = "/apps/{app_id}/explain",
    tag = "devices",
    summary = r#"Dry-run the update decision for a device request and return every rule evaluated"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    request_body = InfoObject,
    responses((status = 200, description = "The outcome, the channel chosen and the trace of every rule evaluated.", body = Explanation)),
    security(("bearer" = ["read"]))
)]
pub async fn explain(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(mut info): JsonBody<InfoObject>,
) -> ApiResult<Json<Explanation>> {
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
    let outcome = match d.outcome {
        Outcome::Update { bundle_id } => ExplainOutcome::Update {
            version: entry.view.bundles[&bundle_id].version.clone(),
        },
        Outcome::RevertToBuiltin => ExplainOutcome::RevertToBuiltin,
        Outcome::NoUpdate {
            code,
            message,
            kind,
            ..
        } => ExplainOutcome::NoUpdate {
            error: code.to_string(),
            message,
            kind,
        },
    };
    Ok(Json(Explanation {
        outcome,
        channel: d.channel,
        trace: d.trace,
    }))
}

// ---- API keys ----

/// `GET /api/v1/me`: the calling key (name, mode, allow-list, expiry), so a
/// client can tell what it may do before it tries.
#[utoipa::path(
    get,
    path = "/me",
    tag = "keys",
    summary = r#"The calling API key: name, mode, app allow-list, expiry"#,
    description = r#"Any valid key. Lets a client (such as `updraft doctor`) tell what it may do."#,
    responses((status = 200, description = "The calling key.", body = ApiKey)),
    security(("bearer" = []))
)]
pub async fn me(auth: Auth) -> Json<ApiKey> {
    Json(auth.0)
}

/// `GET /api/v1/keys`: the keys within the caller's reach (an app-limited
/// key never sees an unscoped one).
#[utoipa::path(
    get,
    path = "/keys",
    tag = "keys",
    summary = r#"List API keys (never their secrets)"#,
    description = r#"Needs an API key of mode `all` or higher. A key limited to some apps sees only keys limited to apps within its own list."#,
    responses((status = 200, description = "The keys within the caller's reach: an app-limited key sees only keys limited to apps it may touch.", body = Vec<ApiKey>)),
    security(("bearer" = ["all"]))
)]
pub async fn list_keys(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<ApiKey>>> {
    auth.require(KeyMode::All)?;
    let mut keys = s.store.list_api_keys().await?;
    keys.retain(|k| auth.reaches(k));
    Ok(Json(keys))
}

/// `POST /api/v1/keys`: a new key is never broader nor longer-lived than the
/// key that creates it. Without `expires_at`, a key made by an expiring key
/// expires with it.
#[utoipa::path(
    post,
    path = "/keys",
    tag = "keys",
    summary = r#"Create an API key; the secret is in this reply only"#,
    description = r#"Needs an API key of mode `all` or higher. A new key is never broader nor longer-lived than the key that creates it: a key limited to some apps can only create keys limited to those apps, and without `expires_at` a key made by an expiring key expires with it."#,
    request_body = NewApiKey,
    responses((status = 201, description = "Created; `secret` is shown this once.", body = CreatedApiKey)),
    security(("bearer" = ["all"]))
)]
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
#[utoipa::path(
    delete,
    path = "/keys/{id}",
    tag = "keys",
    summary = r#"Delete an API key"#,
    description = r#"Needs an API key of mode `all` or higher. Only keys within the caller's reach (others answer 404); the last unexpired unscoped `all` key cannot be deleted (409), so an admin always remains."#,
    params(("id" = i64, Path, description = "The key id.", example = 2)),
    responses((status = 204, description = "Deleted.")),
    security(("bearer" = ["all"]))
)]
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

/// `GET /api/v1/openapi.json`: the document generated from these handlers.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    summary = r#"This document"#,
    description = r#"No key needed."#,
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json", body = Object)),
    security(())
)]
pub async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::document_json(),
    )
        .into_response()
}
