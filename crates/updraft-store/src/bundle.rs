//! [`BundleStore`]: an app's bundles (uploaded or external web builds) and
//! [`NewBundle`], the row it inserts.

use async_trait::async_trait;
use updraft_protocol::api::{Bundle, BundleMeta, BundleStorage, ManifestEntry};

use crate::StoreResult;

/// A bundle to insert.
#[derive(Debug, Clone)]
pub struct NewBundle {
    pub app_id: String,
    pub version: String,
    pub checksum: String,
    pub session_key: String,
    pub key_id: Option<String>,
    /// The Electron updater's checksum of an encrypted bundle, when known.
    pub electron_checksum: Option<String>,
    pub storage: BundleStorage,
    pub blob_sha256: Option<String>,
    pub size: Option<i64>,
    pub external_url: Option<String>,
    pub manifest: Vec<ManifestEntry>,
    pub meta: BundleMeta,
}

/// Bundles. Each method is one transaction.
#[async_trait]
pub trait BundleStore: Send + Sync {
    /// Fails with `Conflict` when the version name was ever used in this app.
    async fn create_bundle(&self, bundle: &NewBundle, now: i64) -> StoreResult<Bundle>;
    async fn list_bundles(&self, app_id: &str) -> StoreResult<Vec<Bundle>>;
    async fn get_bundle(&self, app_id: &str, version: &str) -> StoreResult<Option<Bundle>>;
    async fn update_bundle_meta(
        &self,
        app_id: &str,
        version: &str,
        meta: &BundleMeta,
    ) -> StoreResult<Bundle>;
    /// Soft delete; `Conflict` while a channel or a device pin uses it.
    async fn delete_bundle(&self, app_id: &str, version: &str) -> StoreResult<()>;
    /// Whether a live (not deleted) bundle of any app is stored under this blob hash;
    /// when none is, the file can be removed.
    async fn blob_in_use(&self, sha256: &str) -> StoreResult<bool>;
}
