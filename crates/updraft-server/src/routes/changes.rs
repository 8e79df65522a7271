//! `GET /api/v1/apps/{app_id}/changes`: an app's change log, oldest first,
//! after a cursor: what was changed, by whom and when; and
//! `GET /api/v1/apps/{app_id}/audit`: the same log as an audit trail,
//! newest first, filtered, each entry with the fields it changed and the
//! name of the key that made it (for callers allowed to list that key).

use axum::extract::State;
use axum::Json;
use std::collections::HashMap;

use updraft_protocol::api::{
    AuditEntry, AuditPage, AuditQuery, ChangeListQuery, ChangePage, KeyMode,
};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::{Path, Query};
use crate::routes::api::known_app;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/apps/{app_id}/changes",
    tag = "changes",
    summary = r#"The app's change log (management writes, devices' own channel choices, rollback blocks), oldest first"#,
    description = r#"Needs an API key of mode `read` or higher. Page with `after` = the reply's `next_after`; a page stops below a change whose transaction may still commit, so paging never skips one. Rows older than the server's `change_retention_days` (30 by default) are pruned (the latest of each app stays). Channel, bundle and app updates carry the object `before` and `after` the write: the audit trail."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), ChangeListQuery),
    responses((status = 200, description = "The changes.", body = ChangePage)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn list_changes(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(q): Query<ChangeListQuery>,
) -> ApiResult<Json<ChangePage>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    // Ids are taken before commit: a change above one whose transaction is
    // still open waits until that one commits (or is given up), so a reader
    // paging with `next_after` never steps over a change that lands late.
    // Read before the query: a round finishing during it could settle an id
    // above one this query did not see yet.
    let settled = s.follower.settled();
    let mut items = s.store.list_changes(Some(&app_id), after, limit).await?;
    items.retain(|c| c.id <= settled);
    let next_after = items.last().map_or(after, |c| c.id);
    Ok(Json(ChangePage { items, next_after }))
}

#[utoipa::path(
    get,
    path = "/apps/{app_id}/audit",
    tag = "changes",
    summary = r#"The app's audit trail: who changed what, newest first, each write with the fields it changed"#,
    description = r#"Needs an API key of mode `read` or higher. Filter by `kind` (exact, or a prefix ending with a dot: `rollout.`), `actor` (`key:12`), `since`/`until` (epoch ms); devices' own changes only with `devices=true`. Page with `before` = the reply's `next_before`. `actor_name` names the key for a caller whose key may list it (mode `all` over its apps). Kept `change_retention_days` (30 by default)."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), AuditQuery),
    responses((status = 200, description = "The entries.", body = AuditPage)),
    security(("bearer" = ["read"]))
)]
pub(crate) async fn audit(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    known_app(&s, &auth, KeyMode::Read, &app_id).await?;
    let kind_ok = |k: &str| {
        !k.is_empty()
            && k.len() <= 64
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
    };
    if q.kind.as_deref().is_some_and(|k| !kind_ok(k)) {
        return Err(ApiError::bad_request(
            "invalid_query_parameters",
            "kind is a change kind such as channel.updated, or a prefix ending with a dot such as rollout.",
        ));
    }
    let actor_ok = |a: &str| {
        matches!(a, "admin" | "device" | "system")
            || a.split_once(':').is_some_and(|(who, id)| {
                matches!(who, "key" | "hook" | "schedule")
                    && !id.is_empty()
                    && id.len() <= 19
                    && id.bytes().all(|b| b.is_ascii_digit())
            })
    };
    if q.actor.as_deref().is_some_and(|a| !actor_ok(a)) {
        return Err(ApiError::bad_request(
            "invalid_query_parameters",
            "actor is key:<id>, hook:<id>, schedule:<id>, admin, device or system",
        ));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    // Only what every reader agrees on: nothing above a change still committing.
    let settled = s.follower.settled();
    let before = q.before.unwrap_or(i64::MAX).min(settled.saturating_add(1));
    let found = s
        .store
        .audit_changes(
            &app_id,
            &AuditQuery {
                before: Some(before),
                limit: Some(limit),
                ..q
            },
        )
        .await?;
    let names: HashMap<String, String> = if auth.0.mode >= KeyMode::All {
        s.store
            .list_api_keys()
            .await?
            .into_iter()
            .filter(|k| auth.reaches(k))
            .map(|k| (format!("key:{}", k.id), k.name))
            .collect()
    } else {
        HashMap::new()
    };
    let full = i64::try_from(found.len()).unwrap_or(i64::MAX) == limit;
    let next_before = found.last().filter(|_| full).map(|c| c.id);
    let items = found
        .into_iter()
        .map(|c| AuditEntry {
            id: c.id,
            at: c.at,
            actor_name: names.get(&c.actor).cloned(),
            changes: updraft_core::audit::field_changes(&c.payload),
            kind: c.kind,
            actor: c.actor,
            device_id: c.device_id,
            payload: c.payload,
        })
        .collect();
    Ok(Json(AuditPage { items, next_before }))
}
