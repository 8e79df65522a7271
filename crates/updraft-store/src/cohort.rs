//! [`CohortStore`]: an app's named cohorts, which targeting rules name.

use async_trait::async_trait;
use updraft_protocol::api::{CohortMembers, NamedCohort};

use crate::{Stamp, StoreResult};

/// Named cohorts. Each method is one transaction and appends its change
/// (`cohort.updated`, `cohort.deleted`), so every node reloads the app.
#[async_trait]
pub trait CohortStore: Send + Sync {
    /// Creates the cohort or replaces its members; `true` when it was
    /// created. `NotFound` when the app does not exist; `Conflict` when it
    /// has `max` cohorts already and this one is new. The caller has checked
    /// the name and the members.
    async fn put_cohort(
        &self,
        app_id: &str,
        name: &str,
        members: &CohortMembers,
        max: i64,
        stamp: &Stamp,
    ) -> StoreResult<(NamedCohort, bool)>;
    /// The app's cohorts by name.
    async fn list_cohorts(&self, app_id: &str) -> StoreResult<Vec<NamedCohort>>;
    /// Deletes the cohort. `NotFound` when the app has no such cohort;
    /// `Conflict` when a channel's rule or an active rollout's step names it.
    async fn delete_cohort(&self, app_id: &str, name: &str, stamp: &Stamp) -> StoreResult<()>;
}
