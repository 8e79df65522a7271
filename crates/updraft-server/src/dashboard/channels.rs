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
use crate::rejection::Path;
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
    let trying = rollout
        .as_ref()
        .filter(|r| r.rollout.state.is_active())
        .map(|r| r.rollout.candidate_version.as_str());
    let day = super::release::last_day(&s, &auth, &c, trying).await?;
    let planned = super::channel_rules::of_channel(&s, &signed, &app_id, &name).await?;
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
        (super::channel_rules::target(&signed, &base, &c))
        (super::channel_rules::schedules(&signed, &base, &planned))
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
                    input type="hidden" name={ "was_" (name) } value=(on_off(flag(c, name)));
                }
                input type="hidden" name="was_disable_auto_update" value=(c.disable_auto_update.as_str());
                input type="hidden" name="was_disable_auto_update_under_native" value=(on_off(c.disable_auto_update_under_native));
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

fn on_off(v: bool) -> &'static str {
    if v {
        "on"
    } else {
        "off"
    }
}

/// The patch a settings form asks for: only the fields the person changed
/// on the page (each checked against the value the page was drawn with, in
/// a hidden field), so a change made elsewhere meanwhile is never undone.
fn settings_patch(f: &Fields) -> Result<ChannelPatch, ApiError> {
    let stale = || {
        ApiError::bad_request(
            "invalid_form",
            "the form is incomplete; reload the page and try again",
        )
    };
    let was = |name: &str| match f.get(&format!("was_{name}")) {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        _ => Err(stale()),
    };
    let changed = |name: &str| -> Result<Option<bool>, ApiError> {
        let now = f.checked(name);
        Ok((now != was(name)?).then_some(now))
    };
    let mut p = ChannelPatch {
        public: changed("public")?,
        ios: changed("ios")?,
        android: changed("android")?,
        electron: changed("electron")?,
        allow_device_self_set: changed("allow_device_self_set")?,
        allow_emulator: changed("allow_emulator")?,
        allow_device: changed("allow_device")?,
        allow_dev: changed("allow_dev")?,
        allow_prod: changed("allow_prod")?,
        disable_auto_update_under_native: changed("disable_auto_update_under_native")?,
        ..ChannelPatch::default()
    };
    let policy = |field: &str| {
        let raw = f.get(field).unwrap_or_default();
        DisableAutoUpdate::parse(raw).ok_or_else(|| {
            ApiError::bad_request("invalid_policy", format!("unknown version policy {raw:?}"))
        })
    };
    let (now, before) = (
        policy("disable_auto_update")?,
        policy("was_disable_auto_update")?,
    );
    if now != before {
        p.disable_auto_update = Some(now);
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
    let patch = settings_patch(&posted.fields)?;
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
    let bundle = f.text("bundle").ok_or_else(|| {
        ApiError::bad_request(
            "invalid_form",
            "choose the bundle to deploy (builtin is one of them)",
        )
    })?;
    let patch = ChannelPatch {
        bundle: Some(Some(bundle.to_string())),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &str) -> Fields {
        Fields::parse(pairs.as_bytes())
    }

    const ALL_WAS: &str = "was_public=on&was_ios=on&was_android=on&was_electron=off\
        &was_allow_device_self_set=off&was_allow_emulator=on&was_allow_device=on\
        &was_allow_dev=off&was_allow_prod=on&was_disable_auto_update=major\
        &was_disable_auto_update_under_native=on";

    #[test]
    fn only_what_the_person_changed_is_sent() {
        // "public" unticked, everything else as drawn.
        let f = form(&format!(
            "{ALL_WAS}&ios=on&android=on&allow_emulator=on&allow_device=on&allow_prod=on\
             &disable_auto_update=major&disable_auto_update_under_native=on"
        ));
        let p = settings_patch(&f).unwrap();
        assert_eq!(
            p,
            ChannelPatch {
                public: Some(false),
                ..ChannelPatch::default()
            }
        );
        let f = form(&format!(
            "{ALL_WAS}&public=on&ios=on&android=on&allow_emulator=on&allow_device=on&allow_prod=on\
             &disable_auto_update=none&disable_auto_update_under_native=on"
        ));
        let p = settings_patch(&f).unwrap();
        assert_eq!(
            p,
            ChannelPatch {
                disable_auto_update: Some(DisableAutoUpdate::None),
                ..ChannelPatch::default()
            }
        );
    }

    #[test]
    fn a_form_without_its_drawn_values_is_refused() {
        assert!(settings_patch(&form("public=on&disable_auto_update=none")).is_err());
        assert!(
            settings_patch(&form(&format!("{ALL_WAS}&disable_auto_update=sometimes"))).is_err()
        );
    }
}
