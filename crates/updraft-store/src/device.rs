//! [`DeviceStore`]: devices as admins see them, their overrides, pins and
//! rollback blocks, and a device's own channel choice ([`SelfAssign`]).
//! Device rows themselves are written by telemetry batches
//! ([`TelemetryStore::write_batch`](crate::TelemetryStore::write_batch)).

use async_trait::async_trait;
use updraft_protocol::api::{Device, Page, SetOverride};

use crate::{Stamp, StoreResult};

/// Filters for listing devices.
#[derive(Debug, Clone, Default)]
pub struct DeviceQuery {
    /// Matches a prefix of the device id or of the custom id, case-insensitively.
    pub search: Option<String>,
    /// Device id to continue after.
    pub cursor: Option<String>,
    /// Most devices per page, clamped to 1..=1000.
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

/// Devices. Each method is one transaction; each write appends its change
/// in it: `device.override_set`, `device.override_removed`,
/// `device.blocks_cleared` (app-wide), `device.self_assigned` and
/// `device.self_unassigned` (device-scoped: nodes apply them in place).
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// One page of the app's devices that match `query`, ordered by device id,
    /// with the bundles each rolled back from; `next_cursor` is set when more
    /// follow. Only devices that checked in are listed. An empty page when
    /// nothing matches or the app does not exist.
    async fn list_devices(&self, app_id: &str, query: &DeviceQuery) -> StoreResult<Page<Device>>;
    /// The device as last seen, with its override and rollback blocks. A
    /// device that never checked in but has an override is returned with
    /// only that; `None` when there is neither.
    async fn get_device(&self, app_id: &str, device_id: &str) -> StoreResult<Option<Device>>;
    /// Puts a device on a channel or pins it to a bundle (exactly one of the
    /// two, else `Invalid`), replacing any override, the device's own channel
    /// choice included; bumps the app's revision. The device need not have
    /// checked in. `NotFound` when the app, the channel or the live bundle
    /// does not exist.
    async fn set_override(
        &self,
        app_id: &str,
        device_id: &str,
        o: &SetOverride,
        stamp: &Stamp,
    ) -> StoreResult<()>;
    /// Removes the device's override, pin or own channel choice and bumps the
    /// app's revision; returns whether one existed.
    async fn remove_override(
        &self,
        app_id: &str,
        device_id: &str,
        stamp: &Stamp,
    ) -> StoreResult<bool>;
    /// Clears the device's rollback blocks (of one bundle version, or all);
    /// returns how many were cleared (0 when there were none) and bumps the
    /// app's revision. The device may be offered them again. `NotFound` when
    /// the app does not exist.
    async fn clear_failures(
        &self,
        app_id: &str,
        device_id: &str,
        version: Option<&str>,
        stamp: &Stamp,
    ) -> StoreResult<u64>;
    /// A device puts itself on `channel` (`None`: removes its own choice), as
    /// plugins before 7.34 do through `/channel_self`. An override or pin set
    /// by an admin is never replaced or removed (`AdminOverride`); a new
    /// self-assignment is refused once the app has `cap` of them (`Full`).
    /// Neither making nor removing one bumps the app's revision (a flood of
    /// them must not reload every node's snapshot): the change is device-scoped.
    /// `NotFound` when the app or the channel does not exist.
    async fn self_assign(
        &self,
        app_id: &str,
        device_id: &str,
        channel: Option<&str>,
        cap: i64,
        stamp: &Stamp,
    ) -> StoreResult<SelfAssign>;
}
