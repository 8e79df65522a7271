//! The update check (`POST updateUrl`) and how its reply is classified, with
//! the plugin's rules (reference: plugin-protocol §2.1): an `error` or `kind`
//! key takes the error path, where `kind` is normalised by [`normalize_kind`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use updraft_protocol::device::FilePatchOffer;

use crate::manifest::ManifestItem;
use crate::{Device, BUILTIN};

/// An update the server offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The bundle's version name.
    pub version: String,
    /// Absolute URL of the zip.
    pub url: String,
    /// What the downloaded zip must match (plain SHA-256, or the encrypted form).
    #[serde(default)]
    pub checksum: String,
    /// `base64(iv):base64(rsa(key))`, empty for a plain bundle.
    #[serde(default)]
    pub session_key: String,
    /// The files of a manifest (delta) update, fetched one by one instead of
    /// the zip; empty for a zip update.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest: Vec<ManifestItem>,
    /// Byte-level patches of manifest files (asked for with `patch_formats`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<FilePatchOffer>,
    /// A critical deploy (Updraft's `critical: true`): applied at once
    /// instead of at the next start.
    #[serde(default)]
    pub critical: bool,
}

/// What an update check said, classified with the plugin's rules (§2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Latest {
    /// A bundle to download.
    Update(Offer),
    /// A bare `{"version":"builtin"}`: go back to the app's own bundle.
    RevertToBuiltin,
    /// `kind` `up_to_date` or `blocked`: nothing to do, not a failure.
    NoUpdate {
        /// The reply's `kind`, normalised.
        kind: String,
        /// The server's error code, e.g. `no_new_version_available`.
        error: String,
        /// The server's message.
        message: String,
    },
    /// Anything else: `kind: failed`, a transport error, no or a bad `url`.
    Failed {
        /// The server's error code, or the plugin's own (`network_error`, ...).
        error: String,
        /// What went wrong.
        message: String,
    },
}

/// The plugin's `normalizedUpdateResponseKind`: `up_to_date`, `blocked` and
/// `failed` are kept; anything else (missing, `null`, empty, not a string, or
/// an unknown value such as `update_available`) is `failed`.
pub fn normalize_kind(kind: Option<&Value>) -> &'static str {
    match kind.and_then(Value::as_str) {
        Some("up_to_date") => "up_to_date",
        Some("blocked") => "blocked",
        _ => "failed",
    }
}

impl Device {
    /// `POST updateUrl` with the InfoObject, classified as the plugin does.
    /// A `failed` result queues `download_fail`, as the plugin does.
    pub async fn check(&mut self) -> Latest {
        let latest = self.check_inner().await;
        if let Latest::Failed { .. } = latest {
            self.queue_stat("download_fail", None, None);
        }
        latest
    }

    /// The InfoObject, with the patch formats this device applies.
    fn check_body(&self) -> Value {
        let mut body = self.info_object();
        if self.cfg.patches {
            body["patch_formats"] = serde_json::json!([updraft_core::patch::FORMAT]);
        }
        body
    }

    async fn check_inner(&self) -> Latest {
        let res = match self
            .http
            .post(&self.cfg.update_url)
            .json(&self.check_body())
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return Latest::Failed {
                    error: if e.is_timeout() {
                        "timeout_error"
                    } else {
                        "network_error"
                    }
                    .into(),
                    message: e.to_string(),
                }
            }
        };
        let status = res.status();
        let body: Value = match res.json().await {
            Ok(v) => v,
            Err(e) => {
                return Latest::Failed {
                    error: if status.is_success() {
                        "parse_error"
                    } else {
                        "response_error"
                    }
                    .into(),
                    message: e.to_string(),
                }
            }
        };
        classify(status.as_u16(), &body, &self.current_version())
    }
}

/// Classifies an update check's JSON reply with the plugin's rules (§2.1):
/// `status` is the HTTP status, `current_version` the version the device
/// runs (what it sent as `version_name`).
pub fn classify(status: u16, body: &Value, current_version: &str) -> Latest {
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if body.get("error").is_some() || body.get("kind").is_some() {
        let kind = normalize_kind(body.get("kind"));
        return if kind == "failed" {
            Latest::Failed {
                error: s("error"),
                message: s("message"),
            }
        } else {
            Latest::NoUpdate {
                kind: kind.to_string(),
                error: s("error"),
                message: s("message"),
            }
        };
    }
    if !(200..300).contains(&status) {
        return Latest::Failed {
            error: "response_error".into(),
            message: format!("HTTP {status}"),
        };
    }
    let version = s("version");
    if version == BUILTIN {
        return Latest::RevertToBuiltin;
    }
    let url = s("url");
    if reqwest::Url::parse(&url).is_err() {
        return Latest::Failed {
            error: "download_fail".into(),
            message: "Error no url or wrong format".into(),
        };
    }
    if version.is_empty() || version == current_version {
        return Latest::NoUpdate {
            kind: "up_to_date".into(),
            error: String::new(),
            message: "No need to update".into(),
        };
    }
    let manifest = match body.get("manifest") {
        None | Some(Value::Null) => Vec::new(),
        Some(m) => match serde_json::from_value::<Vec<ManifestItem>>(m.clone()) {
            Ok(items) => items,
            // Android reads each entry's name and URL as required strings
            // and gives up the whole download when one is not.
            Err(e) => {
                return Latest::Failed {
                    error: "download_fail".into(),
                    message: format!("the manifest cannot be read: {e}"),
                }
            }
        },
    };
    // Patches only save bytes: ones that cannot be read are ignored.
    let patches = body
        .get("patches")
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default();
    Latest::Update(Offer {
        version,
        url,
        checksum: s("checksum"),
        session_key: s("session_key"),
        manifest,
        patches,
        critical: body.get("critical").and_then(Value::as_bool) == Some(true),
    })
}
