//! [`SnapshotStore`]: what the hot path caches per app ([`AppSnapshotData`])
//! (nodes learn when to reload it from the change log).

use async_trait::async_trait;
use updraft_protocol::api::{App, Bundle, Channel, NamedCohort, Rollout};

use crate::StoreResult;

/// Everything the update decision needs for one app, loaded at once.
#[derive(Debug, Clone)]
pub struct AppSnapshotData {
    /// The app itself.
    pub app: App,
    /// The app's revision when loaded: every app-wide write raises it, so a
    /// snapshot with a lower one is stale.
    pub revision: i64,
    /// Ordered by `name, id`.
    pub channels: Vec<Channel>,
    /// Every bundle that is not deleted.
    pub bundles: Vec<Bundle>,
    /// `(device_id, channel_id, bundle_id)`: exactly one of the two ids is set.
    pub overrides: Vec<(String, Option<i64>, Option<i64>)>,
    /// `(device_id, bundle_id)` rollbacks.
    pub failures: Vec<(String, i64)>,
    /// The app's active (running or paused) rollouts, at most one per
    /// channel, ordered by id.
    pub rollouts: Vec<Rollout>,
    /// The app's named cohorts, by name.
    pub cohorts: Vec<NamedCohort>,
}

/// The per-app snapshot. Each method is one transaction.
#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// Loads what the hot path needs for one app, all read in one transaction
    /// (so at one revision); `None` if the app does not exist. Rollback
    /// blocks are only those of bundles a channel, a pin or an active
    /// rollout (its candidate) points at.
    async fn load_snapshot(&self, app_id: &str) -> StoreResult<Option<AppSnapshotData>>;
}
