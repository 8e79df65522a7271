//! `/api/v1/apps/{app_id}/channels`: channels, their deploy history and
//! one-call rollback.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use updraft_protocol::api::*;

use super::api::{created, known_app, JsonBody};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::Path;
use crate::state::AppState;

/// A channel name, when given, is not blank (devices and the CLI name
/// channels); a targeting rule, when given, keeps the rules of
/// [`updraft_core::target::validate`].
fn check_patch(patch: &ChannelPatch) -> ApiResult<()> {
    if patch.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::bad_request(
            "invalid_name",
            "a channel name cannot be blank",
        ));
    }
    // Every URL naming a channel has it as a path segment: `.` and `..` would be resolved away.
    if patch
        .name
        .as_deref()
        .is_some_and(|n| matches!(n, "." | ".."))
    {
        return Err(ApiError::bad_request(
            "invalid_name",
            "a channel cannot be named . or ..",
        ));
    }
    if let Some(Some(rule)) = &patch.target {
        updraft_core::target::validate(rule)
            .map_err(|e| ApiError::bad_request("invalid_target", format!("target: {e}")))?;
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
pub(crate) async fn list_channels(
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
    summary = r#"Create a channel (at most one public channel without a targeting rule per platform: others lose `public` and are listed in `unpublished`)"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    request_body = ChannelPatch,
    responses((status = 201, description = "Created.", body = ChannelWrite)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn create_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(patch): JsonBody<ChannelPatch>,
) -> ApiResult<Response> {
    Ok(created(
        create_channel_op(&s, &auth, &app_id, &patch).await?,
    ))
}

/// Creating a channel, for the API and the dashboard alike.
pub(crate) async fn create_channel_op(
    s: &AppState,
    auth: &Auth,
    app_id: &str,
    patch: &ChannelPatch,
) -> ApiResult<ChannelWrite> {
    known_app(s, auth, KeyMode::Write, app_id).await?;
    check_patch(patch)?;
    Ok(s.store
        .create_channel(app_id, patch, &s.stamp(auth))
        .await?)
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
pub(crate) async fn get_channel(
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
    summary = r#"Change a channel; changing only `bundle` (and `critical`) is a deploy and needs upload mode"#,
    description = r#"Needs an API key of mode `upload` or higher. Changing any other field needs `write`."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("name" = String, Path, description = "The channel name.", example = "production")),
    request_body = ChannelPatch,
    responses((status = 200, description = "The channel as changed.", body = ChannelWrite)),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn update_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
    JsonBody(patch): JsonBody<ChannelPatch>,
) -> ApiResult<Json<ChannelWrite>> {
    check_patch(&patch)?;
    // Moving a channel to another bundle, critical or not, is a deploy
    // (upload mode, as starting and reverting rollouts are); any other change needs write.
    let only_bundle = patch.bundle.is_some()
        && ChannelPatch {
            bundle: None,
            critical: None,
            ..patch.clone()
        } == ChannelPatch::default();
    let mut mode = if only_bundle {
        KeyMode::Upload
    } else {
        KeyMode::Write
    };
    // `critical` with the bundle the channel already serves marks the
    // current deploy without deploying: a setting, which needs write.
    if only_bundle && patch.critical.is_some() {
        known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
        if let Some(current) = s.store.get_channel(&app_id, &name).await? {
            let named = patch.bundle.clone().flatten().unwrap_or_default();
            let same = named == current.bundle_version
                || (current.bundle_id.is_none() && matches!(named.as_str(), "" | "builtin"));
            if same {
                mode = KeyMode::Write;
            }
        }
    }
    known_app(&s, &auth, mode, &app_id).await?;
    let w = s
        .store
        .update_channel(&app_id, &name, &patch, &s.stamp(&auth))
        .await?;
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
pub(crate) async fn delete_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    s.store
        .delete_channel(&app_id, &name, &s.stamp(&auth))
        .await?;
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
pub(crate) async fn channel_history(
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
pub(crate) async fn rollback_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, name)): Path<(String, String)>,
) -> ApiResult<Json<ChannelWrite>> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    let w = s
        .store
        .rollback_channel(&app_id, &name, &s.stamp(&auth))
        .await?;
    Ok(Json(w))
}
