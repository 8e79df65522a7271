//! The plugin-facing endpoints `POST /updates` and `POST /stats`, wire-compatible
//! with `@capgo/capacitor-updater` and Capgo's Electron updater
//! (reference/plugin-protocol.md, ERRATA, DESIGN decisions); `/channel_self` is
//! in [`super::channel_self`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::value::RawValue;
use serde_json::Value;
use updraft_core::event::{event_time, reports_running_bundle};
use updraft_core::validate::{validate, validate_stats_fields, DeviceRequest, Endpoint};
use updraft_protocol::api::Signal;
use updraft_protocol::device::{
    Ack, InfoObject, ReplyKind, StatsEvent, StatsReply, StatsResult, StatusOk, UpdatesReply,
};
use updraft_store::{DeviceSeen, NewEvent, ReleaseSignal, Write};

use crate::access_log::{device_reply, DeviceIds};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::geo::DeviceCountry;
use crate::prometheus::Reply;
use crate::snapshot::AppEntry;
use crate::state::AppState;

/// Parses a body straight into the InfoObject (no intermediate `Value` on the hot path).
pub(crate) fn parse_info(body: &[u8]) -> ApiResult<InfoObject> {
    serde_json::from_slice(body).map_err(|e| {
        let (code, message) = if e.is_data() {
            ("invalid_json_body", "Cannot parse body")
        } else {
            ("invalid_json_parse_body", "Invalid JSON body")
        };
        ApiError::bad_request(code, message).with_info("reason", e.to_string())
    })
}

pub(crate) fn checked(info: InfoObject, endpoint: Endpoint) -> ApiResult<DeviceRequest> {
    validate(info, endpoint).map_err(|e| ApiError::bad_request(e.code, e.message))
}

pub(crate) async fn app_entry(
    state: &AppState,
    app_id: &str,
) -> ApiResult<std::sync::Arc<AppEntry>> {
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

fn seen(req: &DeviceRequest, allow_custom_id: bool, now_ms: i64) -> DeviceSeen {
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
        seen_at: now_ms,
    }
}

/// Device last-seen updates skipped because the write queue was full (logged sparingly).
static SKIPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `POST /updates`: what should this device run?
pub(crate) async fn updates(
    State(state): State<AppState>,
    DeviceCountry(country): DeviceCountry,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = check(&state, &headers, country, &body).await;
    device_reply(reply, || DeviceIds::from_body(&body))
}

async fn check(
    state: &AppState,
    headers: &HeaderMap,
    country: Option<String>,
    body: &[u8],
) -> ApiResult<Response> {
    let mut req = checked(parse_info(body)?, Endpoint::Updates)?;
    req.country = country;
    let entry = app_entry(state, &req.app_id).await?;
    let now = state.now_ms();
    state
        .writer
        .checked(&req.app_id, updraft_store::check_hour(now));
    let mut decision = entry.decide(&req, false, now, &|| state.base_url(headers));
    if let UpdatesReply::Update(offer) = &mut decision.reply {
        add_patches(state, headers, &req, offer);
    }
    let mut writes = vec![Write::Seen(seen(
        &req,
        entry.view.app.allow_device_custom_id,
        now,
    ))];
    let mut offered_id = None;
    if let (Some(id), UpdatesReply::Update(offer)) = (decision.offered, &decision.reply) {
        let day = now / 86_400_000;
        state.writer.offered(&req.app_id, id, &offer.version, day);
        // The funnel's first step, attributed to the arm this answer came
        // from (the offered bundle is that arm's bundle); only the first
        // offer is kept, so a repeat this node queued already is skipped.
        if state.offers.admit(&req.app_id, &req.device_id, id) {
            offered_id = Some(id);
            writes.push(Write::Release(ReleaseSignal {
                app_id: req.app_id.clone(),
                device_id: req.device_id.clone(),
                version: offer.version.clone(),
                signal: Signal::Offered,
                at: now,
                value_ms: None,
                rollout: decision.rollout,
            }));
        }
    }
    // A check that cannot be served (no channel, no bundle, an old plugin) is
    // logged like an error reply; "up to date" and policy blocks are not.
    state.traffic.metrics.reply(match &decision.reply {
        UpdatesReply::Update(_) => Reply::Update,
        UpdatesReply::RevertToBuiltin(_) => Reply::Builtin,
        UpdatesReply::NoUpdate(no) => match no.kind {
            ReplyKind::UpToDate => Reply::UpToDate,
            ReplyKind::Blocked => Reply::Blocked,
            ReplyKind::Failed => Reply::Failed,
        },
    });
    let failed = match &decision.reply {
        UpdatesReply::NoUpdate(no) if no.kind == ReplyKind::Failed => Some(no.error.clone()),
        _ => None,
    };
    let mut reply = Json(decision.reply).into_response();
    if let Some(code) = failed {
        reply
            .extensions_mut()
            .insert(ErrorCode(code.into_boxed_str()));
    }
    if state.queue(writes).is_err() {
        if let Some(id) = offered_id {
            state.offers.forget(&req.app_id, &req.device_id, id);
        }
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

/// Byte-level patches for a client that applies them, once known (see
/// [`crate::patches`]): from the bundle the device runs (on builtin: the
/// app's bundle named after its native version) to the offered one.
fn add_patches(
    state: &AppState,
    headers: &HeaderMap,
    req: &DeviceRequest,
    offer: &mut updraft_protocol::device::UpdateAvailable,
) {
    let wants = req
        .info
        .patch_formats
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x.as_str() == updraft_core::patch::FORMAT));
    if !wants || offer.manifest.is_none() || !offer.session_key.is_empty() {
        return;
    }
    let from = if req.version_name == "builtin" {
        &req.version_build
    } else {
        &req.version_name
    };
    let Some(found) = state.patches.offers(&req.app_id, from, &offer.version) else {
        return;
    };
    if found.is_empty() {
        return;
    }
    let base = state.base_url(headers);
    offer.patches = Some(
        found
            .iter()
            .map(|p| updraft_protocol::device::FilePatchOffer {
                download_url: format!("{base}{}", p.download_url),
                ..p.clone()
            })
            .collect(),
    );
}

