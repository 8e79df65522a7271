//! [`DeviceStore`]: devices as admins see them, their overrides, pins and
//! rollback blocks, and a device's own channel choice ([`SelfAssign`]).
//! Device rows themselves are written by telemetry batches
//! ([`TelemetryStore::write_batch`](crate::TelemetryStore::write_batch)).

use async_trait::async_trait;
use updraft_protocol::api::{Device, Page, SetOverride};

use crate::StoreResult;

/// Filters for listing devices.
#[derive(Debug, Clone, Default)]
pub struct DeviceQuery {
    /// Matches a prefix of the device id or of the custom id, case-insensitively.
    pub search: Option<String>,
    /// Device id to continue after.
    pub cursor: Option<String>,
    pub limit: i64,
}

/// What a device's own channel choice came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfAssign {
    /// Stored (or removed).
    Done,
    /// An admin put the device on a channel or pinned it: the admin wins.
    AdminOverride,
    /// The app already has as many self-assigned devices as allowed.
    Full,
}

/// Devices. Each method is one transaction.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn list_devices(&self, app_id: &str, query: &DeviceQuery) -> StoreResult<Page<Device>>;
    async fn get_device(&self, app_id: &str, device_id: &str) -> StoreResult<Option<Device>>;
    /// Puts a device on a channel or pins it to a bundle (exactly one of the two).
    async fn set_override(
        &self,
        app_id: &str,
        device_id: &str,
        o: &SetOverride,
        now: i64,
    ) -> StoreResult<()>;
    /// Returns whether an override existed.
    async fn remove_override(&self, app_id: &str, device_id: &str) -> StoreResult<bool>;
    /// Clears the device's rollback blocks (of one bundle version, or all);
    /// returns how many were cleared. The device may be offered them again.
    async fn clear_failures(
        &self,
        app_id: &str,
        device_id: &str,
        version: Option<&str>,
    ) -> StoreResult<u64>;
    /// Devices' own channel choices made at or after `since` (ms): (app,
    /// device, channel id). Making one does not bump the app's revision (a
    /// flood of them must not reload every node's snapshot); nodes poll this.
    /// Removing one does bump it.
    async fn self_assigned_since(&self, since: i64) -> StoreResult<Vec<(String, String, i64)>>;
    /// Rollback blocks recorded at or after `since` (ms): (app, device, bundle
    /// id). Recording one does not bump the app's revision; nodes poll this.
    async fn failures_since(&self, since: i64) -> StoreResult<Vec<(String, String, i64)>>;
    /// A device puts itself on `channel` (`None`: removes its own choice), as
    /// plugins before 7.34 do through `/channel_self`. An override or pin set
    /// by an admin is never replaced or removed (`AdminOverride`); a new
    /// self-assignment is refused once the app has `cap` of them (`Full`).
    async fn self_assign(
        &self,
        app_id: &str,
        device_id: &str,
        channel: Option<&str>,
        cap: i64,
        now: i64,
    ) -> StoreResult<SelfAssign>;
}
