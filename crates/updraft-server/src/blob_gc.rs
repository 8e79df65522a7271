//! Removing stored files nothing keeps any more: a bundle's zip once no live
//! bundle uses it, a manifest file once no app keeps it. One lock per node
//! orders removals with uploads (an upload stores its file and records it
//! under the lock), so a removal never takes a file an upload just relied on.
//! Failures are logged: a leftover file is only disk space. Files in a
//! bucket shared by several nodes are not removed yet (see `collect`).

use std::sync::Arc;

use updraft_blob::Blobs;
use updraft_store::Store;

/// The lock uploads and removals of this node share.
pub(crate) type BlobLock = Arc<tokio::sync::Mutex<()>>;

/// Removes each of `shas` that no live bundle uses and no app keeps.
pub(crate) async fn collect(
    store: &dyn Store,
    blobs: &Blobs,
    lock: &BlobLock,
    shas: impl IntoIterator<Item = String>,
) {
    // The lock orders this node's removals with this node's uploads only:
    // a shared bucket keeps its files until removals are ordered across
    // nodes (reference rows in the database; issue #16).
    if !blobs.is_local() {
        return;
    }
    let _guard = lock.lock().await;
    for sha in shas {
        match store.blob_in_use(&sha).await {
            Ok(false) => {
                if let Err(e) = blobs.delete(&sha).await {
                    tracing::warn!(sha, error = %e, "could not remove an unused stored file");
                }
            }
            Ok(true) => {}
            Err(e) => {
                tracing::warn!(sha, error = %e, "could not check whether a stored file is in use");
            }
        }
    }
}
