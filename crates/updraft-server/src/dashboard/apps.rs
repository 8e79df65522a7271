//! The apps list (the dashboard's home) and an app's overview: its
//! channels with their bundle and rollout, each release's last 24 hours
//! and the recent activity from the change log.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use maud::{html, Markup};
use updraft_protocol::api::*;

use super::forms::Posted;
use super::layout::{csrf, page, rate, see_other, seg, time, PageResult};
use super::session::Signed;
use crate::error::ApiError;
use crate::rejection::{Path, Query};
use crate::routes::{api, changes, channels, rollouts};
use crate::state::AppState;

/// `GET /ui/`: the apps the key can see.
pub(crate) async fn list(State(s): State<AppState>, signed: Signed) -> PageResult {
    let apps = api::list_apps(State(s), signed.auth.clone()).await?.0;
    let body = html! {
        h1 { "Apps" }
        @if apps.is_empty() {
            p.notice {
                "No app yet" @if !signed.auth.0.apps.is_empty() { " that this key may see" } ". Create one with "
                code { "updraft init" } " in your Capacitor project, or "
                code { "updraft apps create com.example.app" } "."
            }
        } @else {
            div.table-wrap { table {
                thead { tr { th scope="col" { "App" } th scope="col" { "Id" } th scope="col" { "Created" } } }
                tbody {
                    @for a in &apps {
                        tr {
                            td { a href={ "/ui/apps/" (seg(&a.app_id)) } { (a.name) } }
                            td.mono { (a.app_id) }
                            td { (time(a.created_at)) }
                        }
                    }
                }
            } }
        }
    };
    Ok(page("Apps", &signed, &[], &body).into_response())
}

/// A channel with what the overview shows of it.
struct ChannelView {
    channel: Channel,
    rollout: Option<RolloutStatus>,
    /// Its release's last 24 hours, or why they could not be read.
    day: Result<Option<ReleaseMetrics>, String>,
}

