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
    /// The app's reverse-domain id (`appId` of its Capacitor config). Required.
    #[serde(default)]
    pub app_id: Option<String>,
    /// A UUID the plugin makes once per install, in any case (the server
    /// lower-cases it). Required.
    #[serde(default)]
    pub device_id: Option<String>,
    /// `ios`, `android` or `electron`; required on `/updates` and `/channel_self`.
    /// `/stats` accepts any non-empty value.
    #[serde(default)]
    pub platform: Option<String>,
    /// The web bundle the device runs: a bundle version, or `builtin` for the one
    /// shipped inside the app. Required on `/updates`.
    #[serde(default)]
    pub version_name: Option<String>,
    /// The native app's version (`1.2`, `1.2.3`), which channel policies compare
    /// against; read as semver with missing parts as 0. Required on `/updates`.
    #[serde(default)]
    pub version_build: Option<String>,
    /// The native build number (Android `versionCode`, iOS `CFBundleVersion`);
    /// stored with the device, no rule reads it.
    #[serde(default)]
    pub version_code: Option<String>,
    /// The operating system's version; stored with the device, no rule reads it.
    #[serde(default)]
    pub version_os: Option<String>,
    /// The updater plugin's own version (semver). Required on `/updates`: 4.x is
    /// refused, and it decides whether the device checks `key_id` and reads manifests.
    #[serde(default)]
    pub plugin_version: Option<String>,
    /// Whether the app runs on an emulator or simulator; absent means `false`.
    #[serde(default)]
    pub is_emulator: Option<bool>,
    /// Whether this is a release build; absent means `true`.
    #[serde(default)]
    pub is_prod: Option<bool>,
    /// An id the app set with `setCustomId`; kept only when the app allows
    /// device custom ids. At most 255 characters (36 on `/stats`).
    #[serde(default)]
    pub custom_id: Option<String>,
    /// Where the native app was installed from, as the plugin reports it
    /// (at most 64 characters); no rule reads it.
    #[serde(default)]
    pub install_source: Option<String>,
    /// The channel the app's config names (`defaultChannel`); empty means none.
    /// Used only when the channel is public or self-assignable for the platform.
    #[serde(default, rename = "defaultChannel")]
    pub default_channel: Option<String>,
    /// The first 20 characters of the public key the app ships, sent by plugins
    /// that check it: an encrypted bundle made with another key is not offered.
    #[serde(default)]
    pub key_id: Option<String>,
    /// Byte-level patch formats the client applies (`["zstd"]`); sent by
    /// `updraft-device`, never by the stock plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_formats: Option<Vec<String>>,
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
    /// The device's InfoObject, flattened into the event (`version_name` is the
    /// bundle the event is about).
    #[serde(flatten)]
    pub info: InfoObject,
    /// The bundle the device ran before (`set`, `update_fail`, ...).
    #[serde(default)]
    pub old_version_name: Option<String>,
    /// Epoch milliseconds (batched queue only).
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Free-form details the plugin attaches to the event (at most 16 KiB as JSON).
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
    /// The bundle's version name, which the plugin records and reports back.
    pub version: String,
    /// Absolute URL, required even for manifest replies.
    pub url: String,
    /// What the plugin verifies after download: the plaintext zip's hex SHA-256,
    /// or its RSA-encrypted form for an encrypted bundle.
    pub checksum: String,
    /// Always present, `""` when the bundle is not encrypted.
    pub session_key: String,
    /// Only for Capgo's Electron updater, which reads camelCase.
    #[serde(rename = "sessionKey", skip_serializing_if = "Option::is_none")]
    pub session_key_camel: Option<String>,
    /// Per-file download list (delta update); plugins that read manifests fetch
    /// only the files they lack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Vec<ManifestEntry>>,
    /// Byte-level patches of manifest files, from files of the bundle the
    /// device runs; only to clients that announced `patch_formats`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<FilePatchOffer>>,
    /// The bundle's link, sent only when the app exposes metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The bundle's comment, sent only when the app exposes metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `true` for a critical deploy (Updraft's own field; the plugin ignores
    /// it): a client that can act on it applies the bundle at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<bool>,
}

