//! Devices: search by device id or custom id, and one device's page with
//! what it last reported, why it gets what it gets (the explain trace) and
//! the actions on it (override, pin, clear rollback blocks).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use maud::html;
use updraft_protocol::api::*;

use super::forms::Posted;
use super::layout::{csrf, page, see_other, seg, time, PageResult};
use super::session::Signed;
use crate::rejection::{Path, Query};
use crate::routes::api::{self, JsonBody};
use crate::routes::{channels, devices, explain};
use crate::state::AppState;

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    q: Option<String>,
}

/// `GET /ui/apps/{app}/devices?q=`: devices whose id or custom id starts
/// with `q` (the 50 first), or the most recent ones.
pub(crate) async fn search(
    State(s): State<AppState>,
    signed: Signed,
    Path(app_id): Path<String>,
    Query(q): Query<Search>,
) -> PageResult {
    let auth = signed.auth.clone();
    let app = api::get_app(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let text = q.q.unwrap_or_default().trim().to_string();
    let found = devices::list_devices(
        State(s),
        auth,
        Path(app_id.clone()),
        Query(DeviceListQuery {
            search: Some(text.clone()).filter(|t| !t.is_empty()),
            cursor: None,
            limit: Some(50),
        }),
    )
    .await?
    .0;
    let base = format!("/ui/apps/{}/devices", seg(&app_id));
    let body = html! {
        h1 { "Devices" }
        form method="get" action=(base) role="search" {
            label for="device-q" { "Device id or custom id (or their beginning)" }
            div.actions {
                input #device-q type="search" name="q" value=(text);
                button type="submit" { "Search" }
            }
        }
        @if found.items.is_empty() {
            p.muted #no-devices { "No device matches." }
        } @else {
            div.table-wrap { table #devices {
                thead { tr {
                    th scope="col" { "Device" } th scope="col" { "Custom id" } th scope="col" { "Platform" }
                    th scope="col" { "Bundle" } th scope="col" { "Native" } th scope="col" { "Last seen" }
                } }
                tbody {
                    @for d in &found.items {
                        tr {
                            td.mono { a href={ (base) "/" (seg(&d.device_id)) } { (d.device_id) } }
                            td { (d.custom_id.as_deref().unwrap_or("")) }
                            td { (d.platform.as_deref().unwrap_or("")) }
                            td.mono { (d.version_name.as_deref().unwrap_or("")) }
                            td.mono { (d.version_build.as_deref().unwrap_or("")) }
                            td { @if let Some(t) = d.last_seen { (time(t)) } }
                        }
                    }
                }
            } }
        }
    };
    Ok(page(
        "Devices",
        &signed,
        &[
            ("Apps", "/ui/".into()),
            (&app.name, format!("/ui/apps/{}", seg(&app_id))),
        ],
        &body,
    )
    .into_response())
}

