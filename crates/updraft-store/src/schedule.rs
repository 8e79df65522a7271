//! [`ScheduleStore`]: scheduled deploys and rollout steps, and running each
//! once across nodes.

use async_trait::async_trait;
use updraft_protocol::api::{NewSchedule, Schedule};

use crate::{Stamp, StoreResult};

/// Scheduled deploys. Each method is one transaction; creating, cancelling,
/// running and failing append their change (`deploy.scheduled`,
/// `deploy.cancelled`, `deploy.executed`, `deploy.failed`).
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Schedules `new` (checked by the caller: action fields, window), to
    /// be looked at from `due_at` (epoch ms: its first possible run).
    /// `NotFound` for an unknown app; `UnknownChannel`, `UnknownBundle` or
    /// `Revoked` for what it names; `Conflict` when the app has `max`
    /// pending schedules.
    async fn create_schedule(
        &self,
        app_id: &str,
        new: &NewSchedule,
        due_at: i64,
        max: i64,
        stamp: &Stamp,
    ) -> StoreResult<Schedule>;
    /// The app's latest 200 schedules, newest first.
    async fn list_schedules(&self, app_id: &str) -> StoreResult<Vec<Schedule>>;
    /// Cancels a pending schedule. `NotFound` when the app has no such
    /// schedule; `Conflict` when it is no longer pending.
    async fn cancel_schedule(&self, app_id: &str, id: i64, stamp: &Stamp) -> StoreResult<Schedule>;
    /// Pending schedules of every app to look at by `now_ms` (their
    /// `due_at` has come), the longest waiting first, at most `limit`. The
    /// caller checks their windows and postpones those not yet open.
    async fn pending_schedules(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<Schedule>>;
    /// Moves a pending schedule's next look to `due_at` (its window's next
    /// opening), so schedules waiting for a window never crowd out due ones.
    async fn postpone_schedule(&self, id: i64, due_at: i64) -> StoreResult<()>;
    /// Runs a pending schedule: in one transaction it leaves `pending` and
    /// its action is done, so across nodes it runs once. `Ok(None)` when it
    /// is no longer pending (another node ran it, or it was cancelled); an
    /// error from the action leaves it pending and changes nothing.
    async fn run_schedule(&self, id: i64, stamp: &Stamp) -> StoreResult<Option<Schedule>>;
    /// Marks a pending schedule failed with `error` (its action was refused);
    /// false when it was no longer pending.
    async fn fail_schedule(&self, id: i64, error: &str, stamp: &Stamp) -> StoreResult<bool>;
}
