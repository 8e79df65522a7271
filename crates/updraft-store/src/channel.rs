//! [`ChannelStore`]: an app's channels, their deploy history and rollback.

use async_trait::async_trait;
use updraft_protocol::api::{Channel, ChannelPatch, ChannelWrite, Deploy};

use crate::StoreResult;

/// Channels. Each method is one transaction.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Creates a channel; `Conflict` if the name exists.
    async fn create_channel(
        &self,
        app_id: &str,
        patch: &ChannelPatch,
        now: i64,
    ) -> StoreResult<ChannelWrite>;
    async fn update_channel(
        &self,
        app_id: &str,
        name: &str,
        patch: &ChannelPatch,
        now: i64,
    ) -> StoreResult<ChannelWrite>;
    async fn list_channels(&self, app_id: &str) -> StoreResult<Vec<Channel>>;
    async fn get_channel(&self, app_id: &str, name: &str) -> StoreResult<Option<Channel>>;
    /// Deletes the channel and the device overrides that point at it.
    async fn delete_channel(&self, app_id: &str, name: &str) -> StoreResult<()>;
    /// Newest first.
    async fn deploy_history(&self, app_id: &str, name: &str) -> StoreResult<Vec<Deploy>>;
    /// Points the channel back at the bundle it had before its current one.
    async fn rollback_channel(
        &self,
        app_id: &str,
        name: &str,
        now: i64,
    ) -> StoreResult<ChannelWrite>;
}
