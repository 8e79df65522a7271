//! `/channel_self`, the plugin's channel calls: POST sets, PUT gets, GET lists,
//! DELETE unsets (old plugins). Plugins from 7.34 keep their channel themselves;
//! older ones keep it on the server, where an admin's override or pin wins.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use updraft_core::channel::{self, Resolved, Source};
use updraft_core::target::Subject;
use updraft_core::trace::Trace;
use updraft_core::validate::{DeviceRequest, Endpoint, Platform};
use updraft_core::version::plugin_stores_channel_locally;
use updraft_protocol::device::{
    Ack, ChannelGet, ChannelList, ChannelListEntry, ChannelSet, ChannelSource, InfoObject, StatusOk,
};
use updraft_store::SelfAssign;

use crate::access_log::{device_reply, DeviceIds};
use crate::error::{soft, ApiError, ApiResult};
use crate::geo::DeviceCountry;
use crate::routes::device::{app_entry, checked, parse_info};
use crate::state::AppState;

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
        patch_formats: None,
        channel: s("channel"),
        action: s("action"),
    }
}

/// `/channel_self`: POST sets, PUT gets, GET lists, DELETE unsets (old plugins).
pub(crate) async fn channel_self(
    State(state): State<AppState>,
    DeviceCountry(country): DeviceCountry,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let from_body = body.iter().any(|b| !b.is_ascii_whitespace());
    let info = if from_body {
        parse_info(&body)
    } else {
        Ok(channel_info_from_query(&query))
    };
    let reply = match info {
        Ok(info) => channel_call(&state, method, info, country).await,
        Err(e) => Err(e),
    };
    device_reply(reply, || {
        if from_body {
            DeviceIds::from_body(&body)
        } else {
            DeviceIds::from_query(&query)
        }
    })
}

async fn channel_call(
    state: &AppState,
    method: Method,
    info: InfoObject,
    country: Option<String>,
) -> ApiResult<Response> {
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
        Method::POST if electron && action == "unset" => Ok(Json(Ack::OK).into_response()),
        Method::POST => set_channel(state, info, country).await,
        Method::PUT => get_channel(state, info, country, false).await,
        Method::GET if electron && action != "list" => {
            get_channel(state, info, country, true).await
        }
        Method::GET => list_channels(state, info, electron).await,
        Method::DELETE => unset_channel(state, info).await,
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST, PUT, GET or DELETE",
        )),
    }
}

async fn set_channel(
    state: &AppState,
    info: InfoObject,
    country: Option<String>,
) -> ApiResult<Response> {
    let mut req = checked(info, Endpoint::ChannelSelf)?;
    req.country = country;
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
    // A channel's targeting rule holds for devices choosing it too (an old
    // plugin's choice is stored as an override, which rules do not bind).
    if let Some(rule) = &c.target {
        let subject = Subject::of(&req, entry.view.app.allow_device_custom_id);
        if !updraft_core::target::matches(rule, &subject, &entry.view.cohorts) {
            return Ok(soft(
                "channel_self_set_not_allowed",
                format!(
                    "Channel {name} is not for this device (its targeting rule does not match)"
                ),
                &[],
            ));
        }
    }
    if plugin_stores_channel_locally(req.plugin_version.as_deref()) {
        return Ok(Json(ChannelSet {
            status: StatusOk::Ok,
            allow_set: true,
        })
        .into_response());
    }
    // Plugins before 7.34 keep their channel on the server.
    let p = req.platform.unwrap_or(Platform::Ios);
    // Only the plain public channel is where a device goes without a choice.
    let public = c.public && c.target.is_none() && channel::allows_platform(c, p);
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
            state.config.limits.max_self_assigned_devices,
            &state.device_stamp(),
        )
        .await?;
    Ok(match outcome {
        // The store waited for this node to apply the choice to its snapshot.
        SelfAssign::Done => Json(Ack::OK).into_response(),
        SelfAssign::AdminOverride => soft(
            "cannot_override",
            "An admin has put this device on a channel or pinned it; the device cannot change that itself",
            &[],
        ),
        SelfAssign::Full => {
            tracing::warn!(app_id = %req.app_id, limit = state.config.limits.max_self_assigned_devices, "self-assigned channel refused: the app has reached max_self_assigned_devices");
            soft(
                "override_not_allowed",
                "This app has reached its limit of devices with a self-assigned channel",
                &[],
            )
        }
    })
}

async fn get_channel(
    state: &AppState,
    info: InfoObject,
    country: Option<String>,
    electron: bool,
) -> ApiResult<Response> {
    let mut req = checked(info, Endpoint::ChannelSelf)?;
    req.country = country;
    let entry = app_entry(state, &req.app_id).await?;
    if let Some(asked) = req.info.channel.clone().filter(|c| !c.is_empty()) {
        return Ok(Json(ChannelGet {
            channel: asked,
            status: ChannelSource::Override,
            allow_set: true,
            allow_set_snake: None,
        })
        .into_response());
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
        &Subject::of(&req, entry.view.app.allow_device_custom_id),
        &entry.view.cohorts,
        &mut Trace::off(),
    );
    match resolved {
        Some(Resolved { channel: c, source }) => {
            let status = if source == Source::Override {
                ChannelSource::Override
            } else {
                ChannelSource::Default
            };
            Ok(Json(ChannelGet {
                channel: c.name.clone(),
                status,
                allow_set: c.allow_device_self_set,
                allow_set_snake: electron.then_some(c.allow_device_self_set),
            })
            .into_response())
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
    let Some(Some(platform)) = info.platform.as_deref().map(Platform::parse) else {
        return Err(ApiError::bad_request(
            "invalid_query_parameters",
            "platform must be one of: ios, android, electron",
        ));
    };
    let entry = app_entry(state, &app_id).await?;
    let is_emulator = info.is_emulator.unwrap_or(false);
    let is_prod = info.is_prod.unwrap_or(true);
    let channels: Vec<ChannelListEntry> = entry
        .view
        .channels
        .iter()
        .filter(|c| c.allow_device_self_set || c.public)
        .filter(|c| {
            if is_emulator {
                c.allow_emulator
            } else {
                c.allow_device
            }
        })
        .filter(|c| if is_prod { c.allow_prod } else { c.allow_dev })
        .filter(|c| channel::allows_platform(c, platform))
        .map(|c| ChannelListEntry {
            id: c.id,
            name: c.name.clone(),
            public: c.public,
            allow_self_set: c.allow_device_self_set,
        })
        .collect();
    Ok(if electron {
        Json(ChannelList { channels }).into_response()
    } else {
        Json(channels).into_response()
    })
}

async fn unset_channel(state: &AppState, info: InfoObject) -> ApiResult<Response> {
    let req = checked(info, Endpoint::ChannelSelf)?;
    let entry = app_entry(state, &req.app_id).await?;
    if plugin_stores_channel_locally(req.plugin_version.as_deref()) {
        return Ok(Json(Ack::OK).into_response());
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
