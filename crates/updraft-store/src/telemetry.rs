//! [`TelemetryStore`]: what devices report, written in batches ([`Write`]:
//! device rows, events, offer counts, rollback blocks, release signals), and
//! reading events and offers back.

use async_trait::async_trait;
use updraft_protocol::api::{Event, OfferCount};

use crate::{ReleaseSignal, StoreResult};

/// How often a device row whose fields did not change has its `last_seen`
/// rewritten (5 minutes). Stores skip identical rows younger than this, and the
/// server's filter skips queueing them for as long again, so a stored
/// `last_seen` is at most 10 minutes behind the device's latest check.
pub const LAST_SEEN_REFRESH_MS: i64 = 300_000;

/// What a device told us about itself on its last request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceSeen {
    /// The app; rows of an app that does not exist (any more) are dropped.
    pub app_id: String,
    /// The device's id.
    pub device_id: String,
    /// The `custom_id` it sent; `None` or empty keeps the stored one.
    pub custom_id: Option<String>,
    /// The `platform` it sent.
    pub platform: Option<String>,
    /// The `plugin_version` it sent.
    pub plugin_version: Option<String>,
    /// The bundle the device runs; `None` keeps the stored one (an event that
    /// is not about the running bundle, such as `download_complete`).
    pub version_name: Option<String>,
    /// Its native version (`version_build`).
    pub version_build: Option<String>,
    /// Its native build number (`version_code`).
    pub version_code: Option<String>,
    /// Its OS version (`version_os`).
    pub version_os: Option<String>,
    /// Whether it reported a release build.
    pub is_prod: Option<bool>,
    /// Whether it reported an emulator.
    pub is_emulator: Option<bool>,
    /// The `defaultChannel` it sent.
    pub default_channel: Option<String>,
    /// The `key_id` it sent.
    pub key_id: Option<String>,
    /// When (epoch ms); a row older than the stored one never replaces it.
    pub seen_at: i64,
}

/// One stats event to record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewEvent {
    /// The app; events of an app that does not exist (any more) are dropped.
    pub app_id: String,
    /// The device that sent it.
    pub device_id: String,
    /// The plugin's action (`set`, `update_fail`, …), stored as sent.
    pub action: String,
    /// The bundle the event is about.
    pub version_name: String,
    /// The bundle the device ran before, when it said.
    pub old_version_name: Option<String>,
    /// JSON object text.
    pub metadata: Option<String>,
    /// When it happened (epoch ms): the device's own timestamp when it is
    /// plausible, else the time it arrived.
    pub created_at: i64,
}

/// The hour an update check at `ms` (epoch milliseconds) is counted in:
/// hours since the epoch, rounded down (also before 1970).
pub fn check_hour(ms: i64) -> i64 {
    ms.div_euclid(3_600_000)
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
        /// The app.
        app_id: String,
        /// The bundle offered.
        version: String,
        /// Days since the Unix epoch.
        day: i64,
        /// How many offers; added to the stored count.
        count: i64,
    },
    /// The server answered `count` update checks of `app_id` in `hour`
    /// ([`check_hour`]): counted per app and hour.
    Checked {
        /// The app.
        app_id: String,
        /// Hours since the Unix epoch.
        hour: i64,
        /// How many checks; added to the stored count.
        count: i64,
    },
    /// The device rolled back `version` (`update_fail`): block it for that device.
    Failed {
        /// The app.
        app_id: String,
        /// The device that rolled back.
        device_id: String,
        /// The bundle it rolled back from; ignored when the app has none by this name.
        version: String,
        /// When (epoch ms).
        at: i64,
    },
    /// A device's release signal for a bundle: kept as the first time of
    /// that signal in the device's release row (see [`ReleaseSignal`]).
    Release(ReleaseSignal),
}

