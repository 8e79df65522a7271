//! [`LeaseStore`]: a background job that must run on one node at a time
//! (retention's batch deletes) takes a named lease first; the holder keeps
//! it by renewing, another node takes it once it has run out.

use async_trait::async_trait;

use crate::StoreResult;

/// Named leases across nodes. Each method is one transaction.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews the lease `name` for `holder` until `until_ms`;
    /// `false` while another holder's lease lasts past `now_ms`.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> StoreResult<bool>;
    /// Gives up every lease `holder` has (a node that stops).
    async fn release_leases(&self, holder: &str) -> StoreResult<()>;
}
