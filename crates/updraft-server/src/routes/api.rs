//! The management API under `/api/v1`: what its handlers share (the JSON body
//! extractor, the app lookup with the key's checks), apps, bundles, and the
//! OpenAPI document. Uploads live in `bundle_upload`, channels in `channels`,
//! devices and events in `devices`, API keys in `keys`. Every route checks the
//! key's mode and app allow-list.

use axum::extract::{FromRequest, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use updraft_core::validate::is_valid_app_id;
use updraft_protocol::api::*;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::Path;
use crate::routes::bundle_checks::checked_public_key;
use crate::state::AppState;

/// Parses a JSON body into `T` with a precise 400 on failure. The content type
/// is not checked: `curl -d` (form-encoded) and clients that send none work.
pub(crate) struct JsonBody<T>(pub T);

/// A route's own JSON body limit, set beside its `DefaultBodyLimit` when it
/// takes more than `max_json_bytes`, so a 413 names the limit that applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonLimit(pub(crate) usize);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, ApiError> {
        // The route's body limit (the JSON limit, unless the route sets its own).
        let limit = req
            .extensions()
            .get::<JsonLimit>()
            .map_or(state.config.limits.max_json_bytes, |l| l.0);
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(limit as u64),
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

/// An optional JSON body: none when the body is empty (or only
/// whitespace) or `null` (the document's optional bodies are nullable),
/// else parsed as [`JsonBody`] parses it.
impl<T: serde::de::DeserializeOwned> axum::extract::OptionalFromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(
        req: axum::extract::Request,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::Bytes::from_request(
            axum::extract::Request::from_parts(parts.clone(), body),
            state,
        )
        .await
        .map_err(|r| match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::too_large(state.config.limits.max_json_bytes as u64)
            }
            _ => ApiError::from(r),
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
            return Ok(None);
        }
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        <Self as FromRequest<AppState>>::from_request(req, state)
            .await
            .map(Some)
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
pub(crate) async fn list_apps(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<App>>> {
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
pub(crate) async fn create_app(
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
    let app = s.store.create_app(&body, &s.stamp(&auth)).await?;
    // Devices that asked before the app existed are answered from memory; forget that.
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
pub(crate) async fn get_app(
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
pub(crate) async fn update_app(
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
    let app = s.store.update_app(&app_id, &patch, &s.stamp(&auth)).await?;
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
pub(crate) async fn delete_app(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require_app(KeyMode::Write, &app_id)?;
    // Its files get holds in the same transaction; the sweeper removes them.
    s.store.delete_app(&app_id, &s.stamp(&auth)).await?;
    // A re-created app with the same id must get its device rows written again.
    if let Some(f) = &s.seen_filter {
        f.clear();
    }
    s.sweeper.soon();
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
pub(crate) async fn list_bundles(
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
pub(crate) async fn get_bundle(
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
pub(crate) async fn update_bundle(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, version)): Path<(String, String)>,
    JsonBody(meta): JsonBody<BundleMeta>,
) -> ApiResult<Json<Bundle>> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    check_min_version(&meta)?;
    let b = s
        .store
        .update_bundle_meta(&app_id, &version, &meta, &s.stamp(&auth))
        .await?;
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
pub(crate) async fn delete_bundle(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, version)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    s.store
        .delete_bundle(&app_id, &version, &s.stamp(&auth))
        .await?;
    s.sweeper.soon();
    Ok(StatusCode::NO_CONTENT)
}

/// The longest reason kept with a change (a rollout action's, a revocation's), in characters.
const MAX_REASON: usize = 500;

/// A reason kept with a change: one line of at most [`MAX_REASON`] characters.
pub(crate) fn check_reason(reason: Option<&str>) -> ApiResult<()> {
    updraft_core::text::line("reason", reason, MAX_REASON)
        .map_err(|e| ApiError::bad_request("invalid_reason", e.to_string()))
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

pub(crate) use super::bundle_upload::{register_external, upload_bundle};

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
pub(crate) async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::document_json(),
    )
        .into_response()
}
