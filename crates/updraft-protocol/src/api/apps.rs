//! Apps (`/api/v1/apps`): an app, its creation and its patch.

use serde::{Deserialize, Serialize};

/// An app: one Capacitor application id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct App {
    /// The app's reverse-domain id, as devices send it in `app_id`.
    pub app_id: String,
    /// Display name, for people (the app id unless one was given).
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
    /// Display name; absent means the app id.
    #[serde(default)]
    pub name: Option<String>,
}

/// `PATCH /api/v1/apps/{app_id}`: only the fields given change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Send bundles' `link` and `comment` to devices.
    #[serde(default)]
    pub expose_metadata: Option<bool>,
    /// Accept `custom_id` from devices.
    #[serde(default)]
    pub allow_device_custom_id: Option<bool>,
    /// The app's public key (PKCS#1 PEM); `""` removes it.
    #[serde(default)]
    pub public_key: Option<String>,
}
