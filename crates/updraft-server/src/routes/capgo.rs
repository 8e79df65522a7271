//! Capgo's public `/device` API, for backends that already call it to put a
//! device on a channel (reference/capgo-backend.md §4.4): `POST`, `GET`, `DELETE`
//! with the key in `authorization` or `capgkey`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use updraft_protocol::api::{KeyMode, SetOverride};
use updraft_protocol::capgo::{CapgoDevice, CapgoDevicePage};
use updraft_protocol::device::Ack;
use updraft_store::DeviceQuery;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::routes::api::known_app;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
struct DeviceBody {
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    version_id: Option<Value>,
}

/// GET and DELETE take a JSON body or the query string (Capgo's `getBodyOrQuery`).
fn body_or_query(body: &Bytes, q: &HashMap<String, String>) -> ApiResult<DeviceBody> {
    if body.iter().any(|b| !b.is_ascii_whitespace()) {
        return serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request("invalid_json_parse_body", format!("Invalid JSON body: {e}"))
        });
    }
    Ok(DeviceBody {
        app_id: q.get("app_id").cloned(),
        device_id: q.get("device_id").cloned(),
        channel: q.get("channel").cloned(),
        version_id: None,
    })
}

fn need(v: Option<String>, code: &str, what: &str) -> ApiResult<String> {
    v.filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request(code, format!("Missing {what}")))
}

/// `POST /device {app_id, device_id, channel}`.
pub(crate) async fn post_device(
    State(s): State<AppState>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<Response> {
    let b: DeviceBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_json_parse_body", format!("Invalid JSON body: {e}"))
    })?;
    let app_id = need(b.app_id, "missing_app_id", "app_id")?;
    auth.require_app(KeyMode::Write, &app_id)?;
    let device_id = need(b.device_id, "missing_device_id", "device_id")?.to_ascii_lowercase();
    if !updraft_core::validate::is_uuid(&device_id) {
        return Err(ApiError::bad_request(
            "invalid_device_id",
            "device_id must be a UUID",
        ));
    }
    if b.version_id.is_some() {
        return Err(ApiError::bad_request(
            "invalid_version_id",
            "Cannot set version to device, use channel instead",
        ));
    }
    let Some(channel) = b.channel.filter(|c| !c.is_empty()) else {
        return Ok(Json(Ack::OK).into_response());
    };
    let Some(c) = s.store.get_channel(&app_id, &channel).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "channel_not_found",
            format!("Channel {channel} not found"),
        ));
    };
    if c.public {
        return Err(ApiError::bad_request(
            "public_channel_override",
            "Cannot set a device to a public channel; devices use it by default. Remove the override instead.",
        ));
    }
    let o = SetOverride {
        channel: Some(channel),
        bundle: None,
    };
    s.store
        .set_override(&app_id, &device_id, &o, &s.stamp(&auth))
        .await?;
    Ok(Json(Ack::OK).into_response())
}

/// `DELETE /device {app_id, device_id}`.
pub(crate) async fn delete_device(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Response> {
    let b = body_or_query(&body, &q)?;
    let app_id = need(b.app_id, "missing_app_id", "app_id")?;
    known_app(&s, &auth, KeyMode::Write, &app_id).await?;
    let device_id = need(b.device_id, "missing_device_id", "device_id")?.to_ascii_lowercase();
    if !updraft_core::validate::is_uuid(&device_id) {
        return Err(ApiError::bad_request(
            "invalid_device_id",
            "device_id must be a UUID",
        ));
    }
    s.store
        .remove_override(&app_id, &device_id, &s.stamp(&auth))
        .await?;
    Ok(Json(Ack::OK).into_response())
}

/// `GET /device?app_id&device_id?`.
pub(crate) async fn get_device(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Response> {
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
    let cursor = q.get("cursor").cloned();
    let b = body_or_query(&body, &q)?;
    let app_id = need(b.app_id, "missing_app_id", "app_id")?;
    auth.require_app(KeyMode::Read, &app_id)?;
    if let Some(device_id) = b.device_id.filter(|d| !d.is_empty()) {
        return match s
            .store
            .get_device(&app_id, &device_id.to_ascii_lowercase())
            .await?
        {
            Some(d) => Ok(Json(CapgoDevice::from(d)).into_response()),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "device_not_found",
                "Device not found",
            )),
        };
    }
    let page = s
        .store
        .list_devices(
            &app_id,
            &DeviceQuery {
                search: None,
                cursor,
                limit,
            },
        )
        .await?;
    let has_more = page.next_cursor.is_some();
    Ok(Json(CapgoDevicePage {
        data: page.items.into_iter().map(CapgoDevice::from).collect(),
        next_cursor: page.next_cursor,
        has_more,
    })
    .into_response())
}
