//! Devices (`/api/v1/apps/{app_id}/devices`): a device's last known state,
//! overrides and pins, rollback blocks, and what devices report: stats events
//! and offer counts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an admin forced on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeviceOverride {
    /// Put on a channel (overrides `defaultChannel` and the public channel).
    Channel {
        /// The channel's name.
        channel: String,
    },
    /// Pinned to one bundle whatever the channels say.
    Bundle {
        /// The bundle's version name.
        version: String,
    },
}

/// The last known state of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Device {
    /// The app.
    pub app_id: String,
    /// The device's id, a lower-case UUID.
    pub device_id: String,
    /// The `custom_id` it last sent, when the app accepts them.
    pub custom_id: Option<String>,
    /// The `platform` it last sent.
    pub platform: Option<String>,
    /// The `plugin_version` it last sent.
    pub plugin_version: Option<String>,
    /// The bundle it last reported running (`version_name`).
    pub version_name: Option<String>,
    /// Its native version, as last sent (`version_build`).
    pub version_build: Option<String>,
    /// Its native build number, as last sent (`version_code`).
    pub version_code: Option<String>,
    /// Its OS version, as last sent (`version_os`).
    pub version_os: Option<String>,
    /// Whether it last reported a release build.
    pub is_prod: Option<bool>,
    /// Whether it last reported an emulator.
    pub is_emulator: Option<bool>,
    /// The `defaultChannel` it last sent.
    pub default_channel: Option<String>,
    /// The `key_id` it last sent.
    pub key_id: Option<String>,
    /// Epoch milliseconds of the last request from this device.
    pub last_seen: Option<i64>,
    /// What an admin forced on it, if anything.
    #[serde(rename = "override")]
    pub device_override: Option<DeviceOverride>,
    /// Bundles this device rolled back from (`update_fail`); not offered again.
    #[serde(default)]
    pub failed_bundles: Vec<String>,
}

/// `PUT /api/v1/apps/{app_id}/devices/{device_id}/override`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetOverride {
    /// The channel to put the device on.
    #[serde(default)]
    pub channel: Option<String>,
    /// The bundle version to pin the device to.
    #[serde(default)]
    pub bundle: Option<String>,
}

/// Query of `GET /api/v1/apps/{app_id}/devices`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeviceListQuery {
    /// A prefix of the device id or custom id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// Reply to clearing a device's rollback blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlocksCleared {
    /// How many blocks were removed.
    pub cleared: u64,
}

/// Query of `GET /api/v1/apps/{app_id}/events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventListQuery {
    /// Only this device's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Only events with this action (such as `set`, `update_fail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// At most this many events (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// How many update offers of a bundle the server made on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferCount {
    /// The bundle offered.
    pub version: String,
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    /// How many offers that day.
    pub count: i64,
}

/// Query of `GET /api/v1/apps/{app_id}/checks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChecksQuery {
    /// Start of the window, epoch ms (default: 24 hours before `until`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// End of the window, epoch ms (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// Update checks in one hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HourCount {
    /// The hour's start, epoch ms.
    pub at: i64,
    /// `POST /updates` requests answered for the app in that hour.
    pub checks: i64,
}

/// `GET /api/v1/apps/{app_id}/checks`: update checks per hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckCounts {
    /// Window start, epoch ms (rounded down to its hour).
    pub since: i64,
    /// Window end, epoch ms.
    pub until: i64,
    /// Every hour of the window, oldest first (0 for an hour without a check).
    pub hours: Vec<HourCount>,
}

/// One recorded stats event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Server-assigned id; higher is later.
    pub id: i64,
    /// The device that sent it.
    pub device_id: String,
    /// The stats action (`set`, `update_fail`, ...; unknown actions are kept).
    pub action: String,
    /// The bundle the event is about.
    pub version_name: String,
    /// The bundle the device ran before, when the event says.
    pub old_version_name: Option<String>,
    /// Details the device attached.
    pub metadata: Option<Value>,
    /// Epoch milliseconds when it happened: the device's `timestamp` when
    /// plausible, else when the server received it.
    pub created_at: i64,
}
