//! [`AppStore`]: the apps, each the root of everything stored for it.

use async_trait::async_trait;
use updraft_protocol::api::{App, AppPatch, NewApp};

use crate::StoreResult;

/// Apps. Each method is one transaction.
#[async_trait]
pub trait AppStore: Send + Sync {
    async fn create_app(&self, app: &NewApp, now: i64) -> StoreResult<App>;
    async fn list_apps(&self) -> StoreResult<Vec<App>>;
    async fn get_app(&self, app_id: &str) -> StoreResult<Option<App>>;
    async fn update_app(&self, app_id: &str, patch: &AppPatch) -> StoreResult<App>;
    /// Deletes the app and everything under it.
    async fn delete_app(&self, app_id: &str) -> StoreResult<()>;
}
