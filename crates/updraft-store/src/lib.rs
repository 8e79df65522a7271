//! The `Store` trait: every persistent operation Updraft needs, each one whole
//! (its own transaction), with the models it reads and writes and `StoreError`.
//!
//! One crate per database implements it (`updraft-store-sqlite`,
//! `updraft-store-postgres`); `updraft-store-tests` holds the conformance suite
//! both must pass.

use async_trait::async_trait;
use updraft_protocol::api::{
    ApiKey, App, AppPatch, Bundle, BundleMeta, BundleStorage, Channel, ChannelPatch, ChannelWrite,
    Deploy, Device, Event, ManifestEntry, NewApiKey, NewApp, OfferCount, Page, SetOverride,
};

/// What went wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation conflicts with what exists (duplicate, still in use).
    #[error("{0}")]
    Conflict(String),
    /// The input breaks a rule the store enforces.
    #[error("{0}")]
    Invalid(String),
    /// The database failed; details are for the log, not the user.
    #[error("database error: {0}")]
    Backend(String),
    /// The database could not be reached or did not finish the work for a
    /// reason that passes (connection lost, busy or locked, serialization
    /// failure, deadlock): the same operation may succeed if retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl Write {
    /// A short name of the kind of write, for logs and counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Write::Seen(_) => "device",
            Write::Event(_) => "event",
            Write::Offered { .. } => "offer_count",
            Write::Failed { .. } => "rollback_block",
        }
    }
}

impl StoreError {
    /// Whether retrying the same operation later can succeed. Every other
    /// error is permanent for that input: retrying it changes nothing.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A bundle to insert.
#[derive(Debug, Clone)]
pub struct NewBundle {
    pub app_id: String,
    pub version: String,
    pub checksum: String,
    pub session_key: String,
    pub key_id: Option<String>,
    /// The Electron updater's checksum of an encrypted bundle, when known.
    pub electron_checksum: Option<String>,
    pub storage: BundleStorage,
    pub blob_sha256: Option<String>,
    pub size: Option<i64>,
    pub external_url: Option<String>,
    pub manifest: Vec<ManifestEntry>,
    pub meta: BundleMeta,
}

/// How often a device row whose fields did not change has its `last_seen`
/// rewritten (5 minutes). Stores skip identical rows younger than this, and the
/// server's filter skips queueing them for as long again, so a stored
/// `last_seen` is at most 10 minutes behind the device's latest check.
pub const LAST_SEEN_REFRESH_MS: i64 = 300_000;

/// What a device told us about itself on its last request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceSeen {
    pub app_id: String,
    pub device_id: String,
    pub custom_id: Option<String>,
    pub platform: Option<String>,
    pub plugin_version: Option<String>,
    /// The bundle the device runs; `None` keeps the stored one (an event that
    /// is not about the running bundle, such as `download_complete`).
    pub version_name: Option<String>,
    pub version_build: Option<String>,
    pub version_code: Option<String>,
    pub version_os: Option<String>,
    pub is_prod: Option<bool>,
    pub is_emulator: Option<bool>,
    pub default_channel: Option<String>,
    pub key_id: Option<String>,
    pub seen_at: i64,
}

/// One stats event to record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewEvent {
    pub app_id: String,
    pub device_id: String,
    pub action: String,
    pub version_name: String,
    pub old_version_name: Option<String>,
    /// JSON object text.
    pub metadata: Option<String>,
    /// When it happened (epoch ms): the device's own timestamp when it is
    /// plausible, else the time it arrived.
    pub created_at: i64,
}

/// One queued telemetry write; a batch is applied in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Upsert the device's last known state.
    Seen(DeviceSeen),
    /// Append an event.
    Event(NewEvent),
    /// The server offered `version` to devices `count` times: counted per app,
    /// bundle and day.
    Offered {
        app_id: String,
        version: String,
        /// Days since the Unix epoch.
        day: i64,
        count: i64,
    },
    /// The device rolled back `version` (`update_fail`): block it for that device.
    Failed {
        app_id: String,
        device_id: String,
        version: String,
        at: i64,
    },
}

