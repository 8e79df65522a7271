//! [`BlobHoldStore`]: when a stored file may be removed, decided in the
//! database so every node agrees.
//!
//! One row per file that may have to go: the uploads storing it right now
//! (a count, and a time after which a crashed upload no longer counts) and
//! when it was last freed (a bundle or app deleted, a manifest file
//! forgotten, an upload finished, each in its own write). The sweeper
//! removes the file once no upload holds it, it was freed more than the
//! grace period ago and nothing uses it, holding the row locked while it
//! removes it: an upload of the same bytes on another node waits for that
//! lock, then finds the file gone and stores it again, so a removal never
//! takes a file an upload relied on.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use crate::StoreResult;

/// Removes one stored file; called by [`BlobHoldStore::sweep_blob`] while
/// the hold is locked. An `Err` keeps the hold (the next sweep retries).
pub type RemoveBlob<'a> =
    &'a (dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync);

/// What one sweep of a held file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swept {
    /// The file was removed and its row dropped.
    Removed,
    /// Something uses the file: the row was dropped, the file kept.
    InUse,
    /// Not due (another node swept it, or an upload holds it again).
    NotDue,
}

/// Holds on stored files. Each method is one transaction.
#[async_trait]
pub trait BlobHoldStore: Send + Sync {
    /// An upload is about to store `sha256`: no sweep removes it until the
    /// upload ends ([`end_upload_hold`](Self::end_upload_hold)) or, should
    /// it never end (a crash), until `until_ms`. Waits while a sweep of
    /// that file is removing it, so the caller then finds it gone.
    async fn hold_for_upload(&self, sha256: &str, until_ms: i64) -> StoreResult<()>;
    /// An upload of `sha256` ended at `at_ms`, stored or not: the file is
    /// swept after the grace unless something uses it by then.
    async fn end_upload_hold(&self, sha256: &str, at_ms: i64) -> StoreResult<()>;
    /// The files due for a sweep at `now_ms`: no upload holds them and they
    /// were freed at or before `freed_by` (at most `limit`, oldest first).
    async fn due_blob_sweeps(
        &self,
        now_ms: i64,
        freed_by: i64,
        limit: i64,
    ) -> StoreResult<Vec<String>>;
    /// If `sha256` is due (as in [`due_blob_sweeps`](Self::due_blob_sweeps)):
    /// when nothing uses the file (no live bundle, no app's manifest file)
    /// calls `remove` with its row locked and drops the row once it
    /// succeeded; when something does, only drops the row.
    async fn sweep_blob(
        &self,
        sha256: &str,
        now_ms: i64,
        freed_by: i64,
        remove: RemoveBlob<'_>,
    ) -> StoreResult<Swept>;
}
