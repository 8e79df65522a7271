//! An app's outbound webhooks: each with its events, its state and its
//! latest deliveries; a test button (the result shown on the page), a form
//! to add one (its signing secret shown once) and removal. Like
//! `/api/v1/.../webhooks`, the page needs a key of mode `write`.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use maud::{html, Markup};
use updraft_protocol::api::*;

use super::forms::Posted;
use super::layout::{csrf, page, see_other, seg, time, PageResult};
use super::session::Signed;
use crate::rejection::{Path, Query};
use crate::routes::{api, webhooks};
use crate::state::AppState;

/// What a form on the page just did, shown at its top.
enum Done {
    Created(CreatedWebhook),
    Tested(i64, TestDelivery),
}

/// `GET /ui/apps/{app}/webhooks`.
pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Path(app_id): Path<String>,
) -> PageResult {
    render(&s, &signed, &app_id, None).await
}

async fn render(s: &AppState, signed: &Signed, app_id: &str, done: Option<Done>) -> PageResult {
    let auth = signed.auth.clone();
    let app = api::get_app(State(s.clone()), auth.clone(), Path(app_id.to_string()))
        .await?
        .0;
    let hooks = webhooks::list_webhooks(State(s.clone()), auth.clone(), Path(app_id.to_string()))
        .await?
        .0;
    let mut deliveries = Vec::with_capacity(hooks.len());
    for w in &hooks {
        let d = webhooks::list_deliveries(
            State(s.clone()),
            auth.clone(),
            Path((app_id.to_string(), w.id)),
            Query(DeliveryListQuery { limit: Some(20) }),
        )
        .await?
        .0;
        deliveries.push(d);
    }
    let base = format!("/ui/apps/{}/webhooks", seg(app_id));
    let body = html! {
        h1 { "Webhooks" }
        @match &done {
            Some(Done::Created(c)) => (secret_notice(c)),
            Some(Done::Tested(id, t)) => p.notice role="status" #test-result {
                "Test delivery to webhook " (id) ": "
                @if t.ok { strong { "delivered" } } @else { strong.error { "failed" } }
                @if let Some(code) = t.status { ", HTTP " (code) }
                @if let Some(e) = &t.error { ", " (e) }
                " (" (t.duration_ms) " ms)."
            },
            None => {},
        }
        @if hooks.is_empty() { p.muted { "No webhook yet." } }
        @for (w, ds) in hooks.iter().zip(&deliveries) {
            section.card aria-labelledby={ "wh-" (w.id) } {
                h2 id={ "wh-" (w.id) } { span.mono { (w.url) } }
                p {
                    @if w.enabled { span.badge.running { "enabled" } } @else { span.badge.bad { "disabled" } }
                    " Events: " @if w.events.is_empty() { "all" } @else { span.mono { (w.events.join(", ")) } }
                    @if let Some(d) = &w.description { br; (d) }
                    @if let Some(why) = &w.disabled_reason { br; span.error { (why) } }
                    @if w.failure_streak > 0 { br; "Failed " (w.failure_streak) " times in a row" }
                }
                div.actions {
                    form.inline method="post" action={ (base) "/" (w.id) "/test" } {
                        (csrf(signed)) button type="submit" aria-label={ "Send a test to webhook " (w.id) } { "Send a test" }
                    }
                    form.inline method="post" action={ (base) "/" (w.id) "/delete" } data-confirm="Remove this webhook?" {
                        (csrf(signed)) button.danger type="submit" aria-label={ "Remove webhook " (w.id) } { "Remove" }
                    }
                }
                (delivery_table(ds))
            }
        }
        h2 { "Add a webhook" }
        form.stack method="post" action=(base) {
            (csrf(signed))
            label for="wh-url" { "URL (https)" }
            input #wh-url type="text" inputmode="url" name="url" required;
            label for="wh-events" { "Events (comma-separated; empty: all)" }
            input #wh-events type="text" name="events" placeholder="rollout.paused, channel.updated";
            label for="wh-description" { "Description" }
            input #wh-description type="text" name="description";
            div { button type="submit" { "Add webhook" } }
        }
    };
    let mut res = page(
        "Webhooks",
        signed,
        &[
            ("Apps", "/ui/".into()),
            (&app.name, format!("/ui/apps/{}", seg(app_id))),
        ],
        &body,
    )
    .into_response();
    if done.is_some() {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// A new webhook's signing secret, shown this once.
fn secret_notice(c: &CreatedWebhook) -> Markup {
    html! {
        div.secret role="status" {
            p { "Webhook " (c.webhook.id) " was added. Its signing secret is shown only this once:" }
            p { code #webhook-secret { (c.secret) } " " button.secondary type="button" data-copy="webhook-secret" { "Copy" } }
        }
    }
}

fn delivery_table(ds: &[WebhookDelivery]) -> Markup {
    html! {
        @if ds.is_empty() {
            p.muted { "No delivery yet." }
        } @else {
            div.table-wrap { table {
                caption { "Latest deliveries" }
                thead { tr {
                    th scope="col" { "Queued" } th scope="col" { "Event" } th scope="col" { "State" }
                    th.num scope="col" { "Attempts" } th scope="col" { "Last answer" }
                } }
                tbody {
                    @for d in ds {
                        tr {
                            td { (time(d.created_at)) }
                            td.mono { (d.kind) }
                            td { (d.state.as_str()) }
                            td.num { (d.attempts) }
                            td {
                                @if let Some(code) = d.last_status { "HTTP " (code) " " }
                                @if let Some(e) = &d.last_error { span.muted { (e) } }
                            }
                        }
                    }
                }
            } }
        }
    }
}

/// `POST /ui/apps/{app}/webhooks`: adds one and shows its secret once.
pub(crate) async fn create(
    State(s): State<AppState>,
    Path(app_id): Path<String>,
    posted: Posted,
) -> PageResult {
    let f = &posted.fields;
    let new = NewWebhook {
        url: f.get("url").unwrap_or_default().to_string(),
        events: f
            .get("events")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect(),
        description: f.text("description").map(str::to_string),
    };
    let created = webhooks::create_webhook_op(&s, &posted.signed.auth, &app_id, new).await?;
    let notice = secret_notice(&created);
    match render(&s, &posted.signed, &app_id, Some(Done::Created(created))).await {
        Ok(res) => Ok(res),
        // The webhook exists: whatever failed in drawing the list, its secret is shown.
        Err(_) => {
            let body = html! { h1 { "Webhooks" } (notice) p { a href={ "/ui/apps/" (seg(&app_id)) "/webhooks" } { "Back to the webhooks" } } };
            let mut res = page(
                "Webhooks",
                &posted.signed,
                &[("Apps", "/ui/".into())],
                &body,
            )
            .into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
    }
}

/// `POST /ui/apps/{app}/webhooks/{id}/test`: sends a test and shows how it went.
pub(crate) async fn test(
    State(s): State<AppState>,
    Path((app_id, id)): Path<(String, i64)>,
    posted: Posted,
) -> PageResult {
    let t = webhooks::test_webhook(
        State(s.clone()),
        posted.signed.auth.clone(),
        Path((app_id.clone(), id)),
    )
    .await?
    .0;
    render(&s, &posted.signed, &app_id, Some(Done::Tested(id, t))).await
}

/// `POST /ui/apps/{app}/webhooks/{id}/delete`.
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path((app_id, id)): Path<(String, i64)>,
    posted: Posted,
) -> PageResult {
    let _gone =
        webhooks::delete_webhook(State(s), posted.signed.auth, Path((app_id.clone(), id))).await?;
    Ok(see_other(&format!("/ui/apps/{}/webhooks", seg(&app_id))))
}
