//! A channel's page: its bundle and deploys (with one-click rollback), its
//! rollout with steps, gates and the actions on it, the release's last 24
//! hours, and its settings. Every form calls the API handler that does the
//! same through `/api/v1`, with the session's key.

use axum::extract::State;
use axum::response::IntoResponse;
use maud::{html, Markup};
use updraft_protocol::api::*;

use super::forms::{Fields, Posted};
use super::layout::{csrf, page, see_other, seg, time, PageResult};
use super::session::Signed;
use crate::error::ApiError;
use crate::rejection::{Path, Query};
use crate::routes::api::{self, JsonBody};
use crate::routes::{channels, rollouts};
use crate::state::AppState;

pub(crate) fn here(app_id: &str, name: &str) -> String {
    format!("/ui/apps/{}/channels/{}", seg(app_id), seg(name))
}

/// The flags of the settings form: field name, label.
const FLAGS: [(&str, &str); 9] = [
    ("public", "Default channel of its platforms (public)"),
    ("ios", "Serves iOS"),
    ("android", "Serves Android"),
    ("electron", "Serves Electron"),
    (
        "allow_device_self_set",
        "Devices may choose this channel themselves",
    ),
    ("allow_emulator", "Serves emulators and simulators"),
    ("allow_device", "Serves physical devices"),
    ("allow_dev", "Serves development builds"),
    ("allow_prod", "Serves release builds"),
];

fn flag(c: &Channel, name: &str) -> bool {
    match name {
        "public" => c.public,
        "ios" => c.ios,
        "android" => c.android,
        "electron" => c.electron,
        "allow_device_self_set" => c.allow_device_self_set,
        "allow_emulator" => c.allow_emulator,
        "allow_device" => c.allow_device,
        "allow_dev" => c.allow_dev,
        "allow_prod" => c.allow_prod,
        _ => false,
    }
}

const POLICIES: [(DisableAutoUpdate, &str); 5] = [
    (DisableAutoUpdate::None, "Any version"),
    (DisableAutoUpdate::Major, "Not across a major version"),
    (DisableAutoUpdate::Minor, "Not across a minor version"),
    (DisableAutoUpdate::Patch, "Not across a patch version"),
    (
        DisableAutoUpdate::VersionNumber,
        "Only bundles whose minimum native version the device meets",
    ),
];

