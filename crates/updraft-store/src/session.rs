//! [`SessionStore`]: the dashboard's sign-in sessions. A session names the
//! API key it was opened with (by the key's hash), so every page re-checks
//! that key: a deleted or expired key ends its sessions on every node.

use async_trait::async_trait;

use crate::StoreResult;

/// One dashboard session as stored. The token itself is never stored, only
/// its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashSession {
    /// The SHA-256 (lowercase hex) of the session token held by the browser.
    pub token_hash: String,
    /// The hash of the API key it was opened with, as the key store keeps it.
    pub key_hash: String,
    /// Epoch ms it was opened.
    pub created_at: i64,
    /// Epoch ms after which it ends unless used before (idle expiry).
    pub idle_until: i64,
    /// Epoch ms at which it ends whatever happens (absolute expiry).
    pub expires_at: i64,
}

/// Dashboard sessions. Each method is one statement; none appends a change
/// (sessions are not state nodes follow: every node reads the row).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session, its idle expiry capped by its absolute one.
    /// `Conflict` when one has this token hash.
    async fn create_session(&self, session: &DashSession) -> StoreResult<()>;
    /// The session with this token hash when it is live at `now_ms` (before
    /// both expiries), its idle expiry moved to `idle_until` (never past its
    /// absolute expiry); `None` when there is none or it has ended.
    async fn touch_session(
        &self,
        token_hash: &str,
        now_ms: i64,
        idle_until: i64,
    ) -> StoreResult<Option<DashSession>>;
    /// Ends the session with this token hash (sign-out); nothing when there
    /// is none.
    async fn end_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Deletes at most `limit` sessions that ended by `now_ms` (the idle
    /// expiry is never past the absolute one); how many.
    async fn prune_sessions(&self, now_ms: i64, limit: i64) -> StoreResult<u64>;
}
