//! `/api/v1/apps/{app_id}/webhooks`: outbound webhook subscriptions, their
//! secrets (shown at creation and rotation only), the delivery log and a
//! test delivery. Every call needs a `write` key: a receiver's URL often
//! carries its own token.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use updraft_protocol::api::*;

use super::api::{created, known_app, JsonBody};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::{Path, Query};
use crate::state::AppState;
use crate::webhooks::{deliver, sign, target};

/// Most webhooks per app.
const MAX_PER_APP: i64 = 20;
/// The longest description kept, in characters.
const MAX_DESCRIPTION: usize = 200;
/// The default and longest grace of a rotated-out secret.
const GRACE_DEFAULT_SECS: u64 = 86_400;
const GRACE_MAX_SECS: u64 = 604_800;

fn invalid(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, message)
}

/// Checks a URL, events and a description as given; returns the events deduplicated.
fn check_fields(
    s: &AppState,
    url: Option<&str>,
    events: Option<&[String]>,
    description: Option<&str>,
) -> ApiResult<Option<Vec<String>>> {
    if let Some(u) = url {
        updraft_core::text::line("url", Some(u), target::MAX_URL)
            .map_err(|e| invalid("invalid_url", e.to_string()))?;
        target::check(u, s.config.webhooks.allow_local).map_err(|e| invalid("invalid_url", e))?;
    }
    updraft_core::text::line("description", description, MAX_DESCRIPTION)
        .map_err(|e| invalid("invalid_description", e.to_string()))?;
    let Some(events) = events else {
        return Ok(None);
    };
    let mut seen = BTreeSet::new();
    for e in events {
        if !WEBHOOK_EVENTS.contains(&e.as_str()) {
            return Err(invalid(
                "invalid_events",
                format!(
                    "{e:?} is not an event; the events are {}",
                    WEBHOOK_EVENTS.join(", ")
                ),
            ));
        }
        seen.insert(e.clone());
    }
    Ok(Some(seen.into_iter().collect()))
}

async fn found(s: &AppState, app_id: &str, id: i64) -> ApiResult<Webhook> {
    s.store
        .get_webhook(app_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("webhook {id} not found in app {app_id}")))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/webhooks",
    tag = "webhooks",
    summary = r#"List the app's webhooks (never their secrets)"#,
    description = r#"Needs an API key of mode `write` or higher (a receiver's URL may hold its token)."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 200, description = "The webhooks, by id.", body = Vec<Webhook>)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn list_webhooks(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<Webhook>>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    Ok(Json(s.store.list_webhooks(&app_id).await?))
}

#[utoipa::path(
    post,
    path = "/apps/{app_id}/webhooks",
    tag = "webhooks",
    summary = r#"Subscribe a URL to the app's events; the secret is in this reply only"#,
    description = r#"Needs an API key of mode `write` or higher. Each event is POSTed as JSON `{"type","timestamp","data"}` signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`), one at a time and in order, retried with backoff for about four days; a 410 answer turns the webhook off. The URL must be `https://` to a public address unless the server sets `[webhooks] allow_local`. At most 20 per app."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    request_body = NewWebhook,
    responses((status = 201, description = "The webhook and its secret.", body = CreatedWebhook)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn create_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(new): JsonBody<NewWebhook>,
) -> ApiResult<Response> {
    Ok(created(create_webhook_op(&s, &auth, &app_id, new).await?))
}

/// Creating a webhook, for the API and the dashboard alike.
pub(crate) async fn create_webhook_op(
    s: &AppState,
    auth: &Auth,
    app_id: &str,
    mut new: NewWebhook,
) -> ApiResult<CreatedWebhook> {
    known_app(s, auth, KeyMode::Write, app_id).await?;
    new.events = check_fields(
        s,
        Some(&new.url),
        Some(&new.events),
        new.description.as_deref(),
    )?
    .unwrap_or_default();
    let secret = sign::new_secret();
    let webhook = s
        .store
        .create_webhook(app_id, &new, &secret, MAX_PER_APP, &s.stamp(auth))
        .await?;
    Ok(CreatedWebhook { webhook, secret })
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/webhooks/{id}",
    tag = "webhooks",
    summary = r#"One webhook"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("id" = i64, Path, description = "The webhook id.", example = 1)),
    responses((status = 200, description = "The webhook.", body = Webhook)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn get_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, id)): Path<(String, i64)>,
) -> ApiResult<Json<Webhook>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    Ok(Json(found(&s, &app_id, id).await?))
}

#[utoipa::path(
    patch,
    path = "/apps/{app_id}/webhooks/{id}",
    tag = "webhooks",
    summary = r#"Change a webhook's URL, events or description, or turn it off or on"#,
    description = r#"Needs an API key of mode `write` or higher. Turning it on again clears its failure streak; events are not queued while it is off."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("id" = i64, Path, description = "The webhook id.", example = 1)),
    request_body = WebhookPatch,
    responses((status = 200, description = "The webhook as changed.", body = Webhook)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn update_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, id)): Path<(String, i64)>,
    JsonBody(mut patch): JsonBody<WebhookPatch>,
) -> ApiResult<Json<Webhook>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    patch.events = check_fields(
        &s,
        patch.url.as_deref(),
        patch.events.as_deref(),
        patch.description.as_deref(),
    )?;
    let w = s
        .store
        .update_webhook(&app_id, id, &patch, &s.stamp(&auth))
        .await?;
    Ok(Json(w))
}

