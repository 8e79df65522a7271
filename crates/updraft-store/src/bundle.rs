//! [`BundleStore`]: an app's bundles (uploaded or external web builds) and
//! [`NewBundle`], the row it inserts.

use async_trait::async_trait;
use updraft_protocol::api::{Bundle, BundleMeta, BundleStorage, ManifestEntry, Revocation};

use crate::{Stamp, StoreResult};

/// A bundle to insert; the store assigns its id and creation time. The
/// fields mean what [`Bundle`]'s fields of the same name mean.
#[derive(Debug, Clone)]
pub struct NewBundle {
    /// The app it belongs to; must exist.
    pub app_id: String,
    /// Version name, never used before in this app (not even by a deleted bundle).
    pub version: String,
    /// Lowercase hex SHA-256 of the plaintext zip, or the RSA-encrypted form.
    pub checksum: String,
    /// `base64(iv):base64(rsa(key))`; empty when the bundle is not encrypted.
    pub session_key: String,
    /// The encrypting public key's id, when encrypted; `None` otherwise.
    pub key_id: Option<String>,
    /// The Electron updater's checksum of an encrypted bundle, when known.
    pub electron_checksum: Option<String>,
    /// Where the zip lives.
    pub storage: BundleStorage,
    /// Hex SHA-256 of the stored bytes (the blob's name); `None` for an external bundle.
    pub blob_sha256: Option<String>,
    /// Size of the stored zip in bytes; `None` for an external bundle.
    pub size: Option<i64>,
    /// The user-hosted zip URL; `None` for a stored bundle.
    pub external_url: Option<String>,
    /// Per-file manifest for delta updates; empty when there is none.
    pub manifest: Vec<ManifestEntry>,
    /// Metadata; absent fields are stored empty (`native_packages` as `[]`).
    pub meta: BundleMeta,
}

/// Bundles. Each method is one transaction; each write appends its change
/// (`bundle.created`, `bundle.updated`, `bundle.deleted`, `bundle.revoked`) in it.
#[async_trait]
pub trait BundleStore: Send + Sync {
    /// Inserts the bundle, bumps the app's revision and returns it as stored.
    /// `NotFound` when the app does not exist; `Conflict` when the version
    /// name was ever used in this app.
    async fn create_bundle(&self, bundle: &NewBundle, stamp: &Stamp) -> StoreResult<Bundle>;
    /// The app's live (not deleted) bundles, newest first; empty when there
    /// are none or the app does not exist.
    async fn list_bundles(&self, app_id: &str) -> StoreResult<Vec<Bundle>>;
    /// The bundle `version` of the app, deleted or not (see [`Bundle::deleted`]);
    /// `None` when there is none.
    async fn get_bundle(&self, app_id: &str, version: &str) -> StoreResult<Option<Bundle>>;
    /// Sets the metadata fields `meta` gives (absent ones keep their value),
    /// bumps the app's revision and returns the bundle. `NotFound` when no
    /// live bundle has this version.
    async fn update_bundle_meta(
        &self,
        app_id: &str,
        version: &str,
        meta: &BundleMeta,
        stamp: &Stamp,
    ) -> StoreResult<Bundle>;
    /// Soft delete: the bundle is no longer listed, offered or served, and its
    /// version stays taken; bumps the app's revision. `NotFound` when no live
    /// bundle has this version; `Conflict` (naming them) while a channel or a
    /// device pin uses it. Its file is marked freed now (see
    /// [`BlobHoldStore`](crate::BlobHoldStore)), for the sweeper.
    async fn delete_bundle(&self, app_id: &str, version: &str, stamp: &Stamp) -> StoreResult<()>;
    /// Revokes the live bundle `version` with `reason`, in one transaction:
    /// reverts the active rollouts whose candidate it is or whose channel
    /// serves it (`rollout.reverted`), points each channel serving it at the
    /// newest earlier bundle of its history that is neither deleted nor
    /// revoked, or builtin (`channel.rolled_back`), and records
    /// `bundle.revoked`. From then on [`StoreError::Revoked`](crate::StoreError::Revoked)
    /// refuses it to channels, rollouts and pins. A bundle already revoked
    /// is returned unchanged (`changed: false`, nothing recorded).
    /// `NotFound` when no live bundle has this version.
    async fn revoke_bundle(
        &self,
        app_id: &str,
        version: &str,
        reason: Option<&str>,
        stamp: &Stamp,
    ) -> StoreResult<Revocation>;
    /// Whether a live (not deleted) bundle of any app is stored under this
    /// blob hash, or any app keeps it as a manifest file (see
    /// [`FileStore`](crate::FileStore)); when neither, the file can be removed.
    async fn blob_in_use(&self, sha256: &str) -> StoreResult<bool>;
}
