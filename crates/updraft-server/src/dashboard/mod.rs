//! The dashboard: pages for people under `/ui/`, rendered on the server
//! (maud) from the same handlers as the management API. A page signs in
//! with an API key ([`session`]), and every read and write calls the
//! `/api/v1` handler that does the same, with that key's [`crate::auth::Auth`]:
//! the same mode and app checks, the same validation, the same audit stamp.
//! Forms are checked for origin and CSRF ([`forms`]). The CSS and the small
//! script are compiled in ([`assets`]); pages carry a strict
//! Content-Security-Policy (no inline script or style, nothing from
//! elsewhere).

mod apps;
mod assets;
mod audit;
mod bundles;
mod channel_rules;
mod channels;
mod charts;
mod devices;
mod forms;
mod keys;
mod layout;
mod release;
mod rollout;
mod session;
mod signin;
mod stats;
mod webhooks;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub(crate) use signin::Failures;

use crate::state::AppState;

/// What every dashboard reply carries: no framing, no sniffing, no referrer
/// beyond the server, nothing loaded from elsewhere, and no caching of
/// pages (the assets set their own).
async fn page_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// A path under `/ui/` that no page serves: an error page.
pub(crate) fn not_found(e: crate::error::ApiError) -> Response {
    layout::PageError::Api(e).into_response()
}

/// `/` and `/ui`: to the dashboard's home.
async fn home() -> Response {
    layout::see_other("/ui/").into_response()
}

/// Every dashboard route (with their full paths), and `/` to the dashboard.
pub(crate) fn routes() -> Router<AppState> {
    let app = "/ui/apps/{app_id}";
    let channel = "/ui/apps/{app_id}/channels/{name}";
    let device = "/ui/apps/{app_id}/devices/{device_id}";
    Router::new()
        .route("/ui/", get(apps::list))
        .route("/ui/signin", get(signin::page).post(signin::submit))
        .route("/ui/signout", post(signin::signout))
        .route("/ui/assets/{name}", get(assets::serve))
        .route(app, get(apps::overview))
        .route(&format!("{app}/channels"), post(apps::create_channel))
        .route(channel, get(channels::page_of).post(channels::save))
        .route(
            &format!("{channel}/adoption.csv"),
            get(release::adoption_csv),
        )
        .route(&format!("{channel}/gate.csv"), get(rollout::gate_csv))
        .route(
            &format!("{channel}/target"),
            post(channel_rules::save_target),
        )
        .route(
            &format!("{channel}/schedules/{{id}}/cancel"),
            post(channel_rules::cancel),
        )
        .route(&format!("{channel}/deploy"), post(channels::deploy))
        .route(&format!("{channel}/rollback"), post(channels::rollback))
        .route(&format!("{channel}/rollout"), post(rollout::start))
        .route(&format!("{channel}/rollout/{{verb}}"), post(rollout::act))
        .route(&format!("{app}/bundles"), get(bundles::list))
        .route(
            &format!("{app}/bundles/{{version}}/delete"),
            post(bundles::delete),
        )
        .route(
            &format!("{app}/bundles/{{version}}/revoke"),
            post(bundles::revoke),
        )
        .route(&format!("{app}/stats"), get(stats::page_of))
        .route(&format!("{app}/stats/checks.csv"), get(stats::checks_csv))
        .route(
            &format!("{app}/stats/adoption.csv"),
            get(stats::adoption_csv),
        )
        .route(&format!("{app}/audit"), get(audit::list))
        .route(
            &format!("{app}/webhooks"),
            get(webhooks::list).post(webhooks::create),
        )
        .route(&format!("{app}/webhooks/{{id}}/test"), post(webhooks::test))
        .route(
            &format!("{app}/webhooks/{{id}}/delete"),
            post(webhooks::delete),
        )
        .route(&format!("{app}/devices"), get(devices::search))
        .route(device, get(devices::device))
        .route(&format!("{device}/override"), post(devices::set_override))
        .route(
            &format!("{device}/override/clear"),
            post(devices::clear_override),
        )
        .route(
            &format!("{device}/blocks/clear"),
            post(devices::clear_blocks),
        )
        .route("/ui/keys", get(keys::list).post(keys::create))
        .route("/ui/keys/{id}/delete", post(keys::delete))
        .layer(axum::middleware::map_response(page_headers))
        .route("/ui", get(home))
        .route("/", get(home))
}
