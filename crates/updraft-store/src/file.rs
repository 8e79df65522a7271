//! [`FileStore`]: the files of manifest (delta) bundles each app stored,
//! content-addressed by the SHA-256 of the bytes served, and the manifests
//! of stored bundles that name them.
//!
//! A manifest entry names a stored file by a `download_url` of the form
//! [`STORED_FILE_PREFIX`]`<sha256>`, a path on the server that serves it; the
//! device reply makes it absolute. An app's files live as long as a live
//! bundle names them, or for [`FILE_GRACE_MS`] after they were uploaded or an
//! upload was told the app has them, whichever is later.

use async_trait::async_trait;
use updraft_protocol::api::{Bundle, ManifestEntry};

use crate::{Stamp, StoreResult};

/// The `download_url` prefix of a manifest entry that names a stored file.
pub const STORED_FILE_PREFIX: &str = "/files/";

/// How long a file no live bundle names is kept after its upload, or after
/// an upload was last told the app has it: the time a client has between
/// asking which files are missing and naming them all in a manifest.
pub const FILE_GRACE_MS: i64 = 24 * 3_600_000;

/// The stored file a manifest entry names, if it names one.
pub fn stored_file(entry: &ManifestEntry) -> Option<&str> {
    entry.download_url.strip_prefix(STORED_FILE_PREFIX)
}

/// A byte-level patch between two stored files of an app (by the SHA-256 of
/// the bytes served), or the record that one would not pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// The stored file a device holds (decoded).
    pub from_sha256: String,
    /// The stored file it needs.
    pub to_sha256: String,
    /// The app file holding the patch; `None`: not smaller than the target.
    pub patch_sha256: Option<String>,
    /// The patch's size (0 without a patch).
    pub size: i64,
}

/// Files of manifest bundles. Each method is one transaction.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Records that the app stored the file `sha256` of `size` bytes, at
    /// `at` (again: its time moves to `at`). `NotFound` when the app does
    /// not exist.
    async fn add_file(&self, app_id: &str, sha256: &str, size: i64, at: i64) -> StoreResult<()>;
    /// Those of `shas` the app has no file for, in the order given; the
    /// ones it has get `at` as their time, so they are kept for
    /// [`FILE_GRACE_MS`] from now even if no bundle names them yet.
    async fn missing_files(
        &self,
        app_id: &str,
        shas: &[String],
        at: i64,
    ) -> StoreResult<Vec<String>>;
    /// Every file of the app, as (sha256, size), in hash order.
    async fn list_files(&self, app_id: &str) -> StoreResult<Vec<(String, i64)>>;
    /// The sizes of the app's files among `shas` (unknown ones are left out).
    async fn file_sizes(&self, app_id: &str, shas: &[String]) -> StoreResult<Vec<(String, i64)>>;
    /// Gives the live bundle `version` its manifest, whose entries name the
    /// app's stored files (see [`stored_file`]), bumps the app's revision and
    /// returns the bundle. `NotFound` when there is no such live bundle;
    /// `Invalid` naming the first entry that names no file of the app;
    /// `Conflict` when the bundle has another manifest (the same one again
    /// changes nothing).
    async fn set_manifest(
        &self,
        app_id: &str,
        version: &str,
        manifest: &[ManifestEntry],
        stamp: &Stamp,
    ) -> StoreResult<Bundle>;
    /// Up to `limit` files, as (app, sha256), whose time is before `before`
    /// and that no live bundle of their app names: what a cleanup may forget.
    async fn unused_files(&self, before: i64, limit: i64) -> StoreResult<Vec<(String, String)>>;
    /// The recorded patches of the app among `pairs` of (from, to) stored
    /// files; pairs never computed are left out.
    async fn file_patches(
        &self,
        app_id: &str,
        pairs: &[(String, String)],
    ) -> StoreResult<Vec<FilePatch>>;
    /// Records a computed patch (its file, of `patch.size` bytes, becomes an
    /// app file at `at`), or that none pays, and returns what is recorded: a
    /// pair recorded already (by another node) is kept as it was and
    /// returned, and the new patch's file is not made an app file.
    /// `NotFound` when the app does not exist.
    async fn add_file_patch(
        &self,
        app_id: &str,
        patch: &FilePatch,
        at: i64,
    ) -> StoreResult<FilePatch>;
    /// Forgets the app's file if it is still unused and its time still
    /// before `before` (an upload may have touched it since); true when it
    /// did. The file is then marked freed at `now` (see
    /// [`BlobHoldStore`](crate::BlobHoldStore)): a download of it started
    /// before (a bundle deleted a moment ago named it) gets the grace.
    async fn forget_file(
        &self,
        app_id: &str,
        sha256: &str,
        before: i64,
        now: i64,
    ) -> StoreResult<bool>;
}