/// Everything the update decision needs for one app, loaded at once.
#[derive(Debug, Clone)]
pub struct AppSnapshotData {
    pub app: App,
    pub revision: i64,
    /// Ordered by `name, id`.
    pub channels: Vec<Channel>,
    /// Every bundle that is not deleted.
    pub bundles: Vec<Bundle>,
    /// `(device_id, channel_id, bundle_id)`: exactly one of the two ids is set.
    pub overrides: Vec<(String, Option<i64>, Option<i64>)>,
    /// `(device_id, bundle_id)` rollbacks.
    pub failures: Vec<(String, i64)>,
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

/// A stored API key with its secret's hash, for authentication.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub key: ApiKey,
    pub hash: String,
}

/// Filters for listing devices.
#[derive(Debug, Clone, Default)]
pub struct DeviceQuery {
    /// Matches a prefix of the device id or of the custom id, case-insensitively.
    pub search: Option<String>,
    /// Device id to continue after.
    pub cursor: Option<String>,
    pub limit: i64,
}

/// Filters for listing events.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub device_id: Option<String>,
    pub action: Option<String>,
    pub limit: i64,
}

/// Every persistent operation of Updraft. Each method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap readiness probe.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_app(&self, app: &NewApp, now: i64) -> StoreResult<App>;
    async fn list_apps(&self) -> StoreResult<Vec<App>>;
    async fn get_app(&self, app_id: &str) -> StoreResult<Option<App>>;
    async fn update_app(&self, app_id: &str, patch: &AppPatch) -> StoreResult<App>;
    /// Deletes the app and everything under it.
    async fn delete_app(&self, app_id: &str) -> StoreResult<()>;

    /// Fails with `Conflict` when the version name was ever used in this app.
    async fn create_bundle(&self, bundle: &NewBundle, now: i64) -> StoreResult<Bundle>;
    async fn list_bundles(&self, app_id: &str) -> StoreResult<Vec<Bundle>>;
    async fn get_bundle(&self, app_id: &str, version: &str) -> StoreResult<Option<Bundle>>;
    async fn update_bundle_meta(
        &self,
        app_id: &str,
        version: &str,
        meta: &BundleMeta,
    ) -> StoreResult<Bundle>;
    /// Soft delete; `Conflict` while a channel or a device pin uses it.
    async fn delete_bundle(&self, app_id: &str, version: &str) -> StoreResult<()>;
    /// Whether a live (not deleted) bundle of any app is stored under this blob hash;
    /// when none is, the file can be removed.
    async fn blob_in_use(&self, sha256: &str) -> StoreResult<bool>;

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

    async fn create_api_key(&self, key: &NewApiKey, hash: &str, now: i64) -> StoreResult<ApiKey>;
    async fn find_api_key(&self, hash: &str) -> StoreResult<Option<StoredKey>>;
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    /// Deletes key `id`, unless it is the last unscoped `all` key without an
    /// expiry (`Conflict`): a permanent admin must always remain. Two
    /// concurrent deletes of the last two such keys cannot both succeed.
    /// `now` is the time of the request.
    async fn delete_api_key(&self, id: i64, now: i64) -> StoreResult<()>;
    async fn count_api_keys(&self) -> StoreResult<i64>;

    /// Applies a telemetry batch in one transaction; bumps the revision of
    /// apps whose failure blocks changed. A batch holding a string the
    /// database cannot store (a NUL) is refused whole with `Invalid`; an error
    /// that may pass is `Unavailable` (see [`StoreError::is_transient`]).
    async fn write_batch(&self, batch: &[Write]) -> StoreResult<()>;
    /// Deletes at most `limit` events that happened before `before` (epoch
    /// ms), oldest first, in one short transaction; returns how many went.
    async fn prune_events(&self, before: i64, limit: i64) -> StoreResult<u64>;
    async fn list_events(&self, app_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>>;
    /// Update offers per bundle and day, newest day first.
    async fn list_offers(&self, app_id: &str) -> StoreResult<Vec<OfferCount>>;

    /// Loads what the hot path needs for one app; `None` if the app does not exist.
    async fn load_snapshot(&self, app_id: &str) -> StoreResult<Option<AppSnapshotData>>;
    /// `(app_id, revision)` of every app, for cache invalidation across nodes.
    async fn app_revisions(&self) -> StoreResult<Vec<(String, i64)>>;
}
