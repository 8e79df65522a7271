//! The plugin-facing endpoints: `POST /updates`, `POST /stats` and
//! `/channel_self`, wire-compatible with `@capgo/capacitor-updater` and Capgo's
//! Electron updater (reference/plugin-protocol.md, ERRATA, DESIGN decisions).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use updraft_core::channel::{self, Resolved, Source};
use updraft_core::decide::Forced;
use updraft_core::event::{event_time, reports_running_bundle};
use updraft_core::trace::Trace;
use updraft_core::validate::{validate, validate_stats_fields, DeviceRequest, Endpoint, Platform};
use updraft_core::version::plugin_stores_channel_locally;
use updraft_protocol::device::{InfoObject, StatsEvent, UpdatesReply};
use updraft_store::{DeviceSeen, NewEvent, SelfAssign, Write};

use crate::error::{soft, ApiError, ApiResult};
use crate::snapshot::AppEntry;
use crate::state::AppState;

/// Parses a body straight into the InfoObject (no intermediate `Value` on the hot path).
fn parse_info(body: &[u8]) -> ApiResult<InfoObject> {
    serde_json::from_slice(body).map_err(|e| {
        let (code, message) = if e.is_data() {
            ("invalid_json_body", "Cannot parse body")
        } else {
            ("invalid_json_parse_body", "Invalid JSON body")
        };
        ApiError::bad_request(code, message).with_info("reason", e.to_string())
    })
}

fn checked(info: InfoObject, endpoint: Endpoint) -> ApiResult<DeviceRequest> {
    validate(info, endpoint).map_err(|e| ApiError::bad_request(e.code, e.message))
}

async fn app_entry(state: &AppState, app_id: &str) -> ApiResult<std::sync::Arc<AppEntry>> {
    // Every path reaches here with a checked request but the channel list,
    // which reads its app id from the query: never send the database a
    // string it may refuse.
    if app_id.len() > updraft_core::text::MAX_APP_ID
        || !updraft_core::validate::is_valid_app_id(app_id)
    {
        return Err(ApiError::bad_request(
            "invalid_query_parameters",
            "app_id must be in reverse-domain form, e.g. com.example.app",
        ));
    }
    state
        .snapshots
        .get(&*state.store, app_id)
        .await?
        .ok_or_else(|| ApiError::unknown_app(app_id))
}

fn seen(req: &DeviceRequest, allow_custom_id: bool) -> DeviceSeen {
    let i = &req.info;
    DeviceSeen {
        app_id: req.app_id.clone(),
        device_id: req.device_id.clone(),
        custom_id: if allow_custom_id {
            i.custom_id.clone()
        } else {
            None
        },
        platform: Some(req.platform_raw.clone()),
        plugin_version: i.plugin_version.clone(),
        version_name: Some(req.version_name.clone()),
        version_build: Some(req.version_build.clone()),
        version_code: i.version_code.clone(),
        version_os: i.version_os.clone(),
        is_prod: Some(req.is_prod),
        is_emulator: Some(req.is_emulator),
        default_channel: req.default_channel.clone(),
        key_id: i.key_id.clone(),
        seen_at: crate::now_ms(),
    }
}

/// Device last-seen updates skipped because the write queue was full (logged sparingly).
static SKIPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `POST /updates`: what should this device run?
pub async fn updates(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req = checked(parse_info(&body)?, Endpoint::Updates)?;
    let entry = app_entry(&state, &req.app_id).await?;
    let decision = entry.decide(&req, false, &|| state.base_url(&headers));
    let writes = vec![Write::Seen(seen(
        &req,
        entry.view.app.allow_device_custom_id,
    ))];
    if let (Some(id), UpdatesReply::Update(offer)) = (decision.offered, &decision.reply) {
        let day = crate::now_ms() / 86_400_000;
        state.writer.offered(&req.app_id, id, &offer.version, day);
    }
    let reply = Json(decision.reply).into_response();
    if state.queue(writes).is_err() {
        // The check itself was answered from memory; only the device's
        // last-seen row is skipped while the write queue is full.
        let n = SKIPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n.is_power_of_two() || n.is_multiple_of(100_000) {
            tracing::warn!(
                skipped = n + 1,
                "write queue full; skipping device last-seen updates"
            );
        }
    }
    Ok(reply)
}

