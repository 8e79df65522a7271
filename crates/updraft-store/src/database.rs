//! [`DatabaseStore`]: operations on the database as a whole rather than on one
//! resource: applying migrations and the readiness probe.

use async_trait::async_trait;

use crate::StoreResult;

/// The database itself: its schema and whether it answers.
#[async_trait]
pub trait DatabaseStore: Send + Sync {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap readiness probe.
    async fn ping(&self) -> StoreResult<()>;
}
