//! Management API DTOs (`/api/v1`). The store returns these same types, so a
//! row and its JSON shape never drift apart.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::device::ManifestEntry;

/// An app: one Capacitor application id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct App {
    pub app_id: String,
    pub name: String,
    /// Send bundle `link`/`comment` to devices.
    pub expose_metadata: bool,
    /// Accept `custom_id` from devices.
    pub allow_device_custom_id: bool,
    /// The public key the app ships (`publicKey`, PKCS#1 PEM), when set: every
    /// encrypted bundle is checked against it, and Capgo's Electron updater is
    /// served a checksum made with it.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// `POST /api/v1/apps`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApp {
    /// Reverse-domain form: at least two dot-separated parts, letters and
    /// digits (and `_`/`-` after the first part).
    #[schema(
        pattern = r"^[A-Za-z0-9]+(\.[A-Za-z0-9_-]+)+$",
        example = "com.example.app"
    )]
    pub app_id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `PATCH /api/v1/apps/{app_id}`: only the fields given change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub expose_metadata: Option<bool>,
    #[serde(default)]
    pub allow_device_custom_id: Option<bool>,
    /// The app's public key (PKCS#1 PEM); `""` removes it.
    #[serde(default)]
    pub public_key: Option<String>,
}

/// Where a bundle's zip lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BundleStorage {
    /// Uploaded to this server's blob storage, served content-addressed.
    Stored,
    /// Hosted by the user; `external_url` is handed to devices verbatim.
    External,
}

/// A bundle: one uploaded web build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bundle {
    pub id: i64,
    pub app_id: String,
    pub version: String,
    /// Lowercase hex SHA-256 of the plaintext zip, or the 512-hex RSA-encrypted form.
    pub checksum: String,
    /// `base64(iv):base64(rsa(key))`, empty when not encrypted.
    pub session_key: String,
    /// First 20 characters of the public key's PEM body, when encrypted.
    pub key_id: Option<String>,
    /// For an encrypted bundle, the checksum Capgo's Electron updater verifies
    /// (`base64(AES(key, iv, hex(sha256(encrypted zip))))`); `None` when the
    /// server could not make it (no public key, or the encrypted zip's hash unknown).
    #[serde(default)]
    pub electron_checksum: Option<String>,
    pub storage: BundleStorage,
    /// SHA-256 of the stored bytes (what the server serves); `None` for external bundles.
    pub blob_sha256: Option<String>,
    pub size: Option<i64>,
    pub external_url: Option<String>,
    /// Per-file manifest (delta updates), for bundles registered with one.
    #[serde(default)]
    pub manifest: Vec<ManifestEntry>,
    pub min_update_version: Option<String>,
    #[serde(default)]
    pub native_packages: Value,
    pub link: Option<String>,
    pub comment: Option<String>,
    pub deleted: bool,
    pub created_at: i64,
}