/// A patch that rebuilds one manifest file from a file the device holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePatchOffer {
    /// The manifest entry it stands for (its `file_name`).
    pub file_name: String,
    /// The file of the running bundle (or builtin assets) to patch, by path.
    pub from_file: String,
    /// That file's SHA-256: the patch applies to these bytes only.
    pub from_hash: String,
    /// The patch format (`zstd`: the old file as reference prefix).
    pub format: String,
    /// Absolute URL of the patch.
    pub download_url: String,
    /// The patch's size in bytes.
    pub size: u64,
}

/// One file of a manifest (delta) update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ManifestEntry {
    /// The file's path inside the bundle, `/`-separated.
    pub file_name: String,
    /// The file's hex SHA-256.
    pub file_hash: String,
    /// Absolute URL of the file (in device replies; the management API shows
    /// a file stored on this server as its path, `/files/<sha256>`).
    pub download_url: String,
}

/// The bare reply that makes the plugin revert to its builtin bundle:
/// `{"version":"builtin"}` and nothing else (ERRATA item 16).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevertToBuiltin {
    /// Always `builtin`.
    pub version: String,
}

/// How the plugin classifies a reply on the error path (ERRATA item 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// The device already runs what it should; nothing to do.
    UpToDate,
    /// An update exists but a rule holds it back (a channel policy, a rollback
    /// block, another signing key).
    Blocked,
    /// The server could not answer (no channel, no bundle, unsupported plugin, a
    /// misconfigured channel).
    Failed,
}

/// A "no update" reply, sent at HTTP 200: `{"error","message","kind",…extras}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoUpdate {
    /// Stable code the plugin reports, e.g. `no_new_version_available`.
    pub error: String,
    /// Human-readable reason.
    pub message: String,
    /// How the plugin treats the reply.
    pub kind: ReplyKind,
    /// Capgo spreads `moreInfo` flat into the body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Any `POST /updates` reply sent at HTTP 200: exactly one of the three shapes,
/// serialised as that shape alone. Read back, a body with `error` is a
/// [`NoUpdate`], one with `url` an update, and the bare `version` the revert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UpdatesReply {
    /// `{"error","message","kind",...}`: no update, and why.
    NoUpdate(NoUpdate),
    /// `{"version","url","checksum","session_key",...}`: download this bundle.
    Update(UpdateAvailable),
    /// `{"version":"builtin"}`: go back to the bundle shipped in the app.
    RevertToBuiltin(RevertToBuiltin),
}

/// The only value of a `status` that acknowledges: `"ok"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusOk {
    /// `"ok"`.
    #[default]
    Ok,
}

/// The bare acknowledgement `{"status":"ok"}`: a single `/stats` event, the
/// liveness answers (`GET /updates`, `GET /stats`, `POST /ok`), a channel set
/// or unset that needs nothing more, and Capgo's `/device` writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Always `"ok"`.
    pub status: StatusOk,
}

impl Ack {
    /// `{"status":"ok"}`.
    pub const OK: Ack = Ack {
        status: StatusOk::Ok,
    };
}

/// `/stats` reply: `{"status":"ok"}` for one event; for an array, also one
/// result per event, in order, so a bad event is reported in its own slot and
/// never turns the batch into a 4xx (DESIGN decision 7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsReply {
    /// Always `"ok"`: the batch was taken (each event's fate is in `results`).
    pub status: StatusOk,
    /// Present exactly when the request was an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<StatsResult>>,
}

/// What became of one event of a `/stats` array: `{"status":"ok","index"}`,
/// or `{"status":"error","index"}` with the error envelope's fields flat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StatsResult {
    /// Recorded.
    Ok {
        /// The event's position in the array.
        index: usize,
    },
    /// Refused, with the reason a single event would have got as a 4xx.
    Error {
        /// Why it was refused: the error envelope's fields, flat.
        #[serde(flatten)]
        body: crate::error::ErrorBody,
        /// The event's position in the array.
        index: usize,
    },
}

/// Where the channel `/channel_self` answers comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelSource {
    /// The device's `defaultChannel` or the public channel.
    Default,
    /// An admin's override (old plugins), or the channel the request named.
    Override,
}

