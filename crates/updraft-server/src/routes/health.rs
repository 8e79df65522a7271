//! Health probes, no key needed: `/health` (the process and its database,
//! as always), `/health/live` (the process answers: restart it if not) and
//! `/health/ready` (the database and the file storage answer: send it
//! traffic only then). Each check is bounded by [`CHECK_TIMEOUT`], so a
//! probe never hangs on a dependency that does not answer, and a readiness
//! answer is reused for [`READY_FOR`] (one check at a time), so probes
//! without a key cannot turn into load on the bucket.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use updraft_protocol::api::{DatabaseHealth, Health, HealthStatus, Readiness, StorageHealth};

use crate::error;
use crate::state::AppState;

/// The longest one dependency's check may take.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a readiness answer is reused.
pub(crate) const READY_FOR: Duration = Duration::from_secs(2);

/// The last readiness checks (database, storage), when they ran, and
/// whether a refresh is under way.
pub(crate) type ReadyCache = std::sync::Arc<std::sync::Mutex<Ready>>;
type Checked = Result<(), String>;

/// See [`ReadyCache`].
#[derive(Default)]
pub(crate) struct Ready {
    last: Option<(std::time::Instant, Checked, Checked)>,
    refreshing: bool,
}

/// `/health`: 200 when the database answers, else 503.
pub(crate) async fn health(State(s): State<AppState>) -> Response {
    match database(&s).await {
        Ok(()) => (StatusCode::OK, Json(Health::OK)).into_response(),
        Err(cause) => unavailable(Json(Health::DEGRADED), cause),
    }
}

/// `/health/live`: 200 while the process serves requests.
pub(crate) async fn live() -> Response {
    (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response()
}

/// `/health/ready`: 200 when the database and the storage answer, else 503
/// saying which does not.
pub(crate) async fn ready(State(s): State<AppState>) -> Response {
    let (db, storage) = readiness(&s).await;
    let r = Readiness {
        status: if db.is_ok() && storage.is_ok() {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        database: if db.is_ok() {
            DatabaseHealth::Ok
        } else {
            DatabaseHealth::Unavailable
        },
        storage: if storage.is_ok() {
            StorageHealth::Ok
        } else {
            StorageHealth::Unavailable
        },
    };
    match (db, storage) {
        (Ok(()), Ok(())) => (StatusCode::OK, Json(r)).into_response(),
        (Err(a), Err(b)) => unavailable(Json(r), format!("{a}; {b}")),
        (Err(c), _) | (_, Err(c)) => unavailable(Json(r), c),
    }
}

/// The checks' results: fresh ones reused; while another probe refreshes
/// them, the last ones (probes never queue behind each other); else a
/// refresh in a task of its own, so a probe that gives up does not waste it.
async fn readiness(s: &AppState) -> (Checked, Checked) {
    {
        let mut r = s
            .readiness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &r.last {
            Some((at, db, st)) if at.elapsed() < READY_FOR || r.refreshing => {
                return (db.clone(), st.clone());
            }
            _ => r.refreshing = true,
        }
    }
    let state = s.clone();
    let refresh = tokio::spawn(async move {
        let (db, st) = tokio::join!(database(&state), storage(&state));
        let mut r = state
            .readiness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.last = Some((std::time::Instant::now(), db.clone(), st.clone()));
        r.refreshing = false;
        (db, st)
    });
    refresh.await.unwrap_or_else(|e| {
        let failed = Err(format!("health check: the check failed: {e}"));
        (failed.clone(), failed)
    })
}

async fn database(s: &AppState) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, s.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("health check: database not ready: {e}")),
        Err(_) => Err("health check: the database did not answer within 2 s".into()),
    }
}

async fn storage(s: &AppState) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, s.blobs.check()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("health check: file storage not ready: {e}")),
        Err(_) => Err("health check: the file storage did not answer within 2 s".into()),
    }
}

/// A 503 with `body`; the request log writes `cause`, with the request id.
fn unavailable(body: impl IntoResponse, cause: String) -> Response {
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    res.extensions_mut()
        .insert(error::ErrorCause(cause.into_boxed_str()));
    res
}
