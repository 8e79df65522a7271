//! Channels (`/api/v1/apps/{app_id}/channels`): a channel, its version policy,
//! its patch, the reply to a write and its deploy history.

use serde::{Deserialize, Serialize};

use super::Target;

/// Version policy of a channel against the device's native version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisableAutoUpdate {
    /// Refuse bundles whose major version is above the native version's.
    Major,
    /// Refuse bundles outside the native version's major.minor.
    Minor,
    /// Refuse bundles outside the native version's major.minor.patch.
    Patch,
    /// Refuse bundles whose `min_update_version` is above the native version.
    VersionNumber,
    /// No version policy.
    None,
}

impl DisableAutoUpdate {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Patch => "patch",
            Self::VersionNumber => "version_number",
            Self::None => "none",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "major" => Self::Major,
            "minor" => Self::Minor,
            "patch" => Self::Patch,
            "version_number" => Self::VersionNumber,
            "none" => Self::None,
            _ => return None,
        })
    }
}

/// A channel: a named pointer to a bundle, with the rules of who may get it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Channel {
    /// Server-assigned id.
    pub id: i64,
    /// The app the channel belongs to.
    pub app_id: String,
    /// The name devices ask for and the CLI uses; unique within the app.
    pub name: String,
    /// The bundle id; `None` means the builtin bundle.
    pub bundle_id: Option<i64>,
    /// The bundle's version name, or `builtin`.
    pub bundle_version: String,
    /// Default channel of the platforms it serves: devices without an override
    /// or an eligible `defaultChannel` get it. At most one per platform.
    pub public: bool,
    /// Serves iOS devices.
    pub ios: bool,
    /// Serves Android devices.
    pub android: bool,
    /// Serves Capgo's Electron updater.
    pub electron: bool,
    /// Devices may put themselves on this channel (`/channel_self`).
    pub allow_device_self_set: bool,
    /// Serves emulators and simulators (`is_emulator: true`).
    pub allow_emulator: bool,
    /// Serves physical devices (`is_emulator: false`).
    pub allow_device: bool,
    /// Serves dev builds (`is_prod: false`).
    pub allow_dev: bool,
    /// Serves release builds (`is_prod: true`).
    pub allow_prod: bool,
    /// Version policy: which bundles a device may get, compared with its native version.
    pub disable_auto_update: DisableAutoUpdate,
    /// Refuse bundles whose version is below the device's native version.
    pub disable_auto_update_under_native: bool,
    /// Only devices matching this rule are served by the channel through
    /// their `defaultChannel` or as a public channel (an admin's override
    /// still puts any device on it); absent: every device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// The current deploy is critical: update replies say so, and clients
    /// that can act on it apply the bundle at once instead of at the next
    /// start. The next deploy without `critical` clears it.
    #[serde(default)]
    pub critical: bool,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds of the last change.
    pub updated_at: i64,
}

/// Create or update a channel: every field optional, only given fields change.
/// `bundle` takes a version name; `""`, `builtin` or `null` mean the builtin bundle.
/// Fields left `None` are not serialised, so a client never sends `"bundle": null`
/// (which would mean "builtin") by accident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    /// Required when creating a channel; not blank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"\S")]
    pub name: Option<String>,
    /// The bundle to serve, by version name; `null`, `""` or `builtin` mean
    /// the builtin bundle; absent leaves it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub bundle: Option<Option<String>>,
    /// New value of [`Channel::public`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// New value of [`Channel::ios`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios: Option<bool>,
    /// New value of [`Channel::android`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<bool>,
    /// New value of [`Channel::electron`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electron: Option<bool>,
    /// New value of [`Channel::allow_device_self_set`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_device_self_set: Option<bool>,
    /// New value of [`Channel::allow_emulator`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_emulator: Option<bool>,
    /// New value of [`Channel::allow_device`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_device: Option<bool>,
    /// New value of [`Channel::allow_dev`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_dev: Option<bool>,
    /// New value of [`Channel::allow_prod`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_prod: Option<bool>,
    /// New value of [`Channel::disable_auto_update`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_auto_update: Option<DisableAutoUpdate>,
    /// New value of [`Channel::disable_auto_update_under_native`]; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_auto_update_under_native: Option<bool>,
    /// New value of [`Channel::target`]; `null` removes it, absent leaves it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<Option<Target>>,
    /// With a new `bundle`: a critical deploy. It takes the channel even
    /// while a rollout is active (the rollout is reverted, superseded), and
    /// devices are told to apply the bundle at once. A new `bundle` without
    /// it is an ordinary deploy; without a new `bundle`, it marks or unmarks
    /// the current deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<bool>,
}

fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Reply to a channel write: the channel, and any channel that lost `public`
/// on a platform because this one took it (at most one public channel per platform).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelWrite {
    /// The channel as it is after the write.
    pub channel: Channel,
    /// Channels that stopped being public on a platform because this one became
    /// public there.
    #[serde(default)]
    pub unpublished: Vec<String>,
}

/// One deploy of a bundle to a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deploy {
    /// Server-assigned id; higher is later.
    pub id: i64,
    /// The channel's name.
    pub channel: String,
    /// The bundle deployed; `null` for the builtin bundle.
    pub bundle_id: Option<i64>,
    /// Its version name, or `builtin`.
    pub bundle_version: String,
    /// A critical deploy.
    #[serde(default)]
    pub critical: bool,
    /// Epoch milliseconds.
    pub deployed_at: i64,
}
