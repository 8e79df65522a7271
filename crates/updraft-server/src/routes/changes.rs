//! `GET /api/v1/apps/{app_id}/changes`: an app's change log, oldest first,
//! after a cursor: what was changed, by whom and when.

use axum::extract::State;
use axum::Json;
use updraft_protocol::api::{ChangeListQuery, ChangePage, KeyMode};

use crate::auth::Auth;
use crate::error::ApiResult;
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