/// One validated stats event turned into writes, or the reason it was refused.
async fn stats_writes(
    state: &AppState,
    raw: &RawValue,
) -> Result<(Vec<Write>, Option<(String, String, String)>), ApiError> {
    let ev: StatsEvent = serde_json::from_str(raw.get()).map_err(|e| {
        ApiError::bad_request("invalid_json_body", "Cannot parse body")
            .with_info("reason", e.to_string())
    })?;
    validate_stats_fields(&ev).map_err(|e| ApiError::bad_request(e.code, e.message))?;
    let req = checked(ev.info.clone(), Endpoint::Stats)?;
    let entry = app_entry(state, &req.app_id).await?;
    let action = ev
        .info
        .action
        .clone()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let now = crate::now_ms();
    let at = event_time(ev.timestamp, now);
    let mut metadata = ev.metadata.clone().unwrap_or_default();
    if let Some(m) = &ev.message {
        metadata.insert("message".into(), m.clone().into());
    }
    let mut writes = vec![Write::Event(NewEvent {
        app_id: req.app_id.clone(),
        device_id: req.device_id.clone(),
        action: action.clone(),
        version_name: ev.info.version_name.clone().unwrap_or_default(),
        old_version_name: ev.old_version_name.clone(),
        metadata: (!metadata.is_empty()).then(|| Value::Object(metadata).to_string()),
        created_at: at,
    })];
    // A failure's version_name is the failed bundle: the device row is left
    // alone, as Capgo does. Other events refresh it, but only those about the
    // running bundle say which version that is.
    if !action.ends_with("_fail") {
        let mut row = seen(&req, entry.view.app.allow_device_custom_id);
        row.seen_at = at.min(now);
        if !reports_running_bundle(&action) {
            row.version_name = None;
        }
        writes.push(Write::Seen(row));
    }
    let mut block = None;
    if action == "update_fail" {
        let raw_version = ev.info.version_name.clone().unwrap_or_default();
        let version = raw_version
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        writes.push(Write::Failed {
            app_id: req.app_id.clone(),
            device_id: req.device_id.clone(),
            version: version.clone(),
            // When the server learnt of it (the poll of other nodes looks by this).
            at: crate::now_ms(),
        });
        block = Some((req.app_id.clone(), req.device_id.clone(), version));
    }
    Ok((writes, block))
}

/// Splits a `/stats` body into its events without decoding them, so an event
/// that cannot be decoded (a lone surrogate in a `\u` escape, a wrong type)
/// is refused in its own slot. Invalid JSON is refused whole.
fn stats_items(body: &[u8]) -> ApiResult<(Vec<Box<RawValue>>, bool)> {
    let bad = |e: serde_json::Error| {
        ApiError::bad_request("invalid_json_parse_body", "Invalid JSON body")
            .with_info("reason", e.to_string())
    };
    let whole: Box<RawValue> = serde_json::from_slice(body).map_err(bad)?;
    if whole.get().starts_with('[') {
        Ok((serde_json::from_str(whole.get()).map_err(bad)?, true))
    } else {
        Ok((vec![whole], false))
    }
}

/// Most events one `/stats` request may carry: five times what the plugin's
/// queue ever sends, so every real batch fits and one request stays cheap.
const MAX_STATS_BATCH: usize = 1000;

/// `POST /stats`: one event or an array of them.
pub async fn stats(State(state): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let (items, batch) = stats_items(&body)?;
    if items.len() > MAX_STATS_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!(
                "at most {MAX_STATS_BATCH} events per request (the plugin sends at most 200); got {}",
                items.len()
            ),
        ));
    }
    let mut writes = Vec::new();
    let mut blocks = Vec::new();
    let mut results = Vec::with_capacity(items.len());
    for (index, raw) in items.iter().enumerate() {
        match stats_writes(&state, raw).await {
            Ok((w, block)) => {
                writes.extend(w);
                blocks.extend(block);
                results.push(json!({"status": "ok", "index": index}));
            }
            // A server fault is no verdict on the event: fail the request so
            // the plugin keeps the batch and retries (it drops slot errors).
            Err(e) if !batch || e.status.is_server_error() => return Err(e),
            Err(e) => results.push(json!({
                "status": "error", "error": e.body.error, "message": e.body.message,
                "index": index, "moreInfo": e.body.more_info,
            })),
        }
    }
    if state.queue(writes).is_err() {
        return Err(ApiError::busy(StatusCode::TOO_MANY_REQUESTS, 1));
    }
    for (app_id, device, version) in blocks {
        state.snapshots.block(&app_id, &device, &version);
    }
    Ok(if batch {
        Json(json!({"status": "ok", "results": results})).into_response()
    } else {
        Json(json!({"status": "ok"})).into_response()
    })
}

