//! The whole HTTP surface: every route, the layers around them (request
//! log, request ids, body limits and timeouts, forwarding headers, error
//! envelopes) and the reply for unknown paths.

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, put};
use axum::Router;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

use crate::routes::{
    api, capgo, channel_self, channels, cohorts, device, devices, explain, files, health, hooks,
    keys, manifest_files, revoke, rollouts, schedules, webhooks,
};
use crate::state::AppState;
use crate::{access_log, error, public_url, rejection, routes};

/// The reply for a path no route serves, marked for the request log's
/// budget: the envelope, or a page under the dashboard's `/ui/`.
async fn not_found(
    axum::extract::State(s): axum::extract::State<AppState>,
    uri: axum::http::Uri,
) -> Response {
    let dashboard = s.config.server.dashboard;
    let e = error::ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found");
    let mut res = if uri.path().starts_with("/ui/") && dashboard {
        crate::dashboard::not_found(e)
    } else {
        e.into_response()
    };
    res.extensions_mut().insert(access_log::NoRoute);
    res
}

/// The whole HTTP surface.
pub(crate) fn router(state: AppState) -> Router {
    let json_limit = state.config.limits.max_json_bytes;
    // Beyond the address space is no limit at all.
    let upload_limit = usize::try_from(state.config.limits.max_bundle_bytes).unwrap_or(usize::MAX);
    let manifest_limit = json_limit.max(manifest_files::MANIFEST_JSON_BYTES);
    let v1 = Router::new()
        .route("/openapi.json", get(api::openapi))
        .route("/me", get(keys::me))
        .route("/apps", get(api::list_apps).post(api::create_app))
        .route(
            "/apps/{app_id}",
            get(api::get_app)
                .patch(api::update_app)
                .delete(api::delete_app),
        )
        .route(
            "/apps/{app_id}/bundles",
            get(api::list_bundles)
                .post(api::upload_bundle)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/apps/{app_id}/bundles/external",
            post(api::register_external),
        )
        .route(
            "/apps/{app_id}/bundles/{version}",
            get(api::get_bundle)
                .patch(api::update_bundle)
                .delete(api::delete_bundle),
        )
        .route(
            "/apps/{app_id}/bundles/{version}/revoke",
            post(revoke::revoke_bundle),
        )
        .route(
            "/apps/{app_id}/bundles/{version}/manifest",
            put(manifest_files::set_manifest)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(manifest_limit))
                .layer::<_, std::convert::Infallible>(axum::Extension(api::JsonLimit(
                    manifest_limit,
                ))),
        )
        .route(
            "/apps/{app_id}/files/missing",
            post(manifest_files::missing_files),
        )
        .route(
            "/apps/{app_id}/files/{sha256}",
            put(manifest_files::upload_file).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/apps/{app_id}/channels",
            get(channels::list_channels).post(channels::create_channel),
        )
        .route(
            "/apps/{app_id}/channels/{name}",
            get(channels::get_channel)
                .patch(channels::update_channel)
                .delete(channels::delete_channel),
        )
        .route(
            "/apps/{app_id}/channels/{name}/history",
            get(channels::channel_history),
        )
        .route(
            "/apps/{app_id}/channels/{name}/rollback",
            post(channels::rollback_channel),
        )
        .route(
            "/apps/{app_id}/channels/{name}/rollout",
            get(rollouts::rollout_status).post(rollouts::start_rollout),
        )
        .route(
            "/apps/{app_id}/channels/{name}/rollout/{action}",
            post(rollouts::rollout_action),
        )
        .route("/apps/{app_id}/rollouts", get(rollouts::list_rollouts))
        .route(
            "/apps/{app_id}/schedules",
            get(schedules::list_schedules).post(schedules::create_schedule),
        )
        .route(
            "/apps/{app_id}/schedules/{id}/cancel",
            post(schedules::cancel_schedule),
        )
        .route("/apps/{app_id}/cohorts", get(cohorts::list_cohorts))
        .route(
            "/apps/{app_id}/cohorts/{name}",
            put(cohorts::put_cohort).delete(cohorts::delete_cohort),
        )
        .route(
            "/apps/{app_id}/hooks",
            get(hooks::list_hooks).post(hooks::create_hook),
        )
        .route("/apps/{app_id}/hooks/{id}", delete(hooks::delete_hook))
        .route("/hooks/{token}", post(hooks::call_hook))
        .route(
            "/apps/{app_id}/webhooks",
            get(webhooks::list_webhooks).post(webhooks::create_webhook),
        )
        .route(
            "/apps/{app_id}/webhooks/{id}",
            get(webhooks::get_webhook)
                .patch(webhooks::update_webhook)
                .delete(webhooks::delete_webhook),
        )
        .route(
            "/apps/{app_id}/webhooks/{id}/rotate",
            post(webhooks::rotate_secret),
        )
        .route(
            "/apps/{app_id}/webhooks/{id}/test",
            post(webhooks::test_webhook),
        )
        .route(
            "/apps/{app_id}/webhooks/{id}/deliveries",
            get(webhooks::list_deliveries),
        )
        .route("/apps/{app_id}/metrics", get(rollouts::metrics))
        .route("/apps/{app_id}/devices", get(devices::list_devices))
        .route(
            "/apps/{app_id}/devices/{device_id}",
            get(devices::get_device),
        )
        .route(
            "/apps/{app_id}/devices/{device_id}/explain",
            get(explain::explain_device),
        )
        .route(
            "/apps/{app_id}/devices/{device_id}/override",
            put(devices::set_override).delete(devices::remove_override),
        )
        .route(
            "/apps/{app_id}/devices/{device_id}/blocks",
            axum::routing::delete(devices::clear_blocks),
        )
        .route("/apps/{app_id}/events", get(devices::list_events))
        .route("/apps/{app_id}/changes", get(routes::changes::list_changes))
        .route("/apps/{app_id}/audit", get(routes::changes::audit))
        .route("/apps/{app_id}/explain", post(explain::explain))
        .route("/apps/{app_id}/offers", get(devices::list_offers))
        .route("/apps/{app_id}/checks", get(devices::check_counts))
        .route("/keys", get(keys::list_keys).post(keys::create_key))
        .route("/keys/{id}", axum::routing::delete(keys::delete_key));
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/updates", post(device::updates).get(device::ok))
        .route(
            "/updates/manifest_size",
            post(routes::manifest_size::manifest_size),
        )
        .route("/stats", post(device::stats).get(device::ok))
        .route("/channel_self", any(channel_self::channel_self))
        .route("/ok", post(device::ok))
        .route(
            "/files/{file}",
            get(files::bundle_file).head(files::bundle_file),
        )
        .route(
            "/device",
            post(capgo::post_device)
                .get(capgo::get_device)
                .delete(capgo::delete_device),
        )
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(crate::prometheus::serve))
        .nest("/api/v1", v1)
        .merge(if state.config.server.dashboard {
            crate::dashboard::routes()
        } else {
            Router::new()
        })
        .fallback(not_found)
        .layer(axum::middleware::map_response(rejection::envelope_errors))
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            state.config.limits.body_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            public_url::strip_untrusted_forwarding,
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(access_log::AccessLogLayer(state.traffic.clone()))
        .layer(SetRequestIdLayer::new(
            request_id,
            crate::request_id::SequentialIds::default(),
        ))
        .with_state(state)
}