/// One validated stats event turned into writes, or the reason it was refused.
async fn stats_writes(
    state: &AppState,
    raw: &RawValue,
    country: Option<&str>,
) -> Result<(Vec<Write>, Option<(String, String, String)>), ApiError> {
    let ev: StatsEvent = serde_json::from_str(raw.get()).map_err(|e| {
        ApiError::bad_request("invalid_json_body", "Cannot parse body")
            .with_info("reason", e.to_string())
    })?;
    validate_stats_fields(&ev).map_err(|e| ApiError::bad_request(e.code, e.message))?;
    let mut req = checked(ev.info.clone(), Endpoint::Stats)?;
    req.country = country.map(str::to_string);
    let entry = app_entry(state, &req.app_id).await?;
    let action = ev
        .info
        .action
        .clone()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let now = state.now_ms();
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
        let mut row = seen(&req, entry.view.app.allow_device_custom_id, now);
        row.seen_at = at.min(now);
        if !reports_running_bundle(&action) {
            row.version_name = None;
        }
        writes.push(Write::Seen(row));
    }
    if let Some(signal) = updraft_core::event::release_signal(&action) {
        writes.extend(release(&entry, &req, &ev, signal, at, now));
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
            at: state.now_ms(),
        });
        block = Some((req.app_id.clone(), req.device_id.clone(), version));
    }
    Ok((writes, block))
}

/// The release signal of one stats event: about the bundle it names (a
/// manifest failure names `version:file`), attributed to a rollout arm only
/// when the server's own membership rule puts the device in the arm whose
/// bundle that is (never because the device says it runs it).
fn release(
    entry: &AppEntry,
    req: &DeviceRequest,
    ev: &StatsEvent,
    signal: Signal,
    at: i64,
    now: i64,
) -> Option<Write> {
    let named = ev.info.version_name.as_deref().unwrap_or_default();
    let version = named.split(':').next().unwrap_or_default();
    if version.is_empty() || version == "builtin" || version == "unknown" {
        return None;
    }
    let value_ms = match signal {
        Signal::Ready => ev
            .metadata
            .as_ref()
            .and_then(|m| m.get("duration_ms"))
            // The plugin sends metadata values as strings ("1500").
            .and_then(|v| match v {
                Value::String(t) => t.trim().parse::<f64>().ok(),
                v => v.as_f64(),
            })
            .filter(|d| d.is_finite() && *d >= 0.0 && *d < 86_400_000.0)
            // In range: whole milliseconds below a day fit an i64.
            .map(|d| {
                #[allow(clippy::cast_possible_truncation)]
                let ms = d.round() as i64;
                ms
            }),
        _ => None,
    };
    Some(Write::Release(ReleaseSignal {
        app_id: req.app_id.clone(),
        device_id: req.device_id.clone(),
        version: version.to_string(),
        signal,
        at,
        value_ms,
        rollout: entry.release_arm(req, version, now),
    }))
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
pub(crate) async fn stats(
    State(state): State<AppState>,
    DeviceCountry(country): DeviceCountry,
    body: Bytes,
) -> Response {
    let reply = record_stats(&state, country.as_deref(), &body).await;
    device_reply(reply, || DeviceIds::from_body(&body))
}

async fn record_stats(state: &AppState, country: Option<&str>, body: &[u8]) -> ApiResult<Response> {
    let (items, batch) = stats_items(body)?;
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
    // Every event is at least one write: with no room for them, the answer
    // is 429 whatever the events say, so it is given before judging them
    // (under overload the CPU goes to the writer, not to refused batches).
    // The events' strings come from the body: its size is what they will hold.
    if !state.writer.has_room(items.len(), body.len()) {
        return Err(ApiError::busy(StatusCode::TOO_MANY_REQUESTS, 1));
    }
    let mut writes = Vec::new();
    let mut blocks = Vec::new();
    let mut results = Vec::with_capacity(items.len());
    for (index, raw) in items.iter().enumerate() {
        match stats_writes(state, raw, country).await {
            Ok((w, block)) => {
                writes.extend(w);
                blocks.extend(block);
                results.push(StatsResult::Ok { index });
            }
            // A server fault is no verdict on the event: fail the request so
            // the plugin keeps the batch and retries (it drops slot errors).
            Err(e) if !batch || e.status.is_server_error() => return Err(e),
            Err(e) => results.push(StatsResult::Error {
                body: e.body,
                index,
            }),
        }
    }
    // Counted once queued (a refused batch counts nothing).
    let metrics = &state.traffic.metrics;
    let counted: Vec<_> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Event(e) => Some(metrics.action_counter(&e.action)),
            _ => None,
        })
        .collect();
    if state.queue(writes).is_err() {
        return Err(ApiError::busy(StatusCode::TOO_MANY_REQUESTS, 1));
    }
    for c in counted {
        c.inc();
    }
    for (app_id, device, version) in blocks {
        state.snapshots.block(&app_id, &device, &version);
    }
    Ok(Json(StatsReply {
        status: StatusOk::Ok,
        results: batch.then_some(results),
    })
    .into_response())
}

/// `GET /updates`, `GET /stats`, `POST /ok`: liveness answers Capgo also gives.
pub(crate) async fn ok() -> Json<Ack> {
    Json(Ack::OK)
}