fn channel_info_from_query(q: &HashMap<String, String>) -> InfoObject {
    let s = |k: &str| q.get(k).cloned();
    let b = |k: &str| q.get(k).map(|v| v == "true" || v == "1");
    InfoObject {
        app_id: s("app_id"),
        device_id: s("device_id"),
        platform: s("platform"),
        version_name: s("version_name"),
        version_build: s("version_build"),
        version_code: s("version_code"),
        version_os: s("version_os"),
        plugin_version: s("plugin_version"),
        is_emulator: b("is_emulator"),
        is_prod: b("is_prod"),
        custom_id: s("custom_id"),
        install_source: s("install_source"),
        default_channel: s("defaultChannel"),
        key_id: s("key_id"),
        channel: s("channel"),
        action: s("action"),
    }
}

/// `/channel_self`: POST sets, PUT gets, GET lists, DELETE unsets (old plugins).
pub async fn channel_self(
    State(state): State<AppState>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Response> {
    let from_body = !body.is_empty() && body.iter().any(|b| !b.is_ascii_whitespace());
    let info = if from_body {
        parse_info(&body)?
    } else {
        channel_info_from_query(&query)
    };
    let electron = info.platform.as_deref() == Some("electron");
    let action = info.action.clone().unwrap_or_default();
    if let (Some(app), Some(device)) = (&info.app_id, &info.device_id) {
        // The limiter remembers these strings: nothing longer than a valid id gets that far.
        if app.len() > 128 || device.len() > 64 {
            return Err(ApiError::bad_request(
                "invalid_json_body",
                "app_id or device_id is too long",
            ));
        }
        let op = match method {
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::GET => "GET",
            _ => "OTHER",
        };
        if !state.channel_limiter.allow(app, device, op) {
            let mut e = ApiError::busy(StatusCode::TOO_MANY_REQUESTS, 1);
            e.body.message = format!(
                "at most {} channel calls per second per device; retry in a second",
                crate::ratelimit::PER_SECOND
            );
            return Err(e);
        }
    }
    match method {
        Method::POST if electron && action == "unset" => {
            Ok(Json(json!({"status": "ok"})).into_response())
        }
        Method::POST => set_channel(&state, info).await,
        Method::PUT => get_channel(&state, info, false).await,
        Method::GET if electron && action != "list" => get_channel(&state, info, true).await,
        Method::GET => list_channels(&state, info, electron).await,
        Method::DELETE => unset_channel(&state, info).await,
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST, PUT, GET or DELETE",
        )),
    }
}

async fn set_channel(state: &AppState, info: InfoObject) -> ApiResult<Response> {
    let req = checked(info, Endpoint::ChannelSelf)?;
    let entry = app_entry(state, &req.app_id).await?;
    let Some(name) = req.info.channel.clone().filter(|c| !c.is_empty()) else {
        return Ok(soft("missing_channel", "Cannot find channel in body", &[]));
    };
    let Some(c) = entry.view.channels.iter().find(|c| c.name == name) else {
        return Ok(soft(
            "channel_not_found",
            format!("Channel {name} not found"),
            &[
                ("channel", name.clone().into()),
                ("app_id", req.app_id.clone().into()),
            ],
        ));
    };
    if !c.allow_device_self_set {
        return Ok(if c.public {
            soft(
                "public_channel_self_set_not_allowed",
                "This channel is public and does not allow device self-assignment. Unset the channel and the device will automatically use the public channel.",
                &[],
            )
        } else {
            soft(
                "channel_self_set_not_allowed",
                format!("Channel {name} does not allow device self-assignment"),
                &[],
            )
        });
    }
    if plugin_stores_channel_locally(req.plugin_version.as_deref()) {
        return Ok(Json(json!({"status": "ok", "allowSet": true})).into_response());
    }
    // Plugins before 7.34 keep their channel on the server.
    let p = req.platform.unwrap_or(Platform::Ios);
    let public = c.public && channel::allows_platform(c, p);
    let id = c.id;
    self_assign(state, &req, (!public).then_some((name.as_str(), id))).await
}

