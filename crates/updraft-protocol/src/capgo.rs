//! Replies of Capgo's public `/device` API (reference/capgo-backend.md §4.4),
//! which Updraft also answers for backends that already call it. Field names
//! are Capgo's, and every field is present (`null` when unknown).

use serde::{Deserialize, Serialize};

use crate::api::{Device, DeviceOverride};

/// One device as Capgo's `GET /device` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapgoDevice {
    /// Epoch milliseconds of the device's last request.
    pub updated_at: Option<i64>,
    /// The plugin's device id (a UUID).
    pub device_id: String,
    /// The id the app set with `setCustomId`, if any.
    pub custom_id: Option<String>,
    /// Whether the app is a production build, as the plugin last reported.
    pub is_prod: Option<bool>,
    /// Whether the device is an emulator or simulator, as last reported.
    pub is_emulator: Option<bool>,
    /// The bundle the device last said it runs (`builtin` for the shipped one).
    pub version_name: Option<String>,
    /// The app the device belongs to.
    pub app_id: String,
    /// `ios`, `android` or `electron`.
    pub platform: Option<String>,
    /// The updater plugin's version.
    pub plugin_version: Option<String>,
    /// The operating system's version.
    pub os_version: Option<String>,
    /// The native app's version (`version_build` in the plugin's requests).
    pub version_build: Option<String>,
    /// The id of the public key the app carries, when it has one.
    pub key_id: Option<String>,
    /// The channel an admin put the device on; `null` for none (or a pin).
    pub channel: Option<String>,
}

impl From<Device> for CapgoDevice {
    fn from(d: Device) -> Self {
        let channel = match d.device_override {
            Some(DeviceOverride::Channel { channel }) => Some(channel),
            _ => None,
        };
        Self {
            updated_at: d.last_seen,
            device_id: d.device_id,
            custom_id: d.custom_id,
            is_prod: d.is_prod,
            is_emulator: d.is_emulator,
            version_name: d.version_name,
            app_id: d.app_id,
            platform: d.platform,
            plugin_version: d.plugin_version,
            os_version: d.version_os,
            version_build: d.version_build,
            key_id: d.key_id,
            channel,
        }
    }
}

/// A page of Capgo's `GET /device` without a `device_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapgoDevicePage {
    /// The devices on this page.
    pub data: Vec<CapgoDevice>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[serde(rename = "nextCursor")]
    pub next_cursor: Option<String>,
    #[serde(rename = "hasMore")]
    /// Whether another page follows.
    pub has_more: bool,
}
