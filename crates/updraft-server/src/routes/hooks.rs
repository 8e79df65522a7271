//! Inbound deploy hooks: managing them (`/api/v1/apps/{app_id}/hooks`) and
//! calling one (`POST /api/v1/hooks/{token}`), which needs no API key but a
//! body signed with the hook's secret ([`crate::hook_auth`]). A hook acts on
//! its own app and channel only, with its one action; its writes are stamped
//! `hook:<id>`. A call is accepted once (by its delivery id); one whose
//! action fails is forgotten, so its sender may retry it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use rand::RngCore;
use serde_json::Value;
use updraft_protocol::api::*;
use updraft_store::{Actor, Stamp, StoredHook, Transition};

use super::api::{check_version, created, known_app, JsonBody};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::Path;
use crate::state::AppState;

/// The longest channel name, version pointer and description kept.
const MAX_FIELD: usize = 200;
/// Most hooks per app.
const MAX_PER_APP: i64 = 20;

fn bad(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, message)
}

#[utoipa::path(
    post,
    path = "/apps/{app_id}/hooks",
    tag = "hooks",
    summary = r#"Create an inbound deploy hook; its URL and secret are in this reply only"#,
    description = r#"Needs an API key of mode `write` or higher. The hook is bound to this app, its channel and one action (promote the bundle a call names, start a rollout of it, pause the channel's rollout). Call it at `POST /api/v1/hooks/<token>` with a body signed by its secret: GitHub's `X-Hub-Signature-256` (with `X-GitHub-Delivery`) or Standard Webhooks' headers (timestamp within 5 minutes). See docs/hooks.md."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    request_body = NewHook,
    responses((status = 201, description = "The hook, its path and its secret.", body = CreatedHook)),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn create_hook(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(mut new): JsonBody<NewHook>,
) -> ApiResult<Response> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let line = |field: &str, v: Option<&str>| {
        updraft_core::text::line(field, v, MAX_FIELD)
            .map_err(|e| bad("invalid_hook", e.to_string()))
    };
    line("channel", Some(&new.channel))?;
    line("version_pointer", new.version_pointer.as_deref())?;
    line("description", new.description.as_deref())?;
    if new
        .version_pointer
        .as_deref()
        .is_some_and(|p| !p.is_empty() && !p.starts_with('/'))
    {
        return Err(bad(
            "invalid_hook",
            "version_pointer is a JSON pointer: empty or starting with /, such as /release/tag_name",
        ));
    }
    match (new.action, new.plan.take()) {
        (HookAction::StartRollout, plan) => {
            let plan = plan.unwrap_or_else(updraft_core::rollout::default_plan);
            updraft_core::rollout::validate_plan(&plan).map_err(|m| bad("invalid_plan", m))?;
            new.plan = Some(plan);
        }
        (_, Some(_)) => {
            return Err(bad(
                "invalid_hook",
                "only a start_rollout hook takes a plan",
            ))
        }
        (_, None) => {}
    }
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = format!("hk_{}", hex::encode(raw));
    let secret = crate::webhooks::sign::new_secret();
    let hook = s
        .store
        .create_hook(&app_id, &new, &token, &secret, MAX_PER_APP, &s.stamp(&auth))
        .await?;
    Ok(created(CreatedHook {
        hook,
        path: format!("/api/v1/hooks/{token}"),
        secret,
    }))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/hooks",
    tag = "hooks",
    summary = r#"List the app's inbound hooks (never their tokens or secrets)"#,
    description = r#"Needs an API key of mode `read` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    responses((status = 200, description = "The hooks, by id.", body = Vec<Hook>)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn list_hooks(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
) -> ApiResult<Json<Vec<Hook>>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    Ok(Json(s.store.list_hooks(&app_id).await?))
}