#[utoipa::path(
    delete,
    path = "/apps/{app_id}/webhooks/{id}",
    tag = "webhooks",
    summary = r#"Delete a webhook and its delivery log"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("id" = i64, Path, description = "The webhook id.", example = 1)),
    responses((status = 204, description = "Deleted.")),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn delete_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, id)): Path<(String, i64)>,
) -> ApiResult<StatusCode> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    s.store.delete_webhook(&app_id, id, &s.stamp(&auth)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/apps/{app_id}/webhooks/{id}/rotate",
    tag = "webhooks",
    summary = r#"Rotate a webhook's secret; the new one is in this reply only"#,
    description = r#"Needs an API key of mode `write` or higher. For `grace_seconds` (default a day, at most a week) deliveries carry two signatures, by the new secret and the old one, so the receiver can switch without losing an event."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("id" = i64, Path, description = "The webhook id.", example = 1)),
    request_body(content = Option<RotateSecret>, description = "How long the old secret keeps signing."),
    responses((status = 200, description = "The webhook and its new secret.", body = CreatedWebhook)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn rotate_secret(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, id)): Path<(String, i64)>,
    body: Option<JsonBody<RotateSecret>>,
) -> ApiResult<Json<CreatedWebhook>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let grace = body
        .and_then(|JsonBody(b)| b.grace_seconds)
        .unwrap_or(GRACE_DEFAULT_SECS);
    if grace > GRACE_MAX_SECS {
        return Err(invalid(
            "invalid_grace",
            format!("grace_seconds is at most {GRACE_MAX_SECS} (a week)"),
        ));
    }
    let stamp = s.stamp(&auth);
    let until = stamp
        .at_ms
        .saturating_add(i64::try_from(grace * 1000).unwrap_or(i64::MAX));
    let secret = sign::new_secret();
    let webhook = s
        .store
        .rotate_webhook_secret(&app_id, id, &secret, until, &stamp)
        .await?;
    Ok(Json(CreatedWebhook { webhook, secret }))
}

#[utoipa::path(
    post,
    path = "/apps/{app_id}/webhooks/{id}/test",
    tag = "webhooks",
    summary = r#"Send a webhook.test event now, outside the queue"#,
    description = r#"Needs an API key of mode `write` or higher. Signed as every delivery; the reply says what the receiver answered. Works on a webhook that is turned off; changes neither its queue nor its failure streak."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("id" = i64, Path, description = "The webhook id.", example = 1)),
    responses((status = 200, description = "What the receiver answered.", body = TestDelivery)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn test_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, id)): Path<(String, i64)>,
) -> ApiResult<Json<TestDelivery>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let w = found(&s, &app_id, id).await?;
    // Each test is an outbound request the caller chooses the time of.
    if !s
        .test_delivery_limiter
        .allow(&app_id, &id.to_string(), "test")
    {
        let mut e = ApiError::busy(StatusCode::TOO_MANY_REQUESTS, 1);
        e.body.message =
            "at most one test delivery per second per webhook; retry in a second".into();
        return Err(e);
    }
    let now = s.clock.now_ms();
    let secrets = s.store.webhook_secrets(&app_id, id, now).await?;
    let mut data = serde_json::Map::new();
    data.insert("app_id".into(), app_id.clone().into());
    data.insert("webhook_id".into(), id.into());
    let body = updraft_core::webhook::body("webhook.test", now, data);
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let msg = format!("msg_test_{id}_{now}");
    let sent = deliver::post(
        &s.webhook_client,
        &w.url,
        s.config.webhooks.allow_local,
        &msg,
        now.div_euclid(1000),
        &body,
        &secrets,
    )
    .await;
    Ok(Json(TestDelivery {
        ok: sent.status.is_some_and(|c| (200..300).contains(&c)),
        status: sent.status,
        error: sent.error,
        duration_ms: u64::try_from(sent.took.as_millis()).unwrap_or(u64::MAX),
    }))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/webhooks/{id}/deliveries",
    tag = "webhooks",
    summary = r#"A webhook's deliveries, newest first: state, attempts, last answer"#,
    description = r#"Needs an API key of mode `write` or higher. Finished deliveries are kept 30 days; pending ones until they finish."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("id" = i64, Path, description = "The webhook id.", example = 1), DeliveryListQuery),
    responses((status = 200, description = "The deliveries.", body = Vec<WebhookDelivery>)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn list_deliveries(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, id)): Path<(String, i64)>,
    Query(q): Query<DeliveryListQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    found(&s, &app_id, id).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(invalid("invalid_query", "limit is 1 to 200"));
    }
    Ok(Json(s.store.list_deliveries(&app_id, id, limit).await?))
}