/// `GET /ui/apps/{app}/channels/{name}`.
pub(crate) async fn page_of(
    State(s): State<AppState>,
    signed: Signed,
    Path((app_id, name)): Path<(String, String)>,
) -> PageResult {
    let auth = signed.auth.clone();
    let key = (app_id.clone(), name.clone());
    let app = api::get_app(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let c = channels::get_channel(State(s.clone()), auth.clone(), Path(key.clone()))
        .await?
        .0;
    let history = channels::channel_history(State(s.clone()), auth.clone(), Path(key.clone()))
        .await?
        .0;
    let bundles = api::list_bundles(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let rollout =
        match rollouts::rollout_status(State(s.clone()), auth.clone(), Path(key.clone())).await {
            Ok(r) => Some(r.0),
            Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => None,
            Err(e) => return Err(e.into()),
        };
    let day = if c.bundle_id.is_some()
        || rollout
            .as_ref()
            .is_some_and(|r| r.rollout.state.is_active())
    {
        rollouts::metrics(
            State(s.clone()),
            auth.clone(),
            Path(app_id.clone()),
            Query(MetricsQuery {
                channel: Some(name.clone()),
                ..MetricsQuery::default()
            }),
        )
        .await
        .ok()
        .map(|j| j.0)
    } else {
        None
    };
    let base = here(&app_id, &name);
    let mode = auth.0.mode;
    let live: Vec<&Bundle> = bundles
        .iter()
        .filter(|b| !b.deleted && !b.is_revoked())
        .collect();
    let body = html! {
        h1 { "Channel " (c.name) }
        p {
            "Serves bundle " strong.mono #current-bundle { (c.bundle_version) }
            @if c.critical { " " span.badge.bad { "critical" } }
            " · updated " (time(c.updated_at))
        }
        @if let Some(r) = rollout.as_ref() {
            (super::rollout::section(&signed, &base, r))
        }
        @if rollout.as_ref().is_none_or(|r| !r.rollout.state.is_active()) && mode >= KeyMode::Upload {
            (super::rollout::start_form(&signed, &base, &c, &live))
        }
        @if let Some(m) = &day { (super::release::funnel(&base, m)) }
        h2 { "Deploy" }
        @if mode >= KeyMode::Upload {
            form.stack method="post" action={ (base) "/deploy" } {
                (csrf(&signed))
                label for="deploy-bundle" { "Bundle" }
                select #deploy-bundle name="bundle" {
                    option value="builtin" { "builtin (the app's own)" }
                    @for b in &live {
                        option value=(b.version) selected[b.version == c.bundle_version] { (b.version) }
                    }
                }
                label.check { input type="checkbox" name="critical"; "Critical: devices apply it at once (supersedes a rollout)" }
                div.actions {
                    button type="submit" { "Deploy" }
                }
            }
            form.inline method="post" action={ (base) "/rollback" } data-confirm="Point the channel back at its previous bundle?" {
                (csrf(&signed))
                button.secondary type="submit" { "Roll back to the previous bundle" }
            }
        }
        h3 { "Deploy history" }
        (history_table(&signed, &base, &history, mode >= KeyMode::Upload))
        h2 { "Settings" }
        (settings(&signed, &base, &c, mode >= KeyMode::Write))
    };
    Ok(page(
        &format!("Channel {}", c.name),
        &signed,
        &[
            ("Apps", "/ui/".into()),
            (&app.name, format!("/ui/apps/{}", seg(&app_id))),
        ],
        &body,
    )
    .into_response())
}

fn history_table(signed: &Signed, base: &str, history: &[Deploy], can: bool) -> Markup {
    html! {
        @if history.is_empty() {
            p.muted { "No deploy yet." }
        } @else {
            div.table-wrap { table {
                thead { tr { th scope="col" { "When" } th scope="col" { "Bundle" } th scope="col" { "" } } }
                tbody {
                    @for (i, d) in history.iter().enumerate() {
                        tr {
                            td { (time(d.deployed_at)) }
                            td.mono { (d.bundle_version) @if d.critical { " " span.badge.bad { "critical" } } }
                            td {
                                @if i == 0 { span.muted { "current" } }
                                @else if can {
                                    form.inline method="post" action={ (base) "/deploy" } data-confirm="Deploy this bundle again?" {
                                        (csrf(signed))
                                        input type="hidden" name="bundle" value=(d.bundle_version);
                                        button.secondary type="submit" aria-label={ "Deploy again: " (d.bundle_version) } { "Deploy again" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

fn settings(signed: &Signed, base: &str, c: &Channel, can: bool) -> Markup {
    html! {
        form.stack method="post" action=(base) {
            (csrf(signed))
            fieldset disabled[!can] {
                legend { "Who gets this channel" }
                @for (name, label) in FLAGS {
                    label.check { input type="checkbox" name=(name) checked[flag(c, name)]; (label) }
                }
                label for="policy" { "Version policy" }
                select #policy name="disable_auto_update" {
                    @for (p, label) in POLICIES {
                        option value=(p.as_str()) selected[p == c.disable_auto_update] { (label) }
                    }
                }
                label.check { input type="checkbox" name="disable_auto_update_under_native" checked[c.disable_auto_update_under_native]; "Refuse bundles older than the device's native version" }
            }
            @if can { div { button type="submit" { "Save settings" } } }
            @else { p.muted { "This key may not change settings (it needs mode write)." } }
        }
    }
}

/// The patch a settings form asks for: only what differs from `c`.
fn settings_patch(f: &Fields, c: &Channel) -> Result<ChannelPatch, ApiError> {
    let mut p = ChannelPatch::default();
    let set = |name: &str, slot: &mut Option<bool>| {
        let v = f.checked(name);
        if v != flag(c, name) {
            *slot = Some(v);
        }
    };
    set("public", &mut p.public);
    set("ios", &mut p.ios);
    set("android", &mut p.android);
    set("electron", &mut p.electron);
    set("allow_device_self_set", &mut p.allow_device_self_set);
    set("allow_emulator", &mut p.allow_emulator);
    set("allow_device", &mut p.allow_device);
    set("allow_dev", &mut p.allow_dev);
    set("allow_prod", &mut p.allow_prod);
    let raw = f.get("disable_auto_update").unwrap_or_default();
    let policy = DisableAutoUpdate::parse(raw).ok_or_else(|| {
        ApiError::bad_request("invalid_policy", format!("unknown version policy {raw:?}"))
    })?;
    if policy != c.disable_auto_update {
        p.disable_auto_update = Some(policy);
    }
    let under = f.checked("disable_auto_update_under_native");
    if under != c.disable_auto_update_under_native {
        p.disable_auto_update_under_native = Some(under);
    }
    Ok(p)
}

/// `POST /ui/apps/{app}/channels/{name}`: saves the settings.
pub(crate) async fn save(
    State(s): State<AppState>,
    Path((app_id, name)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let auth = posted.signed.auth;
    let key = (app_id.clone(), name.clone());
    let c = channels::get_channel(State(s.clone()), auth.clone(), Path(key.clone()))
        .await?
        .0;
    let patch = settings_patch(&posted.fields, &c)?;
    if patch != ChannelPatch::default() {
        let _changed = channels::update_channel(State(s), auth, Path(key), JsonBody(patch)).await?;
    }
    Ok(see_other(&here(&app_id, &name)))
}

/// `POST /ui/apps/{app}/channels/{name}/deploy`.
pub(crate) async fn deploy(
    State(s): State<AppState>,
    Path((app_id, name)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let f = &posted.fields;
    let patch = ChannelPatch {
        bundle: Some(f.text("bundle").map(str::to_string)),
        critical: f.checked("critical").then_some(true),
        ..ChannelPatch::default()
    };
    let _deployed = channels::update_channel(
        State(s),
        posted.signed.auth,
        Path((app_id.clone(), name.clone())),
        JsonBody(patch),
    )
    .await?;
    Ok(see_other(&here(&app_id, &name)))
}

/// `POST /ui/apps/{app}/channels/{name}/rollback`.
pub(crate) async fn rollback(
    State(s): State<AppState>,
    Path((app_id, name)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let _rolled_back = channels::rollback_channel(
        State(s),
        posted.signed.auth,
        Path((app_id.clone(), name.clone())),
    )
    .await?;
    Ok(see_other(&here(&app_id, &name)))
}
