//! API keys: the keys within the session key's reach, a form to create one
//! (its secret shown once, on the reply to that form) and revocation. The
//! page needs a key of mode `all`, as `/api/v1/keys` does.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use maud::{html, Markup};
use updraft_protocol::api::*;

use super::forms::Posted;
use super::layout::{csrf, page, see_other, time, PageResult};
use super::session::Signed;
use crate::error::ApiError;
use crate::rejection::Path;
use crate::routes::keys;
use crate::state::AppState;

const MODES: [KeyMode; 4] = [KeyMode::Read, KeyMode::Upload, KeyMode::Write, KeyMode::All];

/// `GET /ui/keys`.
pub(crate) async fn list(State(s): State<AppState>, signed: Signed) -> PageResult {
    render(&s, &signed, None).await
}

async fn render(s: &AppState, signed: &Signed, created: Option<&CreatedApiKey>) -> PageResult {
    let all = keys::list_keys(State(s.clone()), signed.auth.clone())
        .await?
        .0;
    let body = html! {
        h1 { "API keys" }
        @if let Some(c) = created {
            div.secret role="status" {
                p { "Key " strong { (c.key.name) } " was created. Copy its secret now: it is shown only this once." }
                p { code #new-secret { (c.secret) } " " button.secondary type="button" data-copy="new-secret" { "Copy" } }
            }
        }
        div.table-wrap { table #keys {
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Mode" } th scope="col" { "Apps" }
                th scope="col" { "Expires" } th scope="col" { "Created" } th scope="col" { "" }
            } }
            tbody {
                @for k in &all {
                    tr data-key-id=(k.id) {
                        td { (k.name) @if k.id == signed.auth.0.id { " " span.badge { "this session" } } }
                        td { (k.mode.as_str()) }
                        td { @if k.apps.is_empty() { "every app" } @else { span.mono { (k.apps.join(", ")) } } }
                        td { @if let Some(t) = k.expires_at { (time(t)) } @else { "never" } }
                        td { (time(k.created_at)) }
                        td {
                            @if deletable(signed, k) {
                            form.inline method="post" action={ "/ui/keys/" (k.id) "/delete" }
                                data-confirm={ "Revoke the key " (k.name) "? Whatever uses it stops working." } {
                                (csrf(signed))
                                button.danger type="submit" aria-label={ "Revoke " (k.name) } { "Revoke" }
                            }
                            }
                        }
                    }
                }
            }
        } }
        h2 { "Create a key" }
        (create_form(signed))
    };
    let mut res = page("API keys", signed, &[("Apps", "/ui/".into())], &body).into_response();
    if created.is_some() {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// Whether the session's key may delete `k` (the API's rule: a key with an
/// expiry cannot delete one that outlives it); others show no button.
fn deletable(signed: &Signed, k: &ApiKey) -> bool {
    signed
        .auth
        .0
        .expires_at
        .is_none_or(|limit| k.expires_at.is_some_and(|t| t <= limit))
}

fn create_form(signed: &Signed) -> Markup {
    html! {
        form.stack method="post" action="/ui/keys" {
            (csrf(signed))
            label for="key-name" { "Name" }
            input #key-name type="text" name="name" required;
            label for="key-mode" { "Mode" }
            select #key-mode name="mode" {
                @for m in MODES { option value=(m.as_str()) { (m.as_str()) } }
            }
            label for="key-apps" { "Apps (comma-separated; empty: every app this key may reach)" }
            input #key-apps type="text" name="apps";
            label for="key-days" { "Expires after (days; empty: never, or with this session's key)" }
            input #key-days type="text" inputmode="numeric" name="days";
            div { button type="submit" { "Create key" } }
        }
    }
}

/// `POST /ui/keys`: creates a key and shows its secret once.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> PageResult {
    let f = &posted.fields;
    let raw_mode = f.get("mode").unwrap_or_default();
    let mode = KeyMode::parse(raw_mode).ok_or_else(|| {
        ApiError::bad_request("invalid_mode", format!("unknown key mode {raw_mode:?}"))
    })?;
    let expires_at = match f.text("days") {
        None => None,
        Some(d) => {
            let days: i64 = d
                .parse()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_expiry",
                        "expiry is a number of days from 1 to 3650",
                    )
                })?;
            Some(s.now_ms() + days * 86_400_000)
        }
    };
    let new = NewApiKey {
        name: f.get("name").unwrap_or_default().to_string(),
        mode,
        apps: f
            .get("apps")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
        expires_at,
    };
    let created = keys::create_key_op(&s, &posted.signed.auth, new).await?;
    render(&s, &posted.signed, Some(&created)).await
}

/// `POST /ui/keys/{id}/delete`: revokes a key.
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    posted: Posted,
) -> PageResult {
    let _deleted = keys::delete_key(State(s), posted.signed.auth, Path(id)).await?;
    Ok(see_other("/ui/keys"))
}
