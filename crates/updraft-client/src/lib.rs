//! A typed client for the Updraft management API (`/api/v1`), one method per
//! operation of the OpenAPI document, plus `/health`.
//!
//! Every call sends and returns the protocol crate's types (the very types the
//! server reads and writes), or an [`Error`] that keeps the server's stable
//! error code and message so callers can explain what to do next.

#![deny(missing_docs)]

mod cohorts;
mod files;
mod rollouts;
mod schedules;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use updraft_protocol::api::*;
use updraft_protocol::device::InfoObject;
use updraft_protocol::error::ErrorBody;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error envelope.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The envelope's stable `error` code, e.g. `not_found`.
        code: String,
        /// The envelope's `message`.
        message: String,
    },
    /// The server could not be reached.
    #[error("cannot reach the Updraft server at {url}: {reason}")]
    Connect {
        /// The URL requested.
        url: String,
        /// The transport's explanation.
        reason: String,
    },
    /// The connection broke after the request started (an upload cut off,
    /// a server that went away mid-reply).
    #[error("the request to {url} was interrupted: {reason}")]
    Interrupted {
        /// The URL requested.
        url: String,
        /// The transport's explanation.
        reason: String,
    },
    /// The reply was not what the API documents.
    #[error("unexpected reply from {url}: {reason}")]
    Protocol {
        /// The URL requested.
        url: String,
        /// What was wrong with the reply.
        reason: String,
    },
}