/// `/channel_self` getChannel (PUT; Electron's GET): the device's channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelGet {
    /// The channel's name.
    pub channel: String,
    /// Whether it is the default one or an explicit choice.
    pub status: ChannelSource,
    /// Whether the device may choose another channel itself.
    #[serde(rename = "allowSet")]
    pub allow_set: bool,
    /// The same, for Capgo's Electron updater, which reads snake_case.
    #[serde(rename = "allow_set", default, skip_serializing_if = "Option::is_none")]
    pub allow_set_snake: Option<bool>,
}

/// `/channel_self` setChannel (POST) from a plugin that keeps its channel
/// itself (7.34 on): `{"status":"ok","allowSet":true}`. Older plugins get an [`Ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSet {
    /// Always `"ok"`.
    pub status: StatusOk,
    /// Whether the device may choose its channel itself (always `true` here).
    #[serde(rename = "allowSet")]
    pub allow_set: bool,
}

/// `/channel_self` list entry (GET). `id` must be a JSON number (ERRATA item 15).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelListEntry {
    /// The channel's numeric id.
    pub id: i64,
    /// The channel's name, as the plugin passes it to `setChannel`.
    pub name: String,
    /// Whether the channel is the default for the platform.
    pub public: bool,
    /// Whether a device may pick this channel for itself.
    pub allow_self_set: bool,
}

/// `/channel_self` list for Capgo's Electron updater: `{"channels":[…]}`
/// (the plugin gets the bare array).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelList {
    /// The channels a device may see: public and self-assignable ones.
    pub channels: Vec<ChannelListEntry>,
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
            patches: None,
            link: None,
            comment: None,
            critical: None,
        };
        let v = serde_json::to_value(&reply).unwrap();
        let obj = v.as_object().unwrap();
        for key in ["error", "kind", "message"] {
            assert!(!obj.contains_key(key), "{key} must not be present");
        }
        assert_eq!(obj["session_key"], "");
    }

    #[test]
    fn updates_reply_reads_back_as_the_shape_it_was() {
        let bodies = [
            r#"{"version":"1.0.1","url":"https://x.test/b.zip","checksum":"ab","session_key":""}"#,
            r#"{"version":"builtin"}"#,
            r#"{"error":"disable_auto_update_to_major","message":"m","kind":"blocked","version":"2.0.0"}"#,
        ];
        for body in bodies {
            let reply: UpdatesReply = serde_json::from_str(body).unwrap();
            let shape = match &reply {
                UpdatesReply::Update(_) => "update",
                UpdatesReply::RevertToBuiltin(_) => "revert",
                UpdatesReply::NoUpdate(_) => "no_update",
            };
            let want = if body.contains("error") {
                "no_update"
            } else if body.contains("url") {
                "update"
            } else {
                "revert"
            };
            assert_eq!(shape, want, "{body}");
            let again: serde_json::Value = serde_json::to_value(&reply).unwrap();
            assert_eq!(
                again,
                serde_json::from_str::<serde_json::Value>(body).unwrap()
            );
        }
    }

    #[test]
    fn stats_results_carry_the_envelope_flat() {
        let reply = StatsReply {
            status: StatusOk::Ok,
            results: Some(vec![
                StatsResult::Ok { index: 0 },
                StatsResult::Error {
                    body: crate::error::ErrorBody::new("invalid_json_body", "m"),
                    index: 1,
                },
            ]),
        };
        insta::assert_json_snapshot!(reply, @r###"
        {
          "status": "ok",
          "results": [
            {
              "status": "ok",
              "index": 0
            },
            {
              "status": "error",
              "error": "invalid_json_body",
              "message": "m",
              "moreInfo": {},
              "index": 1
            }
          ]
        }
        "###);
        let back: StatsReply = serde_json::to_string(&reply)
            .and_then(|t| serde_json::from_str(&t))
            .unwrap();
        assert_eq!(back, reply);
        let single = serde_json::to_string(&StatsReply {
            status: StatusOk::Ok,
            results: None,
        })
        .unwrap();
        assert_eq!(single, r#"{"status":"ok"}"#);
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
