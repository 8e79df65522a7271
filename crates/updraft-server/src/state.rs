//! Shared server state handed to every handler.

use std::sync::Arc;

use axum::http::HeaderMap;
use updraft_blob::Blobs;
use updraft_store::Store;

use crate::config::Config;
use crate::snapshot::Snapshots;
use crate::writer::{Full, Writer};
use updraft_store::Write;

/// Everything a handler needs, behind one `Arc`: axum clones the state for
/// every request, and one reference count is cheaper than seven.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The server's shared parts.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub blobs: Blobs,
    pub snapshots: Arc<Snapshots>,
    pub writer: Writer,
    /// Device traffic counters and the error-line budget of the request log.
    pub traffic: Arc<crate::traffic::Traffic>,
    pub config: Arc<Config>,
    /// The address the server is bound to.
    pub bound: std::net::SocketAddr,
    /// Held while a blob is stored and recorded, and while an unused blob is
    /// collected, so a collection never removes a blob an upload just stored.
    pub blob_lock: Arc<tokio::sync::Mutex<()>>,
    /// Per-device limit of `/channel_self` calls.
    pub channel_limiter: Arc<crate::ratelimit::DeviceLimiter>,
    /// Per-app limit of self-assigned channel writes (keyed by app only).
    pub self_assign_limiter: Arc<crate::ratelimit::DeviceLimiter>,
    /// Device rows recently queued (single-node SQLite only).
    pub seen_filter: Option<crate::seen_filter::SeenFilter>,
}

impl Shared {
    /// Queues `writes` (all or none). A device row identical to one queued
    /// within the refresh interval is dropped first, because the store would
    /// not rewrite it.
    pub fn queue(&self, mut writes: Vec<Write>) -> Result<(), Full> {
        let Some(filter) = &self.seen_filter else {
            return self.writer.send_all(writes);
        };
        writes.retain(|w| match w {
            Write::Seen(d) => filter.admit(d),
            _ => true,
        });
        let sent = self.writer.send_all_back(writes);
        sent.map_err(|unsent| {
            for w in &unsent {
                if let Write::Seen(d) = w {
                    filter.forget(d);
                }
            }
            Full
        })
    }

    /// Removes the stored files no live bundle uses any more (after a bundle
    /// or app delete). Failures are logged: a leftover file is only disk space.
    pub async fn collect_blobs(&self, shas: impl IntoIterator<Item = String>) {
        let _guard = self.blob_lock.lock().await;
        for sha in shas {
            match self.store.blob_in_use(&sha).await {
                Ok(false) => {
                    if let Err(e) = self.blobs.delete(&sha).await {
                        tracing::warn!(sha, error = %e, "could not remove an unused bundle file");
                    }
                }
                Ok(true) => {}
                Err(e) => {
                    tracing::warn!(sha, error = %e, "could not check whether a bundle file is in use")
                }
            }
        }
    }

    /// The base URL of bundle links for a request with `headers`
    /// (see [`crate::public_url`]: never from the `Host` header).
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        crate::public_url::base_url(
            self.config.public_url.as_deref(),
            headers,
            self.bound,
            self.config.tls_cert.is_some(),
        )
    }
}
