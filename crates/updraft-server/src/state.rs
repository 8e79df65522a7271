//! Shared server state handed to every handler.

use std::sync::Arc;

use axum::http::HeaderMap;
use updraft_blob::Blobs;
use updraft_store::{Actor, Stamp, Store, StoreError};

use crate::config::Config;
use crate::snapshot::Snapshots;
use crate::writer::{Full, Writer};
use updraft_store::Write;

/// Everything a handler needs, behind one `Arc`: axum clones the state for
/// every request, and one reference count is cheaper than seven.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

impl AppState {
    pub(crate) fn new(shared: Shared) -> Self {
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
pub(crate) struct Shared {
    /// The store as handlers use it: writes return once this node has
    /// applied their change ([`crate::recorded`]).
    pub(crate) store: Arc<dyn Store>,
    /// Where the time of day comes from.
    pub(crate) clock: Arc<dyn crate::clock::Clock>,
    pub(crate) blobs: Blobs,
    pub(crate) snapshots: Arc<Snapshots>,
    /// This node's change follower (how far the change log is applied).
    pub(crate) follower: crate::changes::Follower,
    pub(crate) writer: Writer,
    /// Device traffic counters and the error-line budget of the request log.
    pub(crate) traffic: Arc<crate::traffic::Traffic>,
    pub(crate) config: Arc<Config>,
    /// The address the server is bound to.
    pub(crate) bound: std::net::SocketAddr,
    /// Asks for an early sweep of stored files nothing uses.
    pub(crate) sweeper: crate::blob_sweep::Sweeper,
    /// The last readiness checks, reused for a moment.
    pub(crate) readiness: crate::routes::health::ReadyCache,
    /// Per-device limit of `/channel_self` calls.
    pub(crate) channel_limiter: Arc<crate::ratelimit::DeviceLimiter>,
    /// Per-app limit of self-assigned channel writes (keyed by app only).
    pub(crate) self_assign_limiter: Arc<crate::ratelimit::DeviceLimiter>,
    /// Failed dashboard sign-ins, per client address.
    pub(crate) signin_failures: Arc<crate::dashboard::Failures>,
    /// Test deliveries, per webhook (one a second).
    pub(crate) test_delivery_limiter: Arc<crate::ratelimit::DeviceLimiter>,
    /// Offers recently queued as release signals.
    pub(crate) offers: crate::offer_filter::OfferFilter,
    /// Byte-level patches known to this node, and the queue of pairs to prepare.
    pub(crate) patches: Arc<crate::patches::Patches>,
    /// The client of webhook deliveries (and test deliveries).
    pub(crate) webhook_client: reqwest::Client,
    /// Where device countries come from (targeting rules).
    pub(crate) geo: Arc<crate::geo::Geo>,
    /// Device rows recently queued (single-node SQLite only).
    pub(crate) seen_filter: Option<crate::seen_filter::SeenFilter>,
}

impl Shared {
    /// Milliseconds since the Unix epoch, by the server's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A write made now by the holder of `auth`'s key.
    pub(crate) fn stamp(&self, auth: &crate::auth::Auth) -> Stamp {
        Stamp::new(self.now_ms(), Actor::Key { id: auth.0.id })
    }

    /// A write made now by a device.
    pub(crate) fn device_stamp(&self) -> Stamp {
        Stamp::new(self.now_ms(), Actor::Device)
    }

    /// Queues `writes` (all or none). A device row identical to one queued
    /// within the refresh interval is dropped first, because the store would
    /// not rewrite it.
    pub(crate) fn queue(&self, mut writes: Vec<Write>) -> Result<(), Full> {
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

    /// Runs `upload` (which stores the file `sha256` and records what uses
    /// it) holding the file (see [`crate::blob_sweep`]): no node removes it
    /// meanwhile. Once it ends, stored or not, the file is swept after the
    /// grace unless something uses it.
    pub(crate) async fn holding_file<T, E: From<StoreError>>(
        &self,
        sha256: &str,
        upload: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        hold_file(&self.store, &self.clock, sha256, upload).await
    }

    /// The base URL of bundle links for a request with `headers`
    /// (see [`crate::public_url`]: never from the `Host` header).
    pub(crate) fn base_url(&self, headers: &HeaderMap) -> String {
        crate::public_url::base_url(
            self.config.server.public_url.as_deref(),
            headers,
            self.bound,
            self.config.tls.cert.is_some(),
        )
    }
}

/// [`AppState::holding_file`] for callers without the state (the patch
/// worker): holds `sha256` while `upload` runs. The hold ends when the
/// upload does, also when the request is dropped half-way (then in a task
/// of its own).
pub(crate) async fn hold_file<T, E: From<StoreError>>(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn crate::clock::Clock>,
    sha256: &str,
    upload: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    store
        .hold_for_upload(sha256, clock.now_ms() + crate::blob_sweep::UPLOAD_HOLD_MS)
        .await?;
    let mut hold = UploadHold(Some((store.clone(), clock.clone(), sha256.to_string())));
    let done = upload.await;
    // In a task of its own, taken from the guard only once spawned: a
    // request dropped while it runs does not stop it.
    if let Some((store, clock, sha)) = hold.0.clone() {
        let ended = tokio::spawn(async move { end_hold(&*store, &*clock, &sha).await });
        hold.0 = None;
        let _ = ended.await;
    }
    done
}

/// An upload's hold on its file, ended when dropped unless ended already.
struct UploadHold(Option<HeldFile>);

/// What ending a hold needs: the store, the clock and the file.
type HeldFile = (Arc<dyn Store>, Arc<dyn crate::clock::Clock>, String);

impl Drop for UploadHold {
    fn drop(&mut self) {
        if let (Some((store, clock, sha)), Ok(rt)) =
            (self.0.take(), tokio::runtime::Handle::try_current())
        {
            rt.spawn(async move { end_hold(&*store, &*clock, &sha).await });
        }
    }
}

async fn end_hold(store: &dyn Store, clock: &dyn crate::clock::Clock, sha256: &str) {
    // Not ended (a database fault): the hold runs out on its own.
    if let Err(e) = store.end_upload_hold(sha256, clock.now_ms()).await {
        tracing::warn!(sha256, error = %e, "could not end an upload's hold on its file; it runs out within an hour");
    }
}
