//! `/api/v1/keys` and `/api/v1/me`: API keys, which never reach beyond the
//! scope of the key that manages them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use updraft_protocol::api::*;

use super::api::{created, JsonBody};
use crate::auth::{hash_secret, new_secret, Auth};
use crate::error::{ApiError, ApiResult};
use crate::rejection::Path;
use crate::state::AppState;

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
pub(crate) async fn me(auth: Auth) -> Json<ApiKey> {
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
pub(crate) async fn list_keys(
    State(s): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Vec<ApiKey>>> {
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
pub(crate) async fn create_key(
    State(s): State<AppState>,
    auth: Auth,
    JsonBody(k): JsonBody<NewApiKey>,
) -> ApiResult<Response> {
    Ok(created(create_key_op(&s, &auth, k).await?))
}

/// Creating a key, for the API and the dashboard alike.
pub(crate) async fn create_key_op(
    s: &AppState,
    auth: &Auth,
    mut k: NewApiKey,
) -> ApiResult<CreatedApiKey> {
    auth.require(KeyMode::All)?;
    if !auth.0.apps.is_empty() && (k.apps.is_empty() || k.apps.iter().any(|a| !auth.can_see(a))) {
        return Err(ApiError::forbidden(
            "a key limited to some apps can only create keys limited to those apps",
        ));
    }
    if k.name.trim().is_empty() {
        return Err(ApiError::bad_request("invalid_name", "a key needs a name"));
    }
    let now = s.now_ms();
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
        .create_api_key(&k, &hash_secret(&secret), &s.stamp(auth))
        .await?;
    Ok(CreatedApiKey { key, secret })
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
pub(crate) async fn delete_key(
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
    s.store.delete_api_key(id, &s.stamp(&auth)).await?;
    Ok(StatusCode::NO_CONTENT)
}
