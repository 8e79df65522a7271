//! `updraft-device`: the device side of Updraft, behaving like the
//! `@capgo/capacitor-updater` plugin (reference/plugin-protocol.md §1–5).
//!
//! A [`Device`] checks for updates with the plugin's request body and reply
//! rules, downloads a bundle (resuming with `Range`), verifies its checksum,
//! decrypts Capgo v2 bundles, unzips it safely, switches to it, and rolls back
//! to the last good bundle (or builtin) when the new one does not call
//! [`Device::notify_app_ready`] in time, reporting `update_fail`. Its state
//! survives a kill at any point (see [`store`]). Stats are queued, persisted
//! and sent as the plugin sends them (see [`stats`]).
//!
//! Uses: end-to-end tests of the whole system, `updraft-sim` (a simulated
//! fleet), and Rust apps (Tauri and others) that want live updates.

pub mod config;
pub mod stats;
pub mod store;
pub mod unzip;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use updraft_core::crypto::{self, PublicKey, SessionKey};

pub use config::DeviceConfig;
pub use stats::Flush;
pub use store::{BundleInfo, BundleStatus, BUILTIN};

use crate::stats::StatsQueue;
use crate::store::{Disk, State};

/// The points where a test can inject a failure (a kill): every write that
/// moves the device from one state to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The downloaded file is complete on disk.
    DownloadWritten,
    /// The bundle is extracted into its temporary folder.
    Extracted,
    /// The folder is renamed into place, not yet recorded.
    Renamed,
    /// A new `state.json` is written to its temporary file, not yet renamed.
    StateTempWritten,
    /// A state change is saved; what follows it (file deletions) is not done yet.
    Saved,
}

/// Why an operation failed. `Failed` carries the stats action the plugin sends.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("injected failure at {0:?}")]
    Injected(Step),
    #[error("{action}: {message}")]
    Failed {
        action: &'static str,
        message: String,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("disk: {0}")]
    Io(#[from] std::io::Error),
}

impl DeviceError {
    fn failed(action: &'static str, message: impl Into<String>) -> Self {
        Self::Failed {
            action,
            message: message.into(),
        }
    }

    /// The stats action of a `Failed` error.
    pub fn action(&self) -> Option<&'static str> {
        match self {
            Self::Failed { action, .. } => Some(action),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, DeviceError>;

/// An update the server offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub version: String,
    pub url: String,
    #[serde(default)]
    pub checksum: String,
    #[serde(default)]
    pub session_key: String,
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
        kind: String,
        error: String,
        message: String,
    },
    /// Anything else: `kind: failed`, a transport error, no or a bad `url`.
    Failed { error: String, message: String },
}

/// What one [`Device::update_cycle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cycle {
    /// Nothing new.
    UpToDate,
    /// The check or download failed (with the stats action sent).
    Failed(String),
    /// Switched to this version (pending until confirmed).
    Installed(String),
    /// Went back to builtin because the channel points there.
    Reverted,
}

/// Faults to inject into downloads (simulation and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Flip a byte of every downloaded file (the check then fails).
    pub corrupt_download: bool,
    /// Cut the next download half-way (the following attempt resumes with `Range`).
    pub interrupt_download: bool,
}

/// Flushes `device`'s stats every `every` (the plugin's 1-second timer) until
/// the returned task is aborted. Failed flushes keep the events for the next tick.
pub fn spawn_stats_flusher(
    device: std::sync::Arc<tokio::sync::Mutex<Device>>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            device.lock().await.flush_stats().await;
        }
    })
}

/// One simulated (or real) app install with its updater.
pub struct Device {
    /// Download faults to inject.
    pub faults: Faults,
    cfg: DeviceConfig,
    disk: Disk,
    state: State,
    stats: StatsQueue,
    http: reqwest::Client,
    public_key: Option<PublicKey>,
    /// Fail at the Nth failpoint hit (tests); counts hits otherwise.
    fail_at: Option<usize>,
    hits: usize,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn short_id() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric
        .sample_string(&mut rand::thread_rng(), 10)
        .to_lowercase()
}