impl Error {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's error code, for API errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What every call returns.
pub type Result<T> = std::result::Result<T, Error>;

/// Called with the number of bytes sent so far during an upload.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Query parameters of a bundle upload (`POST /apps/{app}/bundles`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct UploadParams {
    /// The bundle's version name (semver, new in the app).
    pub version: String,
    /// What devices verify; the server computes it when absent (plain bundles only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// SHA-256 of the bytes sent; the server refuses the upload if they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `base64(iv):base64(rsa(key))` of an encrypted bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    /// The signing key's id, for an encrypted bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The app's public key (PKCS#1 PEM), sent with an encrypted bundle so the
    /// server can check it and serve Capgo's Electron updater too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The lowest native version the bundle runs on (`version_number` policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_update_version: Option<String>,
    /// JSON text of the native packages array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_packages: Option<String>,
    /// A link about the bundle, for devices when the app exposes metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A note about the bundle, for devices when the app exposes metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// A channel to point at the bundle once it is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// The management API client.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

fn enc(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// A client for the server at `base` (e.g. `https://updates.example.com`) with an API key.
    pub fn new(base: &str, key: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("updraft-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Connect {
                url: base.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            http,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder, url: &str) -> Result<reqwest::Response> {
        let res = req
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| transport(url, &e))?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => Error::Api {
                status,
                code: b.error,
                message: b.message,
            },
            Err(_) => Error::Api {
                status,
                code: "http_error".into(),
                message: if text.trim().is_empty() {
                    format!("HTTP {status} from {url}")
                } else {
                    text.trim().chars().take(300).collect()
                },
            },
        })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<T> {
        let res = self.send(req, url).await?;
        let text = res.text().await.map_err(|e| transport(url, &e))?;
        serde_json::from_str(&text).map_err(|e| Error::Protocol {
            url: url.to_string(),
            reason: format!("{e}: {}", text.chars().take(200).collect::<String>()),
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = self.url(path);
        self.json(self.http.get(&url), &url).await
    }

    async fn post<T: DeserializeOwned, B: Serialize>(&self, path: &str, body: &B) -> Result<T> {
        let url = self.url(path);
        self.json(self.http.post(&url).json(body), &url).await
    }

    async fn patch<T: DeserializeOwned, B: Serialize>(&self, path: &str, body: &B) -> Result<T> {
        let url = self.url(path);
        self.json(self.http.patch(&url).json(body), &url).await
    }

    async fn put<T: DeserializeOwned, B: Serialize>(&self, path: &str, body: &B) -> Result<T> {
        let url = self.url(path);
        self.json(self.http.put(&url).json(body), &url).await
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let url = self.url(path);
        self.send(self.http.delete(&url), &url).await.map(drop)
    }

    /// `GET /health` (no key needed): whether the server and its database are
    /// up. A degraded server answers 503 with the same shape, returned here too.
    pub async fn health(&self) -> Result<Health> {
        let url = format!("{}/health", self.base);
        let res = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| Error::Connect {
                url: url.clone(),
                reason: root_cause(&e),
            })?;
        res.json().await.map_err(|e| Error::Protocol {
            url,
            reason: e.to_string(),
        })
    }

    /// The API key this client uses: its name, mode, app allow-list and expiry.
    pub async fn me(&self) -> Result<ApiKey> {
        self.get("/me").await
    }

    /// The server's OpenAPI document of this API (no key needed).
    pub async fn openapi(&self) -> Result<Value> {
        self.get("/openapi.json").await
    }

    // ---- apps ----

    /// `GET /apps`: every app the key can see.
    pub async fn list_apps(&self) -> Result<Vec<App>> {
        self.get("/apps").await
    }

    /// `GET /apps/{app}`.
    pub async fn get_app(&self, app: &str) -> Result<App> {
        self.get(&format!("/apps/{}", enc(app))).await
    }

    /// `POST /apps`.
    pub async fn create_app(&self, new: &NewApp) -> Result<App> {
        self.post("/apps", new).await
    }

    /// `PATCH /apps/{app}`: only the fields given change.
    pub async fn update_app(&self, app: &str, patch: &AppPatch) -> Result<App> {
        self.patch(&format!("/apps/{}", enc(app)), patch).await
    }

    /// Deletes the app and everything under it.
    pub async fn delete_app(&self, app: &str) -> Result<()> {
        self.delete(&format!("/apps/{}", enc(app))).await
    }

    // ---- API keys ----

    /// The API keys within this key's reach (never their secrets).
    pub async fn list_keys(&self) -> Result<Vec<ApiKey>> {
        self.get("/keys").await
    }

    /// Creates an API key; the reply is the only time its secret is shown.
    pub async fn create_key(&self, new: &NewApiKey) -> Result<CreatedApiKey> {
        self.post("/keys", new).await
    }

    /// Deletes (revokes) an API key.
    pub async fn delete_key(&self, id: i64) -> Result<()> {
        self.delete(&format!("/keys/{id}")).await
    }

    // ---- bundles ----

    /// `GET /apps/{app}/bundles`.
    pub async fn list_bundles(&self, app: &str) -> Result<Vec<Bundle>> {
        self.get(&format!("/apps/{}/bundles", enc(app))).await
    }

    /// `GET /apps/{app}/bundles/{version}`.
    pub async fn get_bundle(&self, app: &str, version: &str) -> Result<Bundle> {
        self.get(&format!("/apps/{}/bundles/{}", enc(app), enc(version)))
            .await
    }

    /// Changes a bundle's metadata; only the fields given change.
    pub async fn update_bundle(
        &self,
        app: &str,
        version: &str,
        meta: &BundleMeta,
    ) -> Result<Bundle> {
        self.patch(
            &format!("/apps/{}/bundles/{}", enc(app), enc(version)),
            meta,
        )
        .await
    }

    /// `DELETE /apps/{app}/bundles/{version}`: no longer offered; the version stays taken.
    pub async fn delete_bundle(&self, app: &str, version: &str) -> Result<()> {
        self.delete(&format!("/apps/{}/bundles/{}", enc(app), enc(version)))
            .await
    }

    /// `POST /apps/{app}/bundles/{version}/revoke`: the bundle is never offered
    /// again; the channels and rollouts using it move off it.
    pub async fn revoke_bundle(
        &self,
        app: &str,
        version: &str,
        body: &RevokeBundle,
    ) -> Result<Revocation> {
        self.post(
            &format!("/apps/{}/bundles/{}/revoke", enc(app), enc(version)),
            body,
        )
        .await
    }

    /// Streams `data` as a new bundle, calling `progress` as bytes go out.
    pub async fn upload_bundle(
        &self,
        app: &str,
        params: &UploadParams,
        data: Bytes,
        progress: Option<Progress>,
    ) -> Result<UploadedBundle> {
        const CHUNK: usize = 64 * 1024;
        let total = data.len();
        let chunks = (0..total.div_ceil(CHUNK)).map(move |i| {
            let end = ((i + 1) * CHUNK).min(total);
            let chunk = data.slice(i * CHUNK..end);
            if let Some(p) = &progress {
                p(end as u64);
            }
            Ok::<_, std::io::Error>(chunk)
        });
        let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
        let url = self.url(&format!("/apps/{}/bundles", enc(app)));
        let req = self
            .http
            .post(&url)
            .query(params)
            .header(reqwest::header::CONTENT_TYPE, "application/zip")
            .header(reqwest::header::CONTENT_LENGTH, total)
            .body(body);
        self.json(req, &url).await
    }

    /// Registers a bundle hosted elsewhere.
    pub async fn register_external(&self, app: &str, b: &NewExternalBundle) -> Result<Bundle> {
        self.post(&format!("/apps/{}/bundles/external", enc(app)), b)
            .await
    }

    // ---- channels ----

    /// `GET /apps/{app}/channels`.
    pub async fn list_channels(&self, app: &str) -> Result<Vec<Channel>> {
        self.get(&format!("/apps/{}/channels", enc(app))).await
    }

    /// `GET /apps/{app}/channels/{name}`.
    pub async fn get_channel(&self, app: &str, name: &str) -> Result<Channel> {
        self.get(&format!("/apps/{}/channels/{}", enc(app), enc(name)))
            .await
    }

    /// `POST /apps/{app}/channels`; `patch.name` is required.
    pub async fn create_channel(&self, app: &str, patch: &ChannelPatch) -> Result<ChannelWrite> {
        self.post(&format!("/apps/{}/channels", enc(app)), patch)
            .await
    }

    /// `PATCH /apps/{app}/channels/{name}`: only the fields given change.
    pub async fn update_channel(
        &self,
        app: &str,
        name: &str,
        patch: &ChannelPatch,
    ) -> Result<ChannelWrite> {
        self.patch(&format!("/apps/{}/channels/{}", enc(app), enc(name)), patch)
            .await
    }

    /// `DELETE /apps/{app}/channels/{name}`.
    pub async fn delete_channel(&self, app: &str, name: &str) -> Result<()> {
        self.delete(&format!("/apps/{}/channels/{}", enc(app), enc(name)))
            .await
    }

    /// `GET /apps/{app}/channels/{name}/history`: its deploys.
    pub async fn channel_history(&self, app: &str, name: &str) -> Result<Vec<Deploy>> {
        self.get(&format!(
            "/apps/{}/channels/{}/history",
            enc(app),
            enc(name)
        ))
        .await
    }

    /// Points the channel back at its previous bundle.
    pub async fn rollback_channel(&self, app: &str, name: &str) -> Result<ChannelWrite> {
        self.post(
            &format!("/apps/{}/channels/{}/rollback", enc(app), enc(name)),
            &serde_json::json!({}),
        )
        .await
    }

    // ---- devices ----

    /// One page of devices, optionally filtered by device id or custom id.
    pub async fn list_devices(
        &self,
        app: &str,
        search: Option<&str>,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<Device>> {
        let url = self.url(&format!("/apps/{}/devices", enc(app)));
        let q = DeviceListQuery {
            search: search.map(str::to_string),
            cursor: cursor.map(str::to_string),
            limit,
        };
        self.json(self.http.get(&url).query(&q), &url).await
    }

    /// `GET /apps/{app}/devices/{device}`.
    pub async fn get_device(&self, app: &str, device: &str) -> Result<Device> {
        self.get(&format!("/apps/{}/devices/{}", enc(app), enc(device)))
            .await
    }

    /// `PUT /apps/{app}/devices/{device}/override`: put the device on a channel or pin it to a bundle.
    pub async fn set_override(&self, app: &str, device: &str, o: &SetOverride) -> Result<Device> {
        self.put(
            &format!("/apps/{}/devices/{}/override", enc(app), enc(device)),
            o,
        )
        .await
    }

    /// `DELETE /apps/{app}/devices/{device}/override`.
    pub async fn remove_override(&self, app: &str, device: &str) -> Result<()> {
        self.delete(&format!(
            "/apps/{}/devices/{}/override",
            enc(app),
            enc(device)
        ))
        .await
    }

    /// Clears a device's rollback blocks (of one version, or all); returns how many.
    pub async fn clear_blocks(
        &self,
        app: &str,
        device: &str,
        version: Option<&str>,
    ) -> Result<u64> {
        let mut url = self.url(&format!(
            "/apps/{}/devices/{}/blocks",
            enc(app),
            enc(device)
        ));
        if let Some(v) = version {
            url = format!("{url}?version={}", enc(v));
        }
        let cleared: BlocksCleared = self.json(self.http.delete(&url), &url).await?;
        Ok(cleared.cleared)
    }

    /// Dry-runs the update decision for a device request (the plugin's body;
    /// its `app_id` is replaced by `app`): the outcome, the channel, every rule
    /// evaluated and the exact reply `/updates` would send. Records nothing.
    pub async fn explain(&self, app: &str, request: &InfoObject) -> Result<Explanation> {
        self.post(&format!("/apps/{}/explain", enc(app)), request)
            .await
    }

    // ---- events ----

    /// Recorded stats events, newest first, filtered by `query`.
    pub async fn list_events(&self, app: &str, query: &EventListQuery) -> Result<Vec<Event>> {
        let url = self.url(&format!("/apps/{}/events", enc(app)));
        self.json(self.http.get(&url).query(query), &url).await
    }

    /// Update offers per bundle and day (days since the Unix epoch, UTC), newest first.
    pub async fn list_offers(&self, app: &str) -> Result<Vec<OfferCount>> {
        self.get(&format!("/apps/{}/offers", enc(app))).await
    }

    /// Update checks per hour over a window (default: the last 24 hours).
    pub async fn check_counts(&self, app: &str, query: &ChecksQuery) -> Result<CheckCounts> {
        let url = self.url(&format!("/apps/{}/checks", enc(app)));
        self.json(self.http.get(&url).query(query), &url).await
    }

    // ---- change log ----

    /// The app's change log, oldest first, after `query.after`; continue
    /// with the reply's `next_after`.
    pub async fn list_changes(&self, app: &str, query: &ChangeListQuery) -> Result<ChangePage> {
        let url = self.url(&format!("/apps/{}/changes", enc(app)));
        self.json(self.http.get(&url).query(query), &url).await
    }

    /// `GET /apps/{app}/audit`: the audit trail, newest first, filtered.
    pub async fn audit(&self, app: &str, query: &AuditQuery) -> Result<AuditPage> {
        let url = self.url(&format!("/apps/{}/audit", enc(app)));
        self.json(self.http.get(&url).query(query), &url).await
    }
}

fn transport(url: &str, e: &reqwest::Error) -> Error {
    let reason = root_cause(e);
    if e.is_connect() {
        Error::Connect {
            url: url.to_string(),
            reason,
        }
    } else {
        Error::Interrupted {
            url: url.to_string(),
            reason,
        }
    }
}

/// The innermost error message (reqwest's top-level one is "error sending request").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(enc("com.example.app"), "com.example.app");
        assert_eq!(enc("1.0.0+build/x y"), "1.0.0%2Bbuild%2Fx%20y");
    }
}