/// `GET /ui/apps/{app}/devices/{device}`.
pub(crate) async fn device(
    State(s): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path((app_id, device_id)): Path<(String, String)>,
) -> PageResult {
    let auth = signed.auth.clone();
    let key = (app_id.clone(), device_id.clone());
    let app = api::get_app(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let d = devices::get_device(State(s.clone()), auth.clone(), Path(key.clone()))
        .await?
        .0;
    let why = match explain::explain_device(
        State(s.clone()),
        auth.clone(),
        headers,
        Path(key),
        Query(ExplainQuery::default()),
    )
    .await
    {
        Ok(e) => Ok(e.0),
        Err(e) if e.status == StatusCode::CONFLICT => Err(e.body.message),
        Err(e) => return Err(e.into()),
    };
    let list = channels::list_channels(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let bundles = api::list_bundles(State(s), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let base = format!("/ui/apps/{}/devices/{}", seg(&app_id), seg(&d.device_id));
    let can = auth.0.mode >= KeyMode::Write;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".into());
    let body = html! {
        h1 { "Device " span.mono { (d.device_id) } }
        dl.facts {
            dt { "Custom id" } dd { (opt(&d.custom_id)) }
            dt { "Platform" } dd { (opt(&d.platform)) " " (opt(&d.version_os)) }
            dt { "Bundle" } dd.mono #device-bundle { (opt(&d.version_name)) }
            dt { "Native version" } dd.mono { (opt(&d.version_build)) }
            dt { "Plugin" } dd.mono { (opt(&d.plugin_version)) }
            dt { "Default channel" } dd { (opt(&d.default_channel)) }
            dt { "Last seen" } dd { @if let Some(t) = d.last_seen { (time(t)) } @else { "never" } }
            dt { "Override" } dd #device-override {
                @match &d.device_override {
                    None => "none",
                    Some(DeviceOverride::Channel { channel }) => { "channel " (channel) },
                    Some(DeviceOverride::Bundle { version }) => { "pinned to bundle " span.mono { (version) } },
                }
            }
            dt { "Rolled back from" } dd { @if d.failed_bundles.is_empty() { "nothing" } @else { span.mono { (d.failed_bundles.join(", ")) } } }
        }
        h2 #why { "Why it gets what it gets" }
        @match &why {
            Ok(e) => {
                p #outcome {
                    @match &e.outcome {
                        ExplainOutcome::Update { version } => { "Offered bundle " strong.mono { (version) } }
                        ExplainOutcome::RevertToBuiltin => { "Sent back to its builtin bundle" }
                        ExplainOutcome::NoUpdate { error, message, .. } => { "No update: " (message) " (" code { (error) } ")" }
                    }
                    @if let Some(c) = &e.channel { ", through channel " strong { (c) } }
                    "."
                }
                ol.trace #trace { @for line in &e.trace { li { (line) } } }
            }
            Err(m) => { p.notice { (m) } }
        }
        @if can {
            h2 { "Actions" }
            form.stack method="post" action={ (base) "/override" } {
                (csrf(&signed))
                label for="ov-channel" { "Put on channel" }
                select #ov-channel name="channel" {
                    option value="" { "—" }
                    @for c in &list { option value=(c.name) { (c.name) } }
                }
                label for="ov-bundle" { "Or pin to bundle" }
                select #ov-bundle name="bundle" {
                    option value="" { "—" }
                    @for b in bundles.iter().filter(|b| !b.deleted && !b.is_revoked()) { option value=(b.version) { (b.version) } }
                }
                div { button type="submit" { "Set override" } }
            }
            div.actions {
                @if d.device_override.is_some() {
                    form.inline method="post" action={ (base) "/override/clear" } {
                        (csrf(&signed)) button.secondary type="submit" { "Remove the override" }
                    }
                }
                @if !d.failed_bundles.is_empty() {
                    form.inline method="post" action={ (base) "/blocks/clear" } {
                        (csrf(&signed)) button.secondary type="submit" { "Clear its rollback blocks" }
                    }
                }
            }
        }
    };
    Ok(page(
        "Device",
        &signed,
        &[
            ("Apps", "/ui/".into()),
            (&app.name, format!("/ui/apps/{}", seg(&app_id))),
            ("Devices", format!("/ui/apps/{}/devices", seg(&app_id))),
        ],
        &body,
    )
    .into_response())
}

fn back(app_id: &str, device_id: &str) -> String {
    format!("/ui/apps/{}/devices/{}", seg(app_id), seg(device_id))
}

/// `POST /ui/apps/{app}/devices/{device}/override`.
pub(crate) async fn set_override(
    State(s): State<AppState>,
    Path((app_id, device_id)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let f = &posted.fields;
    let o = SetOverride {
        channel: f.text("channel").map(str::to_string),
        bundle: f.text("bundle").map(str::to_string),
    };
    let _device = devices::set_override(
        State(s),
        posted.signed.auth,
        Path((app_id.clone(), device_id.clone())),
        JsonBody(o),
    )
    .await?;
    Ok(see_other(&back(&app_id, &device_id)))
}

/// `POST /ui/apps/{app}/devices/{device}/override/clear`.
pub(crate) async fn clear_override(
    State(s): State<AppState>,
    Path((app_id, device_id)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let _removed = devices::remove_override(
        State(s),
        posted.signed.auth,
        Path((app_id.clone(), device_id.clone())),
    )
    .await?;
    Ok(see_other(&back(&app_id, &device_id)))
}

/// `POST /ui/apps/{app}/devices/{device}/blocks/clear`.
pub(crate) async fn clear_blocks(
    State(s): State<AppState>,
    Path((app_id, device_id)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let _cleared = devices::clear_blocks(
        State(s),
        posted.signed.auth,
        Path((app_id.clone(), device_id.clone())),
        Query(devices::ClearBlocks { version: None }),
    )
    .await?;
    Ok(see_other(&back(&app_id, &device_id)))
}
