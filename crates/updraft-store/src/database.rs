//! [`DatabaseStore`]: operations on the database as a whole rather than on one
//! resource: applying migrations and the readiness probe.

use async_trait::async_trait;

use crate::StoreResult;

/// The database itself: its schema and whether it answers.
#[async_trait]
pub trait DatabaseStore: Send + Sync {
    /// Applies the migrations the database has not seen yet, each once; a
    /// database already current is left alone. `Backend` when one fails or
    /// the database holds a migration this build does not know (a newer
    /// Updraft migrated it).
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap readiness probe: one trivial query. `Unavailable` when the
    /// database cannot be reached.
    async fn ping(&self) -> StoreResult<()>;
}