/// Metadata sent with an upload (query string) or with an external registration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleMeta {
    #[serde(default)]
    pub min_update_version: Option<String>,
    #[serde(default)]
    pub native_packages: Option<Value>,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST /api/v1/apps/{app_id}/bundles/external`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExternalBundle {
    /// A semver version (such as 1.2.3 or 1.2.3-beta.1; no leading `v`), never used before in the app.
    #[schema(
        pattern = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$",
        example = "1.0.1"
    )]
    pub version: String,
    /// The zip's URL; may be omitted when `manifest` is given.
    #[serde(default)]
    pub external_url: Option<String>,
    /// Per-file manifest for delta updates: every file of the bundle with its
    /// SHA-256 and where to download it.
    #[serde(default)]
    pub manifest: Vec<ManifestEntry>,
    pub checksum: String,
    #[serde(default)]
    pub session_key: Option<String>,
    #[serde(default)]
    pub key_id: Option<String>,
    /// The app's public key (PKCS#1 PEM), for an encrypted bundle: the server
    /// checks that the session key and checksum open with it and, with
    /// `encrypted_sha256`, makes the checksum Capgo's Electron updater verifies.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Hex SHA-256 of the encrypted zip exactly as hosted at `external_url`.
    #[serde(default)]
    pub encrypted_sha256: Option<String>,
    #[serde(flatten)]
    pub meta: BundleMeta,
}

/// Version policy of a channel against the device's native version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisableAutoUpdate {
    Major,
    Minor,
    Patch,
    VersionNumber,
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
    pub id: i64,
    pub app_id: String,
    pub name: String,
    /// The bundle id; `None` means the builtin bundle.
    pub bundle_id: Option<i64>,
    /// The bundle's version name, or `builtin`.
    pub bundle_version: String,
    pub public: bool,
    pub ios: bool,
    pub android: bool,
    pub electron: bool,
    pub allow_device_self_set: bool,
    pub allow_emulator: bool,
    pub allow_device: bool,
    pub allow_dev: bool,
    pub allow_prod: bool,
    pub disable_auto_update: DisableAutoUpdate,
    pub disable_auto_update_under_native: bool,
    pub created_at: i64,
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
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub bundle: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electron: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_device_self_set: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_emulator: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_device: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_dev: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_prod: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_auto_update: Option<DisableAutoUpdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_auto_update_under_native: Option<bool>,
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
    pub channel: Channel,
    #[serde(default)]
    pub unpublished: Vec<String>,
}

/// One deploy of a bundle to a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deploy {
    pub id: i64,
    pub channel: String,
    pub bundle_id: Option<i64>,
    pub bundle_version: String,
    pub deployed_at: i64,
}

/// What an admin forced on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeviceOverride {
    /// Put on a channel (overrides `defaultChannel` and the public channel).
    Channel { channel: String },
    /// Pinned to one bundle whatever the channels say.
    Bundle { version: String },
}

/// The last known state of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Device {
    pub app_id: String,
    pub device_id: String,
    pub custom_id: Option<String>,
    pub platform: Option<String>,
    pub plugin_version: Option<String>,
    pub version_name: Option<String>,
    pub version_build: Option<String>,
    pub version_code: Option<String>,
    pub version_os: Option<String>,
    pub is_prod: Option<bool>,
    pub is_emulator: Option<bool>,
    pub default_channel: Option<String>,
    pub key_id: Option<String>,
    /// Epoch milliseconds of the last request from this device.
    pub last_seen: Option<i64>,
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
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub bundle: Option<String>,
}

/// What an API key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    /// Read everything in scope.
    Read,
    /// Read, and upload bundles.
    Upload,
    /// Read, upload, and change apps, channels and devices.
    Write,
    /// Everything, including managing API keys.
    All,
}

impl KeyMode {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Upload => "upload",
            Self::Write => "write",
            Self::All => "all",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "read" => Self::Read,
            "upload" => Self::Upload,
            "write" => Self::Write,
            "all" => Self::All,
            _ => return None,
        })
    }
}

/// An API key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub mode: KeyMode,
    /// Allow-list of app ids; empty means every app.
    pub apps: Vec<String>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// `POST /api/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub name: String,
    pub mode: KeyMode,
    #[serde(default)]
    pub apps: Vec<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// Reply to key creation: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret: String,
}

/// A page of results.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// How many update offers of a bundle the server made on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferCount {
    pub version: String,
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    pub count: i64,
}

/// One recorded stats event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    pub device_id: String,
    pub action: String,
    pub version_name: String,
    pub old_version_name: Option<String>,
    pub metadata: Option<Value>,
    pub created_at: i64,
}

/// Reply to a bundle upload: the bundle, and the channel pointed at it when
/// the upload named one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadedBundle {
    pub bundle: Bundle,
    pub channel: Option<Channel>,
}

/// Reply to clearing a device's rollback blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlocksCleared {
    /// How many blocks were removed.
    pub cleared: u64,
}

/// Reply to `explain`: what the server would answer the device, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Explanation {
    pub outcome: ExplainOutcome,
    /// The channel the device resolved to, if any.
    pub channel: Option<String>,
    /// Every rule evaluated, in order.
    pub trace: Vec<String>,
    /// The JSON body `POST /updates` would send this device, exactly (bundle
    /// URLs use the server's public URL as this request sees it).
    #[schema(value_type = Object)]
    pub reply: Value,
}

/// The decision `explain` reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ExplainOutcome {
    /// The device would be offered this bundle.
    Update { version: String },
    /// The device would be sent back to its builtin bundle.
    RevertToBuiltin,
    /// No update, with the soft error code the device would get.
    NoUpdate {
        error: String,
        message: String,
        kind: crate::device::ReplyKind,
    },
}