/// Stores a device's own channel choice (`None`: back to the default) and
/// applies it to this node's snapshot in place. An admin's override or pin wins.
async fn self_assign(
    state: &AppState,
    req: &DeviceRequest,
    channel: Option<(&str, i64)>,
) -> ApiResult<Response> {
    if !state
        .self_assign_limiter
        .allow(&req.app_id, "", "self_assign")
    {
        let mut e = ApiError::busy(StatusCode::TOO_MANY_REQUESTS, 1);
        e.body.message = format!(
            "at most {} devices per second may change their channel on this app; retry in a second",
            crate::ratelimit::SELF_ASSIGN_PER_SECOND
        );
        return Err(e);
    }
    let outcome = state
        .store
        .self_assign(
            &req.app_id,
            &req.device_id,
            channel.map(|(name, _)| name),
            state.config.max_self_assigned_devices,
            crate::now_ms(),
        )
        .await?;
    Ok(match outcome {
        SelfAssign::Done => {
            state.snapshots.set_forced(
                &req.app_id,
                &req.device_id,
                channel.map(|(_, id)| Forced::Channel(id)),
            );
            Json(json!({"status": "ok"})).into_response()
        }
        SelfAssign::AdminOverride => soft(
            "cannot_override",
            "An admin has put this device on a channel or pinned it; the device cannot change that itself",
            &[],
        ),
        SelfAssign::Full => {
            tracing::warn!(app_id = %req.app_id, limit = state.config.max_self_assigned_devices, "self-assigned channel refused: the app has reached max_self_assigned_devices");
            soft(
                "override_not_allowed",
                "This app has reached its limit of devices with a self-assigned channel",
                &[],
            )
        }
    })
}

async fn get_channel(state: &AppState, info: InfoObject, electron: bool) -> ApiResult<Response> {
    let req = checked(info, Endpoint::ChannelSelf)?;
    let entry = app_entry(state, &req.app_id).await?;
    if let Some(asked) = req.info.channel.clone().filter(|c| !c.is_empty()) {
        return Ok(
            Json(json!({"channel": asked, "status": "override", "allowSet": true})).into_response(),
        );
    }
    // A plugin from 7.34 on keeps its channel itself and persists whatever this
    // answers: tell it what it chose, never an admin's override (which would
    // then stick on the device after the admin removes it).
    let overrides = !plugin_stores_channel_locally(req.plugin_version.as_deref());
    let forced = entry.forced(&req.device_id).filter(|_| overrides);
    let resolved = channel::resolve(
        &entry.view.channels,
        forced,
        req.default_channel.as_deref(),
        req.platform.unwrap_or(Platform::Ios),
        &mut Trace::off(),
    );
    match resolved {
        Some(Resolved { channel: c, source }) => {
            let status = if source == Source::Override {
                "override"
            } else {
                "default"
            };
            let mut body =
                json!({"channel": c.name, "status": status, "allowSet": c.allow_device_self_set});
            if electron {
                body["allow_set"] = c.allow_device_self_set.into();
            }
            Ok(Json(body).into_response())
        }
        // 400 channel_not_found lets the plugin fall back to its local channel.
        None => Err(ApiError::bad_request(
            "channel_not_found",
            "No channel found for this device",
        )),
    }
}

async fn list_channels(state: &AppState, info: InfoObject, electron: bool) -> ApiResult<Response> {
    let app_id = info.app_id.clone().unwrap_or_default();
    if app_id.is_empty() {
        return Err(ApiError::bad_request(
            "missing_app_id",
            "Cannot find app_id",
        ));
    }
    let platform = match info.platform.as_deref().map(Platform::parse) {
        Some(Some(p)) => p,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_query_parameters",
                "platform must be one of: ios, android, electron",
            ))
        }
    };
    let entry = app_entry(state, &app_id).await?;
    let is_emulator = info.is_emulator.unwrap_or(false);
    let is_prod = info.is_prod.unwrap_or(true);
    let list: Vec<Value> = entry
        .view
        .channels
        .iter()
        .filter(|c| c.allow_device_self_set || c.public)
        .filter(|c| if is_emulator { c.allow_emulator } else { c.allow_device })
        .filter(|c| if is_prod { c.allow_prod } else { c.allow_dev })
        .filter(|c| channel::allows_platform(c, platform))
        .map(|c| json!({"id": c.id, "name": c.name, "public": c.public, "allow_self_set": c.allow_device_self_set}))
        .collect();
    Ok(if electron {
        Json(json!({ "channels": list })).into_response()
    } else {
        Json(Value::Array(list)).into_response()
    })
}

async fn unset_channel(state: &AppState, info: InfoObject) -> ApiResult<Response> {
    let req = checked(info, Endpoint::ChannelSelf)?;
    let entry = app_entry(state, &req.app_id).await?;
    if plugin_stores_channel_locally(req.plugin_version.as_deref()) {
        return Ok(Json(json!({"status": "ok"})).into_response());
    }
    if entry.forced(&req.device_id).is_none() {
        return Ok(soft(
            "cannot_override",
            "This device has no self-assigned channel to unset",
            &[],
        ));
    }
    self_assign(state, &req, None).await
}

/// `GET /updates`, `GET /stats`, `POST /ok`: liveness answers Capgo also gives.
pub async fn ok() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