#[utoipa::path(
    delete,
    path = "/apps/{app_id}/hooks/{id}",
    tag = "hooks",
    summary = r#"Delete an inbound hook: its URL stops working"#,
    description = r#"Needs an API key of mode `write` or higher."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ("id" = i64, Path, description = "The hook id.", example = 1)),
    responses((status = 204, description = "Deleted.")),
    security(("bearer" = ["write"]))
)]
pub(crate) async fn delete_hook(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, id)): Path<(String, i64)>,
) -> ApiResult<StatusCode> {
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    s.store.delete_hook(&app_id, id, &s.stamp(&auth)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/hooks/{token}`: a signed call. Not in the OpenAPI document:
/// its body is whatever the sender sends (GitHub's event, an alert), and it
/// is authenticated by its signature, not by a key.
pub(crate) async fn call_hook(
    State(s): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<HookResult>> {
    let unknown = || ApiError::not_found("no such hook");
    if token.len() > 64
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(unknown());
    }
    let StoredHook { hook, secret } = s.store.hook_by_token(&token).await?.ok_or_else(unknown)?;
    let now = s.clock.now_ms();
    let call = crate::hook_auth::verify(&headers, &body, &secret, now.div_euclid(1000))?;
    let quiet = |detail: String| {
        Json(HookResult {
            hook_id: hook.id,
            action: hook.action,
            changed: false,
            detail,
            bundle: None,
            rollout_id: None,
        })
    };
    if call.github_event.as_deref() == Some("ping") {
        return Ok(quiet("pong: the signature holds".into()));
    }
    let payload: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            bad(
                "invalid_json_body",
                format!("the call's body is not JSON: {e}"),
            )
        })?
    };
    if let Some(other) = payload.get("app_id").and_then(Value::as_str) {
        if other != hook.app_id {
            return Err(ApiError::forbidden(format!(
                "this hook acts on app {} only, not {other}",
                hook.app_id
            ))
            .with_code("hook_app_mismatch"));
        }
    }
    // A GitHub release event, known by its signed body (its event header is
    // not signed): only a published release that is not a pre-release acts.
    if let Some(release) = payload.get("release").filter(|r| r.is_object()) {
        let action = payload.get("action").and_then(Value::as_str).unwrap_or("");
        if action != "published" {
            return Ok(quiet(format!(
                "release event {action:?}: only published releases act"
            )));
        }
        if release.get("prerelease").and_then(Value::as_bool) == Some(true) {
            return Ok(quiet("a pre-release: only full releases act".into()));
        }
    }
    if hook.action == HookAction::PauseRollout
        && payload.get("status").and_then(Value::as_str) == Some("resolved")
    {
        return Ok(quiet("the alert is resolved: nothing to pause".into()));
    }
    if !s
        .store
        .claim_hook_call(hook.id, &call.delivery_id, now)
        .await?
    {
        return Err(ApiError::conflict(format!(
            "this call ({}) was accepted before: a replay is refused",
            call.delivery_id
        ))
        .with_code("replayed"));
    }
    let stamp = Stamp::new(now, Actor::Hook { id: hook.id });
    let done = act(&s, &hook, &payload, &stamp).await;
    if done.is_err() {
        // The action changed nothing: the sender may retry this call.
        if let Err(e) = s.store.release_hook_call(hook.id, &call.delivery_id).await {
            tracing::warn!(hook = hook.id, error = %e, "a failed hook call stays recorded; the sender's retry will be refused as a replay");
        }
    }
    done.map(Json)
}

/// The bundle version a call names, at the hook's pointer (a leading `v`
/// before a digit dropped).
fn version_of(hook: &Hook, payload: &Value) -> ApiResult<String> {
    let pointer = hook.version_pointer.as_deref().unwrap_or("/bundle");
    let raw = payload
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad(
                "no_version",
                format!("the call's body has no bundle version (a string at {pointer})"),
            )
        })?;
    let v = match raw.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => raw,
    };
    check_version(v)?;
    Ok(v.to_string())
}

/// Does the hook's action.
async fn act(s: &AppState, hook: &Hook, payload: &Value, stamp: &Stamp) -> ApiResult<HookResult> {
    let result = |changed, detail: String| HookResult {
        hook_id: hook.id,
        action: hook.action,
        changed,
        detail,
        bundle: None,
        rollout_id: None,
    };
    match hook.action {
        HookAction::Promote => {
            let v = version_of(hook, payload)?;
            let patch = ChannelPatch {
                bundle: Some(Some(v.clone())),
                ..Default::default()
            };
            s.store
                .update_channel(&hook.app_id, &hook.channel, &patch, stamp)
                .await?;
            Ok(HookResult {
                bundle: Some(v.clone()),
                ..result(true, format!("channel {} now serves {v}", hook.channel))
            })
        }
        HookAction::StartRollout => {
            let v = version_of(hook, payload)?;
            let new = NewRollout {
                bundle: v.clone(),
                plan: Some(
                    hook.plan
                        .clone()
                        .unwrap_or_else(updraft_core::rollout::default_plan),
                ),
            };
            let r = s
                .store
                .start_rollout(&hook.app_id, &hook.channel, &new, stamp)
                .await?;
            Ok(HookResult {
                bundle: Some(v.clone()),
                rollout_id: Some(r.id),
                ..result(
                    true,
                    format!("a rollout of {v} started on channel {}", hook.channel),
                )
            })
        }
        HookAction::PauseRollout => {
            let current = s.store.get_rollout(&hook.app_id, &hook.channel).await?;
            let Some(r) = current.filter(|r| r.state.is_active()) else {
                return Ok(result(
                    false,
                    format!("channel {} has no active rollout", hook.channel),
                ));
            };
            let already = |id| HookResult {
                rollout_id: Some(id),
                ..result(false, "the rollout is already paused".into())
            };
            if r.state == RolloutState::Paused {
                return Ok(already(r.id));
            }
            let why = payload
                .get("reason")
                .and_then(Value::as_str)
                .or_else(|| payload.get("title").and_then(Value::as_str))
                .map(|t| {
                    t.chars()
                        .map(|c| if c.is_control() { ' ' } else { c })
                        .take(MAX_FIELD)
                        .collect::<String>()
                });
            let reason = match why {
                Some(t) => format!("paused by hook {}: {t}", hook.id),
                None => format!("paused by hook {}", hook.id),
            };
            let paused = s
                .store
                .transition_rollout(
                    &hook.app_id,
                    r.id,
                    Transition::Pause,
                    None,
                    Some(&reason),
                    stamp,
                )
                .await;
            match paused {
                Ok(after) => Ok(HookResult {
                    rollout_id: Some(after.id),
                    ..result(true, reason)
                }),
                // Its gates (the same spike) may have paused it meanwhile.
                Err(updraft_store::StoreError::Conflict(m)) => {
                    match s.store.get_rollout(&hook.app_id, &hook.channel).await? {
                        Some(now) if now.id == r.id && now.state == RolloutState::Paused => {
                            Ok(already(now.id))
                        }
                        _ => Err(ApiError::conflict(m)),
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