/// `GET /ui/apps/{app}`: the overview.
pub(crate) async fn overview(
    State(s): State<AppState>,
    signed: Signed,
    Path(app_id): Path<String>,
) -> PageResult {
    let auth = signed.auth.clone();
    let app = api::get_app(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let list = channels::list_channels(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    // A few channels at a time: one page load must not take every database connection.
    let views: Vec<ChannelView> =
        futures::stream::iter(list.into_iter().map(|c| view(&s, &signed, c)))
            .buffered(4)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
    let activity = changes::audit(
        State(s.clone()),
        auth.clone(),
        Path(app_id.clone()),
        Query(AuditQuery {
            limit: Some(15),
            ..AuditQuery::default()
        }),
    )
    .await?
    .0;
    let base = format!("/ui/apps/{}", seg(&app_id));
    let can_write = auth.0.mode >= KeyMode::Write;
    let body = html! {
        h1 { (app.name) }
        p.muted { code { (app.app_id) } " · created " (time(app.created_at)) }
        nav.actions aria-label="App pages" {
            a href={ (base) "/bundles" } { "Bundles" }
            a href={ (base) "/devices" } { "Devices" }
            a href={ (base) "/stats" } { "Statistics" }
            a href={ (base) "/audit" } { "Audit log" }
            @if can_write { a href={ (base) "/webhooks" } { "Webhooks" } }
        }
        h2 #channels { "Channels" }
        @if views.is_empty() {
            p.notice { "No channel yet. Devices get updates through a channel: create one below, or run "
                code { "updraft deploy" } "." }
        }
        div.cards {
            @for v in &views { (card(&base, v)) }
        }
        @if can_write {
            details {
                summary { "Create a channel" }
                form.stack method="post" action={ (base) "/channels" } {
                    (csrf(&signed))
                    label for="new-channel" { "Name" }
                    input #new-channel type="text" name="name" required;
                    fieldset {
                        legend { "Platforms" }
                        label.check { input type="checkbox" name="ios" checked; "iOS" }
                        label.check { input type="checkbox" name="android" checked; "Android" }
                        label.check { input type="checkbox" name="electron"; "Electron" }
                    }
                    label.check { input type="checkbox" name="public"; "Default channel of these platforms (public)" }
                    div { button type="submit" { "Create channel" } }
                }
            }
        }
        h2 #activity { "Recent activity" }
        (activity_table(&activity.items))
    };
    Ok(page(&app.name, &signed, &[("Apps", "/ui/".into())], &body).into_response())
}

async fn view(s: &AppState, signed: &Signed, channel: Channel) -> Result<ChannelView, ApiError> {
    let key = (channel.app_id.clone(), channel.name.clone());
    let rollout =
        match rollouts::rollout_status(State(s.clone()), signed.auth.clone(), Path(key)).await {
            Ok(r) => Some(r.0).filter(|r| r.rollout.state.is_active()),
            Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => None,
            Err(e) => return Err(e),
        };
    let trying = rollout
        .as_ref()
        .map(|r| r.rollout.candidate_version.as_str());
    // One channel's numbers failing leaves the rest of the overview.
    let day = super::release::last_day(s, &signed.auth, &channel, trying)
        .await
        .map_err(|e| e.body.message);
    Ok(ChannelView {
        channel,
        rollout,
        day,
    })
}

fn platforms(c: &Channel) -> String {
    let mut p = Vec::new();
    if c.ios {
        p.push("iOS");
    }
    if c.android {
        p.push("Android");
    }
    if c.electron {
        p.push("Electron");
    }
    if p.is_empty() {
        "no platform".into()
    } else {
        p.join(", ")
    }
}

fn card(base: &str, v: &ChannelView) -> Markup {
    let c = &v.channel;
    html! {
        section.card aria-labelledby={ "ch-" (c.id) } {
            h3 id={ "ch-" (c.id) } { a href={ (base) "/channels/" (seg(&c.name)) } { (c.name) } }
            p {
                "Bundle " strong.mono { (c.bundle_version) }
                @if c.critical { " " span.badge.bad { "critical" } }
                br;
                span.muted { (platforms(c)) @if c.public { " · public" } }
            }
            @if let Some(r) = &v.rollout {
                (rollout_line(r))
            }
            @if let Err(why) = &v.day {
                p.error { "Its numbers could not be read: " (why) }
            }
            @if let Ok(Some(m)) = &v.day {
                p.day data-bundle=(m.bundle) {
                    "Last 24 h of " span.mono { (m.bundle) } ": "
                    span data-stat="offered" { (m.stages.offered) } " offered, "
                    span data-stat="installed" { (m.stages.installed) } " installed, "
                    span data-stat="ready" { (m.stages.ready) } " ready; failure rate "
                    span data-stat="failure_rate" { (rate(m.failure_rate)) }
                }
            }
        }
    }
}

/// A rollout's state and progress in one line.
pub(crate) fn rollout_line(r: &RolloutStatus) -> Markup {
    let ro = &r.rollout;
    let state = ro.state.as_str();
    html! {
        p.rollout {
            "Rollout of " strong.mono { (ro.candidate_version) } " "
            span.badge.(state) { (state) } br;
            "Step " (ro.step + 1) " of " (ro.plan.steps.len()) ", "
            span data-stat="percent_now" { (format!("{:.1}", r.percent_now)) } " % of devices"
            progress max="100" value=(format!("{:.1}", r.percent_now)) aria-label="Share of devices on the candidate" {}
        }
    }
}

/// Change-log entries as a table (newest first).
pub(crate) fn activity_table(items: &[AuditEntry]) -> Markup {
    html! {
        @if items.is_empty() {
            p.muted { "Nothing yet." }
        } @else {
            div.table-wrap { table {
                thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Who" } th scope="col" { "Details" } } }
                tbody {
                    @for e in items {
                        tr {
                            td { (time(e.at)) }
                            td.mono { (e.kind) }
                            td { (e.actor_name.as_deref().unwrap_or(&e.actor)) }
                            td { (summary(e)) }
                        }
                    }
                }
            } }
        }
    }
}

/// The fields an entry changed, or its payload's short facts.
fn summary(e: &AuditEntry) -> String {
    if !e.changes.is_empty() {
        return e
            .changes
            .iter()
            .take(4)
            .map(|c| format!("{}: {} → {}", c.field, short(&c.before), short(&c.after)))
            .collect::<Vec<_>>()
            .join("; ");
    }
    let mut facts = Vec::new();
    if let Some(map) = e.payload.as_object() {
        for k in ["channel", "name", "version", "bundle", "reason"] {
            if let Some(v) = map.get(k).filter(|v| v.is_string() || v.is_number()) {
                facts.push(format!("{k}: {}", short(v)));
            }
        }
    }
    facts.join("; ")
}

fn short(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "none".into(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// `POST /ui/apps/{app}/channels`: creates a channel, then shows it.
pub(crate) async fn create_channel(
    State(s): State<AppState>,
    Path(app_id): Path<String>,
    posted: Posted,
) -> Result<Response, super::layout::PageError> {
    let f = &posted.fields;
    let patch = ChannelPatch {
        name: f.get("name").map(str::to_string),
        public: Some(f.checked("public")),
        ios: Some(f.checked("ios")),
        android: Some(f.checked("android")),
        electron: Some(f.checked("electron")),
        ..ChannelPatch::default()
    };
    let w = channels::create_channel_op(&s, &posted.signed.auth, &app_id, &patch).await?;
    Ok(see_other(&format!(
        "/ui/apps/{}/channels/{}",
        seg(&app_id),
        seg(&w.channel.name)
    )))
}
