//! The device protocol spoken by `@capgo/capacitor-updater` (8.x, 7.x and older)
//! and Capgo's Electron updater. See reference/plugin-protocol.md §1–3.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body every plugin request carries ("InfoObject", plugin-protocol.md §1.2),
/// plus the per-endpoint extras (`channel`, `action`, stats fields).
///
/// Every field is optional at this layer: validation (and its exact error codes)
/// lives in `updraft-core::validate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InfoObject {
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub version_name: Option<String>,
    #[serde(default)]
    pub version_build: Option<String>,
    #[serde(default)]
    pub version_code: Option<String>,
    #[serde(default)]
    pub version_os: Option<String>,
    #[serde(default)]
    pub plugin_version: Option<String>,
    #[serde(default)]
    pub is_emulator: Option<bool>,
    #[serde(default)]
    pub is_prod: Option<bool>,
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(default)]
    pub install_source: Option<String>,
    #[serde(default, rename = "defaultChannel")]
    pub default_channel: Option<String>,
    #[serde(default)]
    pub key_id: Option<String>,
    /// `/channel_self` POST (and Capgo's PUT variant): the channel asked for.
    #[serde(default)]
    pub channel: Option<String>,
    /// Electron updater channel calls: `set`, `unset`, `list`.
    #[serde(default)]
    pub action: Option<String>,
}

/// One `/stats` event: the InfoObject plus the event fields (plugin-protocol.md §1.5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsEvent {
    #[serde(flatten)]
    pub info: InfoObject,
    #[serde(default)]
    pub old_version_name: Option<String>,
    /// Epoch milliseconds (batched queue only).
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Electron's `download_fail` carries a message.
    #[serde(default)]
    pub message: Option<String>,
}

/// An update is available. Never carries `error`, `kind` or `message`
/// (plugin-protocol.md §0.2; ERRATA item 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateAvailable {
    pub version: String,
    /// Absolute URL, required even for manifest replies.
    pub url: String,
    pub checksum: String,
    /// Always present, `""` when the bundle is not encrypted.
    pub session_key: String,
    /// Only for Capgo's Electron updater, which reads camelCase.
    #[serde(rename = "sessionKey", skip_serializing_if = "Option::is_none")]
    pub session_key_camel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Vec<ManifestEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One file of a manifest (delta) update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ManifestEntry {
    pub file_name: String,
    pub file_hash: String,
    pub download_url: String,
}

/// The bare reply that makes the plugin revert to its builtin bundle:
/// `{"version":"builtin"}` and nothing else (ERRATA item 16).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevertToBuiltin {
    pub version: String,
}

/// How the plugin classifies a reply on the error path (ERRATA item 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    UpToDate,
    Blocked,
    Failed,
}

/// A "no update" reply, sent at HTTP 200: `{"error","message","kind",…extras}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoUpdate {
    pub error: String,
    pub message: String,
    pub kind: ReplyKind,
    /// Capgo spreads `moreInfo` flat into the body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Any `POST /updates` reply sent at HTTP 200: exactly one of the three shapes,
/// serialised as that shape alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum UpdatesReply {
    Update(UpdateAvailable),
    RevertToBuiltin(RevertToBuiltin),
    NoUpdate(NoUpdate),
}

/// `/channel_self` list entry (GET). `id` must be a JSON number (ERRATA item 15).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelListEntry {
    pub id: i64,
    pub name: String,
    pub public: bool,
    pub allow_self_set: bool,
}

/// Every stats action the plugin is known to send, plus the server-side ones
/// Capgo records. Unknown actions are still stored (DESIGN decision 7).
pub const KNOWN_STATS_ACTIONS: &[&str] = &[
    "ping",
    "delete",
    "reset",
    "set",
    "get",
    "set_next",
    "uninstall",
    "set_fail",
    "update_fail",
    "download_fail",
    "windows_path_fail",
    "canonical_path_fail",
    "directory_path_fail",
    "unzip_fail",
    "low_mem_fail",
    "decrypt_fail",
    "checksum_fail",
    "finish_download_fail",
    "manifest_path_fail",
    "download_manifest_file_fail",
    "download_manifest_checksum_fail",
    "download_manifest_brotli_fail",
    "download_0",
    "download_10",
    "download_20",
    "download_30",
    "download_40",
    "download_50",
    "download_60",
    "download_70",
    "download_80",
    "download_90",
    "download_complete",
    "download_manifest_start",
    "download_manifest_complete",
    "download_zip_start",
    "download_zip_complete",
    "checksum_required",
    "insufficient_disk_space",
    "app_moved_to_foreground",
    "app_moved_to_background",
    "app_launch_start",
    "app_launch_ready",
    "app_launch_timeout",
    "setChannel",
    "getChannel",
    "rateLimited",
    "rate_limit_reached",
    "disableAutoUpdate",
    "InvalidIp",
    "blocked_by_server_url",
    "customIdBlocked",
    "app_crash",
    "app_crash_native",
    "app_anr",
    "app_killed_low_memory",
    "app_killed_excessive_resource_usage",
    "app_initialization_failure",
    "app_memory_warning",
    "webview_javascript_error",
    "webview_unhandled_rejection",
    "webview_resource_error",
    "webview_security_policy_violation",
    "webview_unclean_restart",
    "webview_render_process_gone",
    "webview_content_process_terminated",
    "webview_dom_content_loaded",
    "webview_page_loaded",
    "os_version_changed",
    "native_app_version_changed",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_reply_has_no_error_kind_or_message_keys() {
        let reply = UpdateAvailable {
            version: "1.0.1".into(),
            url: "https://x.test/b.zip".into(),
            checksum: "ab".into(),
            session_key: String::new(),
            session_key_camel: None,
            manifest: None,
            link: None,
            comment: None,
        };
        let v = serde_json::to_value(&reply).unwrap();
        let obj = v.as_object().unwrap();
        for key in ["error", "kind", "message"] {
            assert!(!obj.contains_key(key), "{key} must not be present");
        }
        assert_eq!(obj["session_key"], "");
    }

    #[test]
    fn no_update_spreads_extras_flat() {
        let mut extra = Map::new();
        extra.insert("version".into(), "2.0.0".into());
        let reply = NoUpdate {
            error: "disable_auto_update_to_major".into(),
            message: "m".into(),
            kind: ReplyKind::Blocked,
            extra,
        };
        insta::assert_json_snapshot!(reply, @r###"
        {
          "error": "disable_auto_update_to_major",
          "message": "m",
          "kind": "blocked",
          "version": "2.0.0"
        }
        "###);
    }
}
