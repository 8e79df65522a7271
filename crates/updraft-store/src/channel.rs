//! [`ChannelStore`]: an app's channels, their deploy history and rollback.

use async_trait::async_trait;
use updraft_protocol::api::{Channel, ChannelPatch, ChannelWrite, Deploy};

use crate::{Stamp, StoreResult};

/// Channels. Each method is one transaction; each write appends its change
/// (`channel.created`, `channel.updated`, `channel.deleted`,
/// `channel.rolled_back`) in it.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Creates a channel named `patch.name` (not public, every platform and
    /// device kind allowed, `disable_auto_update: major`, on builtin), applies
    /// the rest of `patch` to it, records the first deploy and bumps the app's
    /// revision. Making a channel public unpublishes every other public
    /// channel that serves one of its platforms (named in
    /// [`ChannelWrite::unpublished`]).
    /// `Invalid` without a name; `NotFound` when the app or the named bundle
    /// does not exist (or is deleted); `Conflict` if the name exists.
    async fn create_channel(
        &self,
        app_id: &str,
        patch: &ChannelPatch,
        stamp: &Stamp,
    ) -> StoreResult<ChannelWrite>;
    /// Applies the fields `patch` sets to the channel `name` (as
    /// [`create_channel`](Self::create_channel) does), records a deploy when
    /// its bundle changed and bumps the app's revision. `NotFound` when the
    /// channel or the named bundle does not exist; `Conflict` when renamed to
    /// a taken name.
    async fn update_channel(
        &self,
        app_id: &str,
        name: &str,
        patch: &ChannelPatch,
        stamp: &Stamp,
    ) -> StoreResult<ChannelWrite>;
    /// The app's channels, ordered by name; empty when there are none or the
    /// app does not exist.
    async fn list_channels(&self, app_id: &str) -> StoreResult<Vec<Channel>>;
    /// The channel `name` of the app; `None` when there is none.
    async fn get_channel(&self, app_id: &str, name: &str) -> StoreResult<Option<Channel>>;
    /// Deletes the channel, its deploy history and the device overrides that
    /// point at it, and bumps the app's revision. `NotFound` when there is no
    /// such channel.
    async fn delete_channel(&self, app_id: &str, name: &str, stamp: &Stamp) -> StoreResult<()>;
    /// The channel's deploys (each time its bundle changed), newest first;
    /// empty when the channel does not exist.
    async fn deploy_history(&self, app_id: &str, name: &str) -> StoreResult<Vec<Deploy>>;
    /// Points the channel back at the newest bundle of its history that is
    /// not its current one and not deleted (builtin counts), recording a
    /// deploy. `NotFound` when there is no such channel; `Conflict` when its
    /// history has no such bundle.
    async fn rollback_channel(
        &self,
        app_id: &str,
        name: &str,
        stamp: &Stamp,
    ) -> StoreResult<ChannelWrite>;
}