impl Device {
    /// Opens the device in `cfg.data_dir` (creating its id on first start),
    /// cleans up what a kill interrupted, and rolls back a bundle whose
    /// confirmation deadline passed while the app was not running.
    pub async fn open(cfg: DeviceConfig) -> Result<Device> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(format!(
                "CapacitorUpdater/{} ({}) {}/{}",
                cfg.plugin_version, cfg.app_id, cfg.platform, cfg.version_os
            ))
            .build()
            .map_err(|e| DeviceError::Config(e.to_string()))?;
        Self::open_with(cfg, http).await
    }

    /// [`Device::open`] with a shared HTTP client (a fleet shares one pool).
    pub async fn open_with(cfg: DeviceConfig, http: reqwest::Client) -> Result<Device> {
        let public_key = match cfg.public_key.as_deref().filter(|k| !k.trim().is_empty()) {
            Some(pem) => {
                Some(PublicKey::from_pem(pem).map_err(|e| DeviceError::Config(e.to_string()))?)
            }
            None => None,
        };
        let disk = Disk {
            root: cfg.data_dir.clone(),
        };
        std::fs::create_dir_all(&disk.root)?;
        let state = disk.open()?;
        let stats = StatsQueue::load(disk.stats_path());
        let mut d = Device {
            faults: Faults::default(),
            cfg,
            disk,
            state,
            stats,
            http,
            public_key,
            fail_at: None,
            hits: 0,
        };
        d.check_app_ready().await?;
        Ok(d)
    }

    /// Makes the Nth failpoint hit from now fail with [`DeviceError::Injected`].
    pub fn fail_at_hit(&mut self, n: Option<usize>) {
        self.fail_at = n;
        self.hits = 0;
    }

    /// How many failpoints were passed since [`Device::fail_at_hit`].
    pub fn hits(&self) -> usize {
        self.hits
    }

    fn hit(&mut self, step: Step) -> Result<()> {
        let n = self.hits;
        self.hits += 1;
        if self.fail_at == Some(n) {
            return Err(DeviceError::Injected(step));
        }
        Ok(())
    }

    fn save(&mut self) -> Result<()> {
        let mut injected = None;
        let (fail_at, mut hits) = (self.fail_at, self.hits);
        let res = self.disk.save(&self.state, &mut |step| {
            let n = hits;
            hits += 1;
            if fail_at == Some(n) {
                injected = Some(step);
                return Err(std::io::Error::other("injected"));
            }
            Ok(())
        });
        self.hits = hits;
        if let Some(step) = injected {
            return Err(DeviceError::Injected(step));
        }
        res?;
        self.hit(Step::Saved)
    }

    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    /// The persistent device id (lower-case UUID v4).
    pub fn device_id(&self) -> &str {
        &self.state.device_id
    }

    /// The active bundle: `builtin` or a downloaded bundle's record.
    pub fn current(&self) -> Option<&BundleInfo> {
        self.state.bundles.get(&self.state.current)
    }

    /// The version name the plugin reports for the active bundle (on builtin:
    /// the native version).
    pub fn current_version(&self) -> String {
        match self.current() {
            Some(b) => b.version.clone(),
            None if self.cfg.version_build.is_empty() => BUILTIN.into(),
            None => self.cfg.version_build.clone(),
        }
    }

    /// The folder the web view would load (`None` for builtin).
    pub fn current_dir(&self) -> Option<std::path::PathBuf> {
        self.current().map(|b| self.disk.bundle_dir(&b.id))
    }

    /// Every bundle record, tombstones included.
    pub fn list(&self) -> Vec<BundleInfo> {
        self.state.bundles.values().cloned().collect()
    }

    /// The persisted state (read-only), for tests and tools.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The channel this device asks for: one saved by `set_channel`/`get_channel`,
    /// else the config's `defaultChannel`.
    pub fn default_channel(&self) -> String {
        self.state
            .channel
            .clone()
            .unwrap_or_else(|| self.cfg.default_channel.clone())
    }

    /// The plugin's InfoObject (§1.2).
    pub fn info_object(&self) -> Value {
        let mut v = json!({
            "platform": self.cfg.platform,
            "device_id": self.state.device_id,
            "app_id": self.cfg.app_id,
            "custom_id": self.cfg.custom_id,
            "version_build": self.cfg.version_build,
            "version_code": self.cfg.version_code,
            "version_os": self.cfg.version_os,
            "version_name": self.current_version(),
            "plugin_version": self.cfg.plugin_version,
            "is_emulator": self.cfg.is_emulator,
            "is_prod": self.cfg.is_prod,
            "defaultChannel": self.default_channel(),
        });
        if let Some(k) = &self.public_key {
            v["key_id"] = k.key_id().into();
        }
        v
    }

    /// Queues a stats event (`version_name` defaults to the current bundle's).
    pub fn queue_stat(
        &mut self,
        action: &str,
        version_name: Option<&str>,
        old_version_name: Option<&str>,
    ) {
        if self.cfg.stats_url.is_empty() {
            return;
        }
        let mut e = self.info_object();
        e["action"] = action.into();
        e["version_name"] = version_name
            .map(str::to_string)
            .unwrap_or_else(|| self.current_version())
            .into();
        e["old_version_name"] = old_version_name.unwrap_or("").into();
        e["timestamp"] = now_ms().into();
        self.stats.push(e);
    }

    /// The queued stats events.
    pub fn queued_stats(&self) -> &[Value] {
        self.stats.events()
    }

    /// Sends the queued stats as one array (the plugin does this every second).
    pub async fn flush_stats(&mut self) -> Flush {
        let url = self.cfg.stats_url.clone();
        self.stats.flush(&self.http, &url).await
    }

    // ---- update check ----

    /// `POST updateUrl` with the InfoObject, classified as the plugin does.
    /// A `failed` result queues `download_fail`, as the plugin does.
    pub async fn check(&mut self) -> Latest {
        let latest = self.check_inner().await;
        if let Latest::Failed { .. } = latest {
            self.queue_stat("download_fail", None, None);
        }
        latest
    }

    async fn check_inner(&self) -> Latest {
        let res = match self
            .http
            .post(&self.cfg.update_url)
            .json(&self.info_object())
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
        let s = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        if body.get("error").is_some() || body.get("kind").is_some() {
            let kind = match s("kind").as_str() {
                k @ ("up_to_date" | "blocked") => k.to_string(),
                _ => "failed".to_string(),
            };
            return if kind == "failed" {
                Latest::Failed {
                    error: s("error"),
                    message: s("message"),
                }
            } else {
                Latest::NoUpdate {
                    kind,
                    error: s("error"),
                    message: s("message"),
                }
            };
        }
        if !status.is_success() {
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
        if version.is_empty() || version == self.current_version() {
            return Latest::NoUpdate {
                kind: "up_to_date".into(),
                error: String::new(),
                message: "No need to update".into(),
            };
        }
        Latest::Update(Offer {
            version,
            url,
            checksum: s("checksum"),
            session_key: s("session_key"),
        })
    }

    // ---- download ----

    /// Downloads, verifies, decrypts and unzips an offered bundle, recording it
    /// as `pending`. On failure the matching stats action is queued and nothing
    /// of the bundle is kept.
    pub async fn download(&mut self, offer: &Offer) -> Result<BundleInfo> {
        if let Some(existing) = self
            .state
            .bundles
            .values()
            .find(|b| b.version == offer.version)
            .cloned()
        {
            match existing.status {
                BundleStatus::Pending | BundleStatus::Success => return Ok(existing),
                BundleStatus::Error if !self.cfg.auto_delete_failed => {
                    self.queue_stat("download_fail", Some(&offer.version), None);
                    return Err(DeviceError::failed(
                        "download_fail",
                        format!("{} is already in error state", offer.version),
                    ));
                }
                _ => {
                    self.state.bundles.remove(&existing.id);
                }
            }
        }
        let res = self.download_inner(offer).await;
        self.faults.interrupt_download = false;
        match res {
            Ok(b) => {
                self.queue_stat("download_complete", Some(&offer.version), None);
                Ok(b)
            }
            Err(e) => {
                if let Some(action) = e.action() {
                    self.queue_stat(action, Some(&offer.version), None);
                    if action != "download_fail" {
                        // A corrupt file is not resumed.
                        let _ = std::fs::remove_file(self.part_path(&offer.url));
                    }
                }
                Err(e)
            }
        }
    }

    fn part_path(&self, url: &str) -> std::path::PathBuf {
        self.disk.downloads_dir().join(format!(
            "{}.part",
            &crypto::sha256_hex(url.as_bytes())[..24]
        ))
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>> {
        use futures::StreamExt as _;
        use std::io::Write as _;
        let part = self.part_path(url);
        let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let mut req = self.http.get(url);
        if have > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let fail = |m: String| DeviceError::failed("download_fail", m);
        let res = req.send().await.map_err(|e| fail(e.to_string()))?;
        let status = res.status().as_u16();
        let mut file = match status {
            206 if have > 0 => std::fs::OpenOptions::new().append(true).open(&part)?,
            200 => std::fs::File::create(&part)?,
            416 if have > 0 => return Ok(std::fs::read(&part)?),
            s => return Err(fail(format!("HTTP error: {s}"))),
        };
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fail(format!("transfer interrupted: {e}")))?;
            file.write_all(&chunk)?;
        }
        file.sync_all()?;
        drop(file);
        if self.faults.interrupt_download {
            let len = std::fs::metadata(&part)?.len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&part)?
                .set_len(len / 2)?;
            return Err(fail("transfer interrupted (injected)".into()));
        }
        let mut data = std::fs::read(&part)?;
        if self.faults.corrupt_download && !data.is_empty() {
            let mid = data.len() / 2;
            data[mid] ^= 0x5a;
        }
        Ok(data)
    }

    fn verify(&self, offer: &Offer, data: Vec<u8>) -> Result<Vec<u8>> {
        if self.public_key.is_some() && offer.checksum.is_empty() {
            return Err(DeviceError::failed(
                "checksum_required",
                "publicKey is set but the bundle has no checksum",
            ));
        }
        let plain = if offer.session_key.is_empty() {
            data
        } else {
            let public = self.public_key.as_ref().ok_or_else(|| {
                DeviceError::failed(
                    "decrypt_fail",
                    "the bundle is encrypted but no publicKey is configured",
                )
            })?;
            let sk = SessionKey::open(&offer.session_key, public)
                .map_err(|e| DeviceError::failed("decrypt_fail", e.to_string()))?;
            sk.decrypt(&data)
                .map_err(|e| DeviceError::failed("decrypt_fail", e.to_string()))?
        };
        if offer.checksum.is_empty() {
            return Ok(plain);
        }
        let c = offer.checksum.as_str();
        let expected = if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) {
            c.to_string()
        } else {
            let public = self.public_key.as_ref().ok_or_else(|| {
                DeviceError::failed("checksum_fail", "encrypted checksum but no publicKey")
            })?;
            crypto::decrypt_checksum(public, c)
                .map_err(|e| DeviceError::failed("checksum_fail", e.to_string()))?
        };
        let actual = crypto::sha256_hex(&plain);
        if actual != expected {
            return Err(DeviceError::failed(
                "checksum_fail",
                format!("the bundle hashes to {actual}, expected {expected}"),
            ));
        }
        Ok(plain)
    }

    async fn download_inner(&mut self, offer: &Offer) -> Result<BundleInfo> {
        let data = self.fetch(&offer.url).await?;
        self.hit(Step::DownloadWritten)?;
        let plain = self.verify(offer, data)?;
        let plain_sha = crypto::sha256_hex(&plain);
        let id = short_id();
        let tmp = self.disk.bundles_dir().join(format!("{id}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        let extracted = {
            let tmp = tmp.clone();
            tokio::task::spawn_blocking(move || unzip::extract(&plain, &tmp))
                .await
                .map_err(|e| DeviceError::failed("unzip_fail", e.to_string()))?
        };
        if let Err(e) = extracted {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(DeviceError::failed(e.action(), e.to_string()));
        }
        self.hit(Step::Extracted)?;
        std::fs::rename(&tmp, self.disk.bundle_dir(&id))?;
        self.hit(Step::Renamed)?;
        let info = BundleInfo {
            id: id.clone(),
            version: offer.version.clone(),
            checksum: plain_sha,
            status: BundleStatus::Pending,
            downloaded_at: now_ms(),
        };
        self.state.bundles.insert(id, info.clone());
        self.save()?;
        let _ = std::fs::remove_file(self.part_path(&offer.url));
        Ok(info)
    }

    // ---- switching ----

    /// Queues a bundle to become current at the next [`Device::apply_next`].
    pub fn next(&mut self, id: &str) -> Result<()> {
        let version = self.installable(id)?;
        self.state.next = Some(id.to_string());
        self.save()?;
        let current = self.current_version();
        self.queue_stat("set_next", Some(&version), Some(&current));
        Ok(())
    }

    fn installable(&self, id: &str) -> Result<String> {
        if id == BUILTIN {
            return Ok(self.cfg.version_build.clone());
        }
        let b = self
            .state
            .bundles
            .get(id)
            .ok_or_else(|| DeviceError::failed("set_fail", format!("no bundle {id}")))?;
        if matches!(b.status, BundleStatus::Error | BundleStatus::Deleted)
            || !self.disk.bundle_dir(id).join("index.html").is_file()
        {
            return Err(DeviceError::failed(
                "set_fail",
                format!("bundle {id} ({}) cannot be installed", b.version),
            ));
        }
        Ok(b.version.clone())
    }

    /// The app went to the background: switch to the queued bundle, if any.
    pub fn apply_next(&mut self) -> Result<bool> {
        match self.state.next.clone() {
            Some(next) if next != self.state.current => {
                self.set(&next)?;
                Ok(true)
            }
            Some(_) => {
                self.state.next = None;
                self.save()?;
                Ok(false)
            }
            None => Ok(false),
        }
    }

    /// Makes a bundle current now (the web view reloads into it). It must call
    /// [`Device::notify_app_ready`] within `appReadyTimeout`.
    pub fn set(&mut self, id: &str) -> Result<()> {
        let version = match self.installable(id) {
            Ok(v) => v,
            Err(e) => {
                self.queue_stat("set_fail", None, None);
                return Err(e);
            }
        };
        let old = self.current_version();
        self.state.current = id.to_string();
        if self.state.next.as_deref() == Some(id) {
            self.state.next = None;
        }
        let pending = self
            .state
            .bundles
            .get(id)
            .is_some_and(|b| b.status != BundleStatus::Success);
        self.state.ready_deadline =
            pending.then(|| now_ms() + self.cfg.app_ready_timeout.as_millis() as i64);
        self.save()?;
        self.queue_stat("set", Some(&version), Some(&old));
        Ok(())
    }

    /// The running bundle started fine: it becomes the fallback; the previous
    /// fallback is deleted when `auto_delete_previous` is on.
    pub fn notify_app_ready(&mut self) -> Result<()> {
        let current = self.state.current.clone();
        let previous = self.state.fallback.clone();
        if let Some(b) = self.state.bundles.get_mut(&current) {
            b.status = BundleStatus::Success;
        }
        self.state.ready_deadline = None;
        self.state.fallback = current.clone();
        let delete_previous = self.cfg.auto_delete_previous
            && previous != BUILTIN
            && previous != current
            && self.state.next.as_deref() != Some(previous.as_str());
        if delete_previous {
            if let Some(b) = self.state.bundles.get_mut(&previous) {
                b.status = BundleStatus::Deleted;
            }
        }
        self.save()?;
        if delete_previous {
            let _ = std::fs::remove_dir_all(self.disk.bundle_dir(&previous));
            let v = self.state.bundles.get(&previous).map(|b| b.version.clone());
            self.queue_stat("delete", v.as_deref(), None);
        }
        self.queue_stat("app_launch_ready", None, None);
        Ok(())
    }

    /// When the confirmation deadline of the current bundle has passed, rolls
    /// back (the plugin's `checkRevert`). Returns whether it did.
    pub async fn check_app_ready(&mut self) -> Result<bool> {
        match self.state.ready_deadline {
            Some(deadline) if now_ms() >= deadline => {
                self.rollback()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Waits out the confirmation window, then rolls back if the bundle never
    /// confirmed (what the plugin's timer does while the app runs).
    pub async fn wait_app_ready(&mut self) -> Result<bool> {
        if let Some(deadline) = self.state.ready_deadline {
            let wait = (deadline - now_ms()).max(0) as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        self.check_app_ready().await
    }

    fn rollback(&mut self) -> Result<()> {
        let failed = self.state.current.clone();
        let failed_version = self.current_version();
        self.queue_stat("app_launch_timeout", None, None);
        self.queue_stat("update_fail", Some(&failed_version), None);
        let fallback = if self.installable(&self.state.fallback.clone()).is_ok() {
            self.state.fallback.clone()
        } else {
            BUILTIN.to_string()
        };
        if let Some(b) = self.state.bundles.get_mut(&failed) {
            b.status = if self.cfg.auto_delete_failed {
                BundleStatus::Deleted
            } else {
                BundleStatus::Error
            };
        }
        self.state.current = fallback.clone();
        self.state.ready_deadline = None;
        if self.state.next.as_deref() == Some(failed.as_str()) {
            self.state.next = None;
        }
        self.save()?;
        if self.cfg.auto_delete_failed && failed != BUILTIN {
            let _ = std::fs::remove_dir_all(self.disk.bundle_dir(&failed));
        }
        if fallback != BUILTIN {
            let v = self.current_version();
            self.queue_stat("set", Some(&v), Some(&failed_version));
        }
        Ok(())
    }

    /// Back to the builtin bundle.
    pub fn reset(&mut self) -> Result<()> {
        let old = self.current_version();
        self.state.current = BUILTIN.into();
        self.state.next = None;
        self.state.ready_deadline = None;
        self.save()?;
        self.queue_stat("reset", Some(&self.cfg.version_build.clone()), Some(&old));
        Ok(())
    }

    /// Deletes a bundle's files (not the current or next one).
    pub fn delete(&mut self, id: &str) -> Result<()> {
        if id == self.state.current || self.state.next.as_deref() == Some(id) || id == BUILTIN {
            return Err(DeviceError::failed(
                "delete_fail",
                format!("bundle {id} is in use"),
            ));
        }
        let Some(b) = self.state.bundles.get_mut(id) else {
            return Err(DeviceError::failed(
                "delete_fail",
                format!("no bundle {id}"),
            ));
        };
        b.status = BundleStatus::Deleted;
        let version = b.version.clone();
        if self.state.fallback == id {
            self.state.fallback = BUILTIN.into();
        }
        self.save()?;
        let _ = std::fs::remove_dir_all(self.disk.bundle_dir(id));
        self.queue_stat("delete", Some(&version), None);
        Ok(())
    }

    /// What the plugin does on each app foreground with auto-update on:
    /// check; download a new bundle and switch to it (`set_next` then, as the
    /// app goes to background, `set`); or revert when told so.
    pub async fn update_cycle(&mut self) -> Result<Cycle> {
        match self.check().await {
            Latest::Update(offer) => match self.download(&offer).await {
                Ok(b) => {
                    self.next(&b.id)?;
                    self.apply_next()?;
                    Ok(Cycle::Installed(offer.version))
                }
                Err(e @ DeviceError::Injected(_)) | Err(e @ DeviceError::Io(_)) => Err(e),
                Err(e) => Ok(Cycle::Failed(
                    e.action().unwrap_or("download_fail").to_string(),
                )),
            },
            Latest::RevertToBuiltin => {
                if self.state.current != BUILTIN {
                    self.reset()?;
                    Ok(Cycle::Reverted)
                } else {
                    Ok(Cycle::UpToDate)
                }
            }
            Latest::NoUpdate { .. } => Ok(Cycle::UpToDate),
            Latest::Failed { error, .. } => Ok(Cycle::Failed(error)),
        }
    }

    // ---- channels ----

    /// `POST channelUrl`: asks to move to `channel`; on success the device
    /// stores it and sends it as `defaultChannel` from now on.
    pub async fn set_channel(&mut self, channel: &str) -> Result<Value> {
        let mut body = self.info_object();
        body["channel"] = channel.into();
        let v = self.channel_call(reqwest::Method::POST, Some(body)).await?;
        if v.get("error").is_some() {
            return Err(DeviceError::failed(
                "set_channel_fail",
                format!(
                    "{}: {}",
                    v["error"].as_str().unwrap_or(""),
                    v["message"].as_str().unwrap_or("")
                ),
            ));
        }
        self.state.channel = if v.get("unset").and_then(Value::as_bool) == Some(true) {
            None
        } else {
            Some(channel.to_string())
        };
        self.save()?;
        Ok(v)
    }

    /// `PUT channelUrl`: which channel the server serves this device from; a
    /// channel in the reply is saved as the device's `defaultChannel`.
    pub async fn get_channel(&mut self) -> Result<Value> {
        let body = self.info_object();
        let res = self
            .http
            .put(&self.cfg.channel_url)
            .json(&body)
            .send()
            .await
            .map_err(|e| DeviceError::failed("get_channel_fail", e.to_string()))?;
        let status = res.status().as_u16();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        if status == 400 && v.to_string().contains("channel_not_found") {
            if let Some(local) = &self.state.channel {
                return Ok(json!({"channel": local, "status": "default"}));
            }
        }
        if !(200..300).contains(&status) || v.get("error").is_some() {
            return Err(DeviceError::failed(
                "get_channel_fail",
                format!("HTTP {status}: {v}"),
            ));
        }
        if let Some(c) = v
            .get("channel")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty() && *c != BUILTIN)
        {
            self.state.channel = Some(c.to_string());
            self.save()?;
        }
        Ok(v)
    }

    /// `GET channelUrl`: the channels this device may switch to (a bare array).
    pub async fn list_channels(&self) -> Result<Vec<Value>> {
        let info = self.info_object();
        let query: Vec<(String, String)> = info
            .as_object()
            .expect("object")
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect();
        let res = self
            .http
            .get(&self.cfg.channel_url)
            .query(&query)
            .send()
            .await
            .map_err(|e| DeviceError::failed("list_channels_fail", e.to_string()))?;
        let v: Value = res
            .json()
            .await
            .map_err(|e| DeviceError::failed("list_channels_fail", e.to_string()))?;
        match v {
            Value::Array(a) => Ok(a),
            other => Err(DeviceError::failed("list_channels_fail", other.to_string())),
        }
    }

    /// Forgets the saved channel (local only, as plugins since 7.34 do).
    pub fn unset_channel(&mut self) -> Result<()> {
        self.state.channel = None;
        self.save()
    }

    async fn channel_call(&self, method: reqwest::Method, body: Option<Value>) -> Result<Value> {
        if self.cfg.channel_url.is_empty() {
            return Err(DeviceError::failed("missing_config", "channelUrl is empty"));
        }
        let mut req = self.http.request(method, &self.cfg.channel_url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req
            .send()
            .await
            .map_err(|e| DeviceError::failed("channel_fail", e.to_string()))?;
        Ok(res.json().await.unwrap_or(Value::Null))
    }
}
