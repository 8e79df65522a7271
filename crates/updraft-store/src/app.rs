//! [`AppStore`]: the apps, each the root of everything stored for it.

use async_trait::async_trait;
use updraft_protocol::api::{App, AppPatch, NewApp};

use crate::{Stamp, StoreResult};

/// Apps. Each method is one transaction; each write appends its change
/// (`app.created`, `app.updated`, `app.deleted`) in it.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Creates an app (named after its id when `app.name` is `None`, metadata
    /// hidden, custom ids accepted, no public key) and returns it as stored.
    /// `Conflict` when an app with this id exists.
    async fn create_app(&self, app: &NewApp, stamp: &Stamp) -> StoreResult<App>;
    /// Every app, ordered by id; empty when there are none.
    async fn list_apps(&self) -> StoreResult<Vec<App>>;
    /// The app `app_id`; `None` when it does not exist.
    async fn get_app(&self, app_id: &str) -> StoreResult<Option<App>>;
    /// Applies the fields `patch` sets (an empty `public_key` removes the key),
    /// bumps the app's revision and returns the app as stored. `NotFound` when
    /// the app does not exist.
    async fn update_app(&self, app_id: &str, patch: &AppPatch, stamp: &Stamp) -> StoreResult<App>;
    /// Deletes the app and everything under it (bundles, manifest files, channels, deploys,
    /// devices, overrides, rollback blocks, events, offer counts); its change
    /// rows stay. Each of its stored files is marked freed now (see
    /// [`BlobHoldStore`](crate::BlobHoldStore)). `NotFound` when the app does not exist.
    async fn delete_app(&self, app_id: &str, stamp: &Stamp) -> StoreResult<()>;
}
