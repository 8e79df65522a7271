//! An app's bundles: version, size, checksum, encryption, what it ships (a
//! zip, a manifest or both), the channels that use it, its metadata; and
//! delete (the API refuses while a channel or a pin uses it, and the page
//! shows why) and revoke.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::IntoResponse;
use maud::html;
use updraft_protocol::api::*;

use super::forms::Posted;
use super::layout::{csrf, page, see_other, seg, size, time, PageResult};
use super::session::Signed;
use crate::rejection::Path;
use crate::routes::api::{self, JsonBody};
use crate::routes::{channels, revoke};
use crate::state::AppState;

/// `GET /ui/apps/{app}/bundles`.
pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Path(app_id): Path<String>,
) -> PageResult {
    let auth = signed.auth.clone();
    let app = api::get_app(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let all = api::list_bundles(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let mut used: HashMap<String, Vec<String>> = HashMap::new();
    for c in channels::list_channels(State(s), auth.clone(), Path(app_id.clone()))
        .await?
        .0
    {
        used.entry(c.bundle_version.clone())
            .or_default()
            .push(c.name);
    }
    let base = format!("/ui/apps/{}/bundles", seg(&app_id));
    let can = auth.0.mode >= KeyMode::Write;
    let body = html! {
        h1 { "Bundles" }
        @if all.is_empty() {
            p.notice { "No bundle yet. Upload one with " code { "updraft bundle upload" } " or " code { "updraft deploy" } "." }
        } @else {
            div.table-wrap { table #bundles {
                thead { tr {
                    th scope="col" { "Version" } th.num scope="col" { "Size" } th scope="col" { "Checksum" }
                    th scope="col" { "Encrypted" } th scope="col" { "Ships" } th scope="col" { "Native ≥" } th scope="col" { "Used by" }
                    th scope="col" { "Created" } th scope="col" { "State" }
                    @if can { th scope="col" { "" } }
                } }
                tbody {
                    @for b in all.iter().rev() {
                        tr data-version=(b.version) {
                            th scope="row" .mono {
                                (b.version)
                                @if let Some(l) = b.link.as_deref().filter(|l| is_web_link(l)) { br; a href=(l) rel="noopener noreferrer" { "link" } }
                                @if let Some(c) = &b.comment { br; span.muted { (c) } }
                            }
                            td.num { (size(b.size)) }
                            td.mono title=(b.checksum) { (b.checksum.chars().take(12).collect::<String>()) "…" }
                            td { @if b.session_key.is_empty() { "no" } @else { "yes" } }
                            td { (ships(b)) }
                            td.mono { (b.min_update_version.as_deref().unwrap_or("")) }
                            td { (used.get(&b.version).map(|c| c.join(", ")).unwrap_or_default()) }
                            td { (time(b.created_at)) }
                            td {
                                @if b.deleted { span.badge { "deleted" } }
                                @else if let Some(t) = b.revoked_at {
                                    span.badge.bad { "revoked" } " " (time(t))
                                    @if let Some(r) = &b.revoked_reason { br; span.muted { (r) } }
                                } @else { "live" }
                            }
                            @if can {
                                td {
                                    @if !b.deleted {
                                        div.actions {
                                            @if !b.is_revoked() {
                                                form.inline method="post" action={ (base) "/" (seg(&b.version)) "/revoke" }
                                                    data-confirm={ "Revoke " (b.version) "? Channels serving it go back to their previous bundle." } {
                                                    (csrf(&signed))
                                                    label.check { span.muted { "Reason" } input type="text" name="reason" aria-label={ "Reason to revoke " (b.version) }; }
                                                    button.danger type="submit" aria-label={ "Revoke " (b.version) } { "Revoke" }
                                                }
                                            }
                                            form.inline method="post" action={ (base) "/" (seg(&b.version)) "/delete" }
                                                data-confirm={ "Delete " (b.version) "? Its version name stays taken." } {
                                                (csrf(&signed))
                                                button.secondary type="submit" aria-label={ "Delete " (b.version) } { "Delete" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    Ok(page(
        "Bundles",
        &signed,
        &[
            ("Apps", "/ui/".into()),
            (&app.name, format!("/ui/apps/{}", seg(&app_id))),
        ],
        &body,
    )
    .into_response())
}

/// Only `http:` and `https:` links are drawn as links: a `javascript:` or
/// `data:` one given at upload is not.
fn is_web_link(l: &str) -> bool {
    url::Url::parse(l).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

fn ships(b: &Bundle) -> &'static str {
    let zip = b.blob_sha256.is_some() || b.external_url.is_some();
    match (zip, b.manifest.is_empty()) {
        (true, false) => "zip and manifest",
        (false, false) => "manifest",
        (_, true) if b.storage == BundleStorage::External => "zip (external)",
        _ => "zip",
    }
}

/// `POST /ui/apps/{app}/bundles/{version}/delete`.
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path((app_id, version)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    api::delete_bundle(
        State(s),
        posted.signed.auth,
        Path((app_id.clone(), version)),
    )
    .await?;
    Ok(see_other(&format!("/ui/apps/{}/bundles", seg(&app_id))))
}

/// `POST /ui/apps/{app}/bundles/{version}/revoke`.
pub(crate) async fn revoke(
    State(s): State<AppState>,
    Path((app_id, version)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let reason = posted.fields.text("reason").map(|r| {
        JsonBody(RevokeBundle {
            reason: Some(r.to_string()),
        })
    });
    let _done = revoke::revoke_bundle(
        State(s),
        posted.signed.auth,
        Path((app_id.clone(), version)),
        reason,
    )
    .await?;
    Ok(see_other(&format!("/ui/apps/{}/bundles", seg(&app_id))))
}
