//! `POST /api/v1/apps/{app_id}/bundles/{version}/revoke`: take a bad release
//! back for good. The store does the whole of it in one transaction
//! (`BundleStore::revoke_bundle`); the decision never offers a revoked bundle.

use axum::extract::State;
use axum::Json;
use updraft_protocol::api::{KeyMode, Revocation, RevokeBundle};

use super::api::{check_reason, known_app, JsonBody};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::rejection::Path;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/apps/{app_id}/bundles/{version}/revoke",
    tag = "bundles",
    summary = r#"Revoke a bundle: never offered again; what served it goes back"#,
    description = r#"Needs an API key of mode `write` or higher. In one transaction: the active rollouts trying the bundle (or on a channel serving it) are reverted, each channel serving it goes back to the newest earlier bundle of its deploy history that is neither deleted nor revoked (or to builtin, which makes devices revert), and the bundle is marked revoked. Devices running it are moved at their next check; a pin to it is ignored. From then on a channel, a rollout or a pin naming it is refused with 409 `bundle_revoked`. Revoking a revoked bundle changes nothing (`changed: false`). A revoked bundle stays listed, and can be deleted once no device pin names it."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("version" = String, Path, description = "The bundle version name.", example = "1.0.0")),
    request_body(content = Option<RevokeBundle>, description = "An optional reason, kept on the bundle and in the change log."),
    responses(
        (status = 200, description = "The bundle as revoked, and what moved off it.", body = Revocation),
        (status = 404, description = "No live bundle has this version.", body = updraft_protocol::error::ErrorBody),
    ),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn revoke_bundle(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, version)): Path<(String, String)>,
    body: Option<JsonBody<RevokeBundle>>,
) -> ApiResult<Json<Revocation>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let reason = body.and_then(|JsonBody(b)| b.reason);
    check_reason(reason.as_deref())?;
    let done = s
        .store
        .revoke_bundle(&app_id, &version, reason.as_deref(), &s.stamp(&auth))
        .await?;
    Ok(Json(done))
}
