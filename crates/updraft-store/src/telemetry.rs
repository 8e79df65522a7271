//! [`TelemetryStore`]: what devices report, written in batches ([`Write`]:
//! device rows, events, offer counts, rollback blocks), and reading events
//! and offers back.

use async_trait::async_trait;
use updraft_protocol::api::{Event, OfferCount};

use crate::StoreResult;

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

/// Filters for listing events.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub device_id: Option<String>,
    pub action: Option<String>,
    pub limit: i64,
}

/// Telemetry. Each method is one transaction.
#[async_trait]
pub trait TelemetryStore: Send + Sync {
    /// Applies a telemetry batch in one transaction; bumps the revision of
    /// apps whose failure blocks changed. A batch holding a string the
    /// database cannot store (a NUL) is refused whole with `Invalid`; an error
    /// that may pass is `Unavailable` (see [`StoreError::is_transient`]).
    ///
    /// [`StoreError::is_transient`]: crate::StoreError::is_transient
    async fn write_batch(&self, batch: &[Write]) -> StoreResult<()>;
    /// Deletes at most `limit` events that happened before `before` (epoch
    /// ms), oldest first, in one short transaction; returns how many went.
    async fn prune_events(&self, before: i64, limit: i64) -> StoreResult<u64>;
    async fn list_events(&self, app_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>>;
    /// Update offers per bundle and day, newest day first.
    async fn list_offers(&self, app_id: &str) -> StoreResult<Vec<OfferCount>>;
}
