//! [`HookStore`]: an app's inbound deploy hooks, and the delivery ids their
//! calls used (a call is accepted once).

use async_trait::async_trait;
use updraft_protocol::api::{Hook, NewHook};

use crate::{Stamp, StoreResult};

/// A hook with what checking a call needs.
#[derive(Clone)]
pub struct StoredHook {
    /// The hook.
    pub hook: Hook,
    /// Its signing secret.
    pub secret: String,
}

impl std::fmt::Debug for StoredHook {
    /// The hook, not its secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredHook")
            .field("hook", &self.hook)
            .finish_non_exhaustive()
    }
}

/// Inbound hooks. Each method is one transaction; creating and deleting
/// append their change (`hook.created`, `hook.deleted`).
#[async_trait]
pub trait HookStore: Send + Sync {
    /// Creates a hook reached at `token` and signed with `secret`.
    /// `NotFound` when the app does not exist; `UnknownChannel` when it has
    /// no such channel; `Conflict` when it has `max` hooks already. The
    /// caller has checked the rest.
    async fn create_hook(
        &self,
        app_id: &str,
        new: &NewHook,
        token: &str,
        secret: &str,
        max: i64,
        stamp: &Stamp,
    ) -> StoreResult<Hook>;
    /// The app's hooks by id.
    async fn list_hooks(&self, app_id: &str) -> StoreResult<Vec<Hook>>;
    /// Deletes the hook. `NotFound` when the app has no such hook.
    async fn delete_hook(&self, app_id: &str, id: i64, stamp: &Stamp) -> StoreResult<()>;
    /// The hook reached at `token`; `None` when there is none.
    async fn hook_by_token(&self, token: &str) -> StoreResult<Option<StoredHook>>;
    /// Records that a signed call with `delivery_id` reached the hook at
    /// `now_ms` (and marks the hook used): false when that id was recorded
    /// before (a replay). `NotFound` when the hook was deleted meanwhile.
    async fn claim_hook_call(
        &self,
        hook_id: i64,
        delivery_id: &str,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Forgets a recorded call whose action failed, so its sender may retry it.
    async fn release_hook_call(&self, hook_id: i64, delivery_id: &str) -> StoreResult<()>;
    /// Deletes at most `limit` recorded calls older than `before`; returns how many.
    async fn prune_hook_calls(&self, before: i64, limit: i64) -> StoreResult<u64>;
}