impl Write {
    /// A short name of the kind of write, for logs and counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Write::Seen(_) => "device",
            Write::Event(_) => "event",
            Write::Offered { .. } => "offer_count",
            Write::Checked { .. } => "check_count",
            Write::Failed { .. } => "rollback_block",
            Write::Release(_) => "release",
        }
    }

    /// About how much memory this write holds while it is queued: its own
    /// size and its strings' allocations (what a queue's byte budget counts).
    /// Capacities, not lengths: a string built by growing may hold twice its
    /// length. A write is never changed while queued, so this is the same
    /// number when it is queued and when it is written.
    pub fn approx_bytes(&self) -> usize {
        fn opt(s: &Option<String>) -> usize {
            s.as_ref().map_or(0, String::capacity)
        }
        let heap = match self {
            Write::Seen(d) => {
                d.app_id.capacity()
                    + d.device_id.capacity()
                    + opt(&d.custom_id)
                    + opt(&d.platform)
                    + opt(&d.plugin_version)
                    + opt(&d.version_name)
                    + opt(&d.version_build)
                    + opt(&d.version_code)
                    + opt(&d.version_os)
                    + opt(&d.default_channel)
                    + opt(&d.key_id)
            }
            Write::Event(e) => {
                e.app_id.capacity()
                    + e.device_id.capacity()
                    + e.action.capacity()
                    + e.version_name.capacity()
                    + opt(&e.old_version_name)
                    + opt(&e.metadata)
            }
            Write::Offered {
                app_id, version, ..
            } => app_id.capacity() + version.capacity(),
            Write::Checked { app_id, .. } => app_id.capacity(),
            Write::Failed {
                app_id,
                device_id,
                version,
                ..
            } => app_id.capacity() + device_id.capacity() + version.capacity(),
            Write::Release(r) => {
                r.app_id.capacity() + r.device_id.capacity() + r.version.capacity()
            }
        };
        std::mem::size_of::<Write>() + heap
    }
}

/// Filters for listing events.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only this device's events.
    pub device_id: Option<String>,
    /// Only events with this action.
    pub action: Option<String>,
    /// Most events returned, clamped to 1..=1000.
    pub limit: i64,
}

/// Telemetry. Each method is one transaction.
#[async_trait]
pub trait TelemetryStore: Send + Sync {
    /// Applies a telemetry batch in one transaction; each new rollback block
    /// appends a device-scoped `device.rollback_blocked` change (by the
    /// device, at the block's time) in it. Release signals change no app's
    /// revision and append no change: they are counts, not state. A batch holding a string the
    /// database cannot store (a NUL) is refused whole with `Invalid`; an error
    /// that may pass is `Unavailable` (see [`StoreError::is_transient`]).
    ///
    /// [`StoreError::is_transient`]: crate::StoreError::is_transient
    async fn write_batch(&self, batch: &[Write]) -> StoreResult<()>;
    /// Deletes events that happened before `before` (epoch ms), oldest
    /// first: whole days at once where the database keeps them by day
    /// (PostgreSQL), then at most `limit` more in one short transaction;
    /// returns how many went.
    async fn prune_events(&self, before: i64, limit: i64) -> StoreResult<u64>;
    /// Gets the database ready for the coming days' events (PostgreSQL: a
    /// partition per day, a few days ahead of `now_ms`; nothing on SQLite).
    async fn prepare_events(&self, now_ms: i64) -> StoreResult<()>;
    /// The app's events that match `query`, newest first; empty when none do
    /// or the app does not exist.
    async fn list_events(&self, app_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>>;
    /// Update offers per bundle and day, newest day first (then by version);
    /// empty when there are none.
    async fn list_offers(&self, app_id: &str) -> StoreResult<Vec<OfferCount>>;
    /// Update checks per hour in `[since_hour, until_hour)` (hours since the
    /// epoch), oldest first; hours without a check are left out.
    async fn check_counts(
        &self,
        app_id: &str,
        since_hour: i64,
        until_hour: i64,
    ) -> StoreResult<Vec<(i64, i64)>>;
    /// Deletes at most `limit` hourly check counts of hours before
    /// `before_hour`; how many.
    async fn prune_check_counts(&self, before_hour: i64, limit: i64) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::{NewEvent, Write};

    /// A queue's byte budget counts what a write's strings allocated, which
    /// for a string built by growing can be twice its length.
    #[test]
    fn approx_bytes_counts_each_strings_allocation() {
        let mut metadata = String::with_capacity(32_768);
        metadata.push_str(&"x".repeat(16_385));
        let w = Write::Event(NewEvent {
            app_id: "com.example.app".into(),
            metadata: Some(metadata),
            ..Default::default()
        });
        let bytes = w.approx_bytes();
        assert!(bytes >= 32_768 + 15, "{bytes}");
        assert!(bytes <= 32_768 + 15 + 400, "{bytes}");
    }
}
