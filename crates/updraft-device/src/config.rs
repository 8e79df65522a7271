//! The device's configuration: the same knobs as the plugin's
//! `plugins.CapacitorUpdater` block plus what the native app would report.

use std::path::PathBuf;
use std::time::Duration;

use crate::unzip::UnzipLimits;

/// Configuration of one device (one app install).
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Where the device keeps its state, bundles, downloads and stats queue.
    pub data_dir: PathBuf,
    /// `POST` target of update checks (`updateUrl`).
    pub update_url: String,
    /// `""` disables stats, as in the plugin.
    pub stats_url: String,
    /// `""` disables channel calls.
    pub channel_url: String,
    /// The app's reverse-domain id.
    pub app_id: String,
    /// The native app version (`versionName` / `CFBundleShortVersionString`).
    pub version_build: String,
    /// The native build number (`versionCode` / `CFBundleVersion`).
    pub version_code: String,
    /// The OS version the device reports.
    pub version_os: String,
    /// `android`, `ios` or `electron`.
    pub platform: String,
    /// The plugin version this device claims (the server's behaviour depends on it).
    pub plugin_version: String,
    /// PKCS#1 PEM RSA-2048 public key: bundles must be signed with its private key.
    pub public_key: Option<String>,
    /// How long a new bundle has to call `notify_app_ready()` before it is rolled back.
    pub app_ready_timeout: Duration,
    /// Delete a bundle's files once it failed (keeping a tombstone record).
    pub auto_delete_failed: bool,
    /// Delete the previous good bundle once a new one is confirmed.
    pub auto_delete_previous: bool,
    /// Config `defaultChannel` (a channel set with `set_channel` wins over it).
    pub default_channel: String,
    /// Report an emulator (`is_emulator`).
    pub is_emulator: bool,
    /// Report a release build (`is_prod`).
    pub is_prod: bool,
    /// The `custom_id` sent with every request (`""` when the app set none).
    pub custom_id: String,
    /// Timeout of each HTTP request (whole downloads included).
    pub request_timeout: Duration,
    /// What one bundle may unpack to (zip bomb guard; past it: `unzip_fail`).
    pub unzip_limits: UnzipLimits,
    /// The web assets shipped in the store build (the plugin's `public/`
    /// folder): a manifest update copies a file from here instead of
    /// downloading it when the hash matches.
    pub builtin_dir: Option<PathBuf>,
    /// Ask for byte-level patches (`patch_formats: ["zstd"]`): a manifest
    /// file is then rebuilt from the running bundle's (or builtin) file when
    /// the server offers a patch, falling back to the whole file.
    pub patches: bool,
}

impl DeviceConfig {
    /// A config for a server at `base` (`{base}/updates`, `/stats`, `/channel_self`),
    /// an Android device on plugin 8.51.14 with native version 1.0.0.
    pub fn new(data_dir: impl Into<PathBuf>, base: &str, app_id: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            data_dir: data_dir.into(),
            update_url: format!("{base}/updates"),
            stats_url: format!("{base}/stats"),
            channel_url: format!("{base}/channel_self"),
            app_id: app_id.to_string(),
            version_build: "1.0.0".into(),
            version_code: "1".into(),
            version_os: "14".into(),
            platform: "android".into(),
            plugin_version: "8.51.14".into(),
            public_key: None,
            app_ready_timeout: Duration::from_secs(10),
            auto_delete_failed: true,
            auto_delete_previous: true,
            default_channel: String::new(),
            is_emulator: false,
            is_prod: true,
            custom_id: String::new(),
            request_timeout: Duration::from_secs(30),
            unzip_limits: UnzipLimits::default(),
            builtin_dir: None,
            patches: true,
        }
    }
}
