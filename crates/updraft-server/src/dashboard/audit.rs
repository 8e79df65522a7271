//! An app's audit trail: who changed what, newest first, filtered by kind
//! and actor, a page at a time (from `/api/v1/apps/{app}/audit`).

use axum::extract::State;
use axum::response::IntoResponse;
use maud::html;
use updraft_protocol::api::*;

use super::apps::activity_table;
use super::layout::{page, seg, PageResult};
use super::session::Signed;
use crate::rejection::{Path, Query};
use crate::routes::{api, changes};
use crate::state::AppState;

/// The page's query: the API's filters, empty ones meaning none.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    devices: Option<String>,
    #[serde(default)]
    before: Option<i64>,
}

/// `GET /ui/apps/{app}/audit`.
pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Path(app_id): Path<String>,
    Query(f): Query<Filters>,
) -> PageResult {
    let auth = signed.auth.clone();
    let app = api::get_app(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let trimmed = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let (kind, actor) = (trimmed(f.kind), trimmed(f.actor));
    let devices = f.devices.as_deref() == Some("on");
    let found = changes::audit(
        State(s),
        auth,
        Path(app_id.clone()),
        Query(AuditQuery {
            kind: kind.clone(),
            actor: actor.clone(),
            devices: devices.then_some(true),
            before: f.before,
            limit: Some(50),
            ..AuditQuery::default()
        }),
    )
    .await?
    .0;
    let base = format!("/ui/apps/{}/audit", seg(&app_id));
    let next = found.next_before.map(|b| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(k) = &kind {
            q.append_pair("kind", k);
        }
        if let Some(a) = &actor {
            q.append_pair("actor", a);
        }
        if devices {
            q.append_pair("devices", "on");
        }
        q.append_pair("before", &b.to_string());
        format!("{base}?{}", q.finish())
    });
    let body = html! {
        h1 { "Audit log" }
        form method="get" action=(base) role="search" {
            div.cards {
                div {
                    label for="audit-kind" { "Kind (channel.updated, or a prefix such as rollout.)" }
                    input #audit-kind type="text" name="kind" value=[kind.as_deref()];
                }
                div {
                    label for="audit-actor" { "Actor (key:12, hook:3, schedule:7, admin, system)" }
                    input #audit-actor type="text" name="actor" value=[actor.as_deref()];
                }
            }
            label.check { input type="checkbox" name="devices" checked[devices]; "Include devices' own changes" }
            div.actions { button type="submit" { "Filter" } }
        }
        (activity_table(&found.items))
        @if let Some(href) = next { p { a href=(href) { "Older entries" } } }
    };
    Ok(page(
        "Audit log",
        &signed,
        &[
            ("Apps", "/ui/".into()),
            (&app.name, format!("/ui/apps/{}", seg(&app_id))),
        ],
        &body,
    )
    .into_response())
}
