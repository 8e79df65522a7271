//! [`SnapshotStore`]: what the hot path caches per app ([`AppSnapshotData`])
//! and the app revisions nodes poll to know when to reload it.

use async_trait::async_trait;
use updraft_protocol::api::{App, Bundle, Channel};

use crate::StoreResult;

/// Everything the update decision needs for one app, loaded at once.
#[derive(Debug, Clone)]
pub struct AppSnapshotData {
    pub app: App,
    pub revision: i64,
    /// Ordered by `name, id`.
    pub channels: Vec<Channel>,
    /// Every bundle that is not deleted.
    pub bundles: Vec<Bundle>,
    /// `(device_id, channel_id, bundle_id)`: exactly one of the two ids is set.
    pub overrides: Vec<(String, Option<i64>, Option<i64>)>,
    /// `(device_id, bundle_id)` rollbacks.
    pub failures: Vec<(String, i64)>,
}

/// The per-app snapshot and its revision. Each method is one transaction.
#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// Loads what the hot path needs for one app; `None` if the app does not exist.
    async fn load_snapshot(&self, app_id: &str) -> StoreResult<Option<AppSnapshotData>>;
    /// `(app_id, revision)` of every app, for cache invalidation across nodes.
    async fn app_revisions(&self) -> StoreResult<Vec<(String, i64)>>;
}
