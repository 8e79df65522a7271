//! Bundles (`/api/v1/apps/{app_id}/bundles`): a bundle, where its zip lives,
//! its metadata, an external registration and the reply to an upload.

use serde::{Deserialize, Serialize};

use super::{Channel, ManifestEntry};
use serde_json::Value;

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
    /// Server-assigned id; channels and deploys refer to the bundle by it.
    pub id: i64,
    /// The app the bundle belongs to.
    pub app_id: String,
    /// Version name (semver), unique within the app for good, even after deletion;
    /// what devices report as `version_name` once they run it.
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
    /// Where the zip lives, which decides the URL devices are given.
    pub storage: BundleStorage,
    /// SHA-256 of the stored bytes (what the server serves); `None` for external bundles.
    pub blob_sha256: Option<String>,
    /// Size of the stored zip in bytes; `null` for an external bundle.
    pub size: Option<i64>,
    /// The user-hosted zip URL devices download; `null` for a stored bundle.
    pub external_url: Option<String>,
    /// Per-file manifest (delta updates), for bundles registered with one.
    #[serde(default)]
    pub manifest: Vec<ManifestEntry>,
    /// The lowest native version (`version_build`) the bundle runs on; read by
    /// channels whose policy is `version_number`.
    pub min_update_version: Option<String>,
    /// The native packages the build was made with, as the uploader sent them
    /// (`null` when not given); no rule reads it.
    #[serde(default)]
    pub native_packages: Value,
    /// A link about the bundle (release notes), sent to devices when the app
    /// exposes metadata.
    pub link: Option<String>,
    /// A note about the bundle, sent to devices when the app exposes metadata.
    pub comment: Option<String>,
    /// Deleted: no longer offered or served; its version stays taken.
    pub deleted: bool,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// When the bundle was revoked (epoch ms): never offered again, and no
    /// channel, rollout or pin may take it; `null` while it is not.
    #[serde(default)]
    pub revoked_at: Option<i64>,
    /// Why it was revoked, as given.
    #[serde(default)]
    pub revoked_reason: Option<String>,
}

impl Bundle {
    /// Whether the bundle was revoked ([`Bundle::revoked_at`]).
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// Metadata sent with an upload (query string) or with an external registration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleMeta {
    /// See [`Bundle::min_update_version`].
    #[serde(default)]
    pub min_update_version: Option<String>,
    /// See [`Bundle::native_packages`].
    #[serde(default)]
    pub native_packages: Option<Value>,
    /// See [`Bundle::link`].
    #[serde(default)]
    pub link: Option<String>,
    /// See [`Bundle::comment`].
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
    /// What devices verify: the plaintext zip's hex SHA-256, or for an encrypted
    /// bundle the encrypted checksum `updraft bundle encrypt` prints.
    pub checksum: String,
    /// `base64(iv):base64(rsa(key))` for an encrypted bundle; absent or empty when not encrypted.
    #[serde(default)]
    pub session_key: Option<String>,
    /// For an encrypted bundle, the first 20 characters of the public key's PEM body.
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
    /// Metadata, given as top-level fields.
    #[serde(flatten)]
    pub meta: BundleMeta,
}

/// `POST /api/v1/apps/{app_id}/bundles/{version}/revoke`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBundle {
    /// Why, kept on the bundle and in the change log: one line of at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub reason: Option<String>,
}

/// A channel a revocation moved off the revoked bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelMove {
    /// The channel's name.
    pub channel: String,
    /// The bundle it serves now: the newest earlier deploy of its history
    /// that is neither deleted nor revoked, or `builtin`.
    pub bundle: String,
}

/// Reply to a revocation: the bundle, and what moved off it in the same
/// transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Revocation {
    /// The bundle as stored after the revocation.
    pub bundle: Bundle,
    /// Channels that served it and went back to an earlier bundle.
    #[serde(default)]
    pub channels: Vec<ChannelMove>,
    /// Active rollouts reverted: those whose candidate it was, and those on a
    /// channel that served it (their stable arm changed).
    #[serde(default)]
    pub rollouts: Vec<i64>,
    /// False when the bundle was already revoked (nothing changed).
    pub changed: bool,
}

/// Reply to a bundle upload: the bundle, and the channel pointed at it when
/// the upload named one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadedBundle {
    /// The bundle as stored.
    pub bundle: Bundle,
    /// The channel now serving the bundle, when the upload named one.
    pub channel: Option<Channel>,
}
