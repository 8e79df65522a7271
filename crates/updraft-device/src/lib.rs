//! `updraft-device`: the device side of Updraft, behaving like the
//! `@capgo/capacitor-updater` plugin (reference/plugin-protocol.md §1–5).
//!
//! A [`Device`] checks for updates with the plugin's request body and reply
//! rules, downloads a bundle (resuming with `Range`), verifies its checksum,
//! decrypts Capgo v2 bundles, unzips it safely (or fetches a manifest update
//! file by file, reusing what it holds and applying byte-level patches: see
//! [`manifest`]), switches to it, and rolls back
//! to the last good bundle (or builtin) when the new one does not call
//! [`Device::notify_app_ready`] in time, reporting `update_fail`. Its state
//! survives a kill at any point (see [`store`]) and a damaged data directory
//! (see [`repair`]). Stats are queued, persisted and sent as the plugin sends
//! them (see [`stats`]).
//!
//! Uses: end-to-end tests of the whole system, `updraft-sim` (a simulated
//! fleet), and Rust apps (Tauri and others) that want live updates.

#![deny(missing_docs)]

mod channel;
pub mod check;
pub mod config;
mod download;
mod health;
mod lifecycle;
pub mod manifest;
pub mod repair;
pub mod stats;
pub mod store;
pub mod unzip;
mod verify;

use std::time::Duration;

use serde_json::{json, Map, Value};
use updraft_core::crypto::PublicKey;

pub use check::{classify, normalize_kind, Latest, Offer};
pub use config::DeviceConfig;
pub use manifest::{DownloadReport, DownloadSize, ManifestItem};
pub use repair::Repair;
pub use stats::Flush;
pub use store::{BundleInfo, BundleStatus, BUILTIN};
pub use unzip::UnzipLimits;

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
    /// A failpoint set with [`Device::fail_at_hit`] fired at this step.
    #[error("injected failure at {0:?}")]
    Injected(Step),
    /// An operation failed the way the plugin reports with `action`.
    #[error("{action}: {message}")]
    Failed {
        /// The stats action sent, e.g. `download_fail`.
        action: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A channel call failed; `error` is the plugin's code (the server's
    /// `error`, or `response_error`, `parse_error`, `network_error`, ...).
    #[error("{error}: {message}")]
    Channel {
        /// The plugin's error code.
        error: String,
        /// What went wrong.
        message: String,
    },
    /// The configuration cannot be used (a bad public key, an HTTP client that cannot be built).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Reading or writing the data directory failed.
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

/// What the device's operations return.
pub type Result<T> = std::result::Result<T, DeviceError>;

/// What one [`Device::update_cycle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cycle {
    /// Nothing new.
    UpToDate,
    /// The check or download failed (with the stats action sent).
    Failed(String),
    /// Switched to this version (pending until confirmed).
    Installed(String),
    /// Downloaded and queued: it becomes current at the next start
    /// ([`Device::apply_next`]).
    Queued(String),
    /// Went back to builtin because the channel points there.
    Reverted,
}

/// Faults and measurements to inject (simulation and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Flip a byte of every downloaded file (the check then fails).
    pub corrupt_download: bool,
    /// Cut the next download half-way (the following attempt resumes with `Range`).
    pub interrupt_download: bool,
    /// The launch time `app_launch_ready` reports (`metadata.duration_ms`)
    /// instead of the time since the web view loaded the bundle.
    pub launch_time: Option<Duration>,
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
    repairs: Vec<Repair>,
    /// When the web view last loaded a bundle (epoch ms): the start of the
    /// launch `app_launch_ready` times.
    launch_started_at: i64,
    /// What the last download transferred.
    last_download: Option<DownloadReport>,
}

/// Epoch milliseconds now (0 if the clock is before 1970; `i64::MAX` past year 292 million).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration in whole milliseconds, `i64::MAX` for one too long to count.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
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
    /// confirmation deadline passed while the app was not running. It reads and
    /// writes the data directory with blocking file calls, as every other
    /// method does.
    pub fn open(cfg: DeviceConfig) -> Result<Device> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(format!(
                "CapacitorUpdater/{} ({}) {}/{}",
                cfg.plugin_version, cfg.app_id, cfg.platform, cfg.version_os
            ))
            .build()
            .map_err(|e| DeviceError::Config(e.to_string()))?;
        Self::open_with(cfg, http)
    }

    /// [`Device::open`] with a shared HTTP client (a fleet shares one pool).
    pub fn open_with(cfg: DeviceConfig, http: reqwest::Client) -> Result<Device> {
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
        let (state, mut repairs) = disk.open()?;
        let (stats, stats_repair) = StatsQueue::load(disk.stats_path());
        repairs.extend(stats_repair);
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
            repairs,
            launch_started_at: now_ms(),
            last_download: None,
        };
        // A current bundle whose folder was gone: back on builtin, reported as
        // the plugin reports its own reset.
        let lost = d.repairs.iter().find_map(|r| match r {
            Repair::CurrentMissing { version, .. } => Some(version.clone()),
            _ => None,
        });
        if let Some(old) = lost {
            let builtin = d.current_version();
            d.queue_stat("reset", Some(&builtin), Some(&old));
        }
        d.check_app_ready()?;
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

    /// What the last download transferred (`None` before the first).
    pub fn last_download(&self) -> Option<DownloadReport> {
        self.last_download
    }

    /// What [`Device::open`] found damaged on disk and repaired (each one is
    /// also logged as a warning).
    pub fn repairs(&self) -> &[Repair] {
        &self.repairs
    }

    /// The configuration the device was opened with.
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
        self.queue_stat_with(action, version_name, old_version_name, Map::new());
    }

    /// [`Device::queue_stat`] with the event's `metadata` (left out when empty).
    pub(crate) fn queue_stat_with(
        &mut self,
        action: &str,
        version_name: Option<&str>,
        old_version_name: Option<&str>,
        metadata: Map<String, Value>,
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
        if !metadata.is_empty() {
            e["metadata"] = Value::Object(metadata);
        }
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

    /// What the plugin does on each app foreground with auto-update on:
    /// check; download a new bundle and switch to it (`set_next` then, as the
    /// app goes to background, `set`); or revert when told so.
    pub async fn update_cycle(&mut self) -> Result<Cycle> {
        match self.foreground().await? {
            Cycle::Queued(version) => {
                self.apply_next()?;
                Ok(Cycle::Installed(version))
            }
            other => Ok(other),
        }
    }

    /// The foreground half of [`Device::update_cycle`]: check, download a new
    /// bundle and queue it for the next start (`set_next`), or switch to it
    /// at once when the deploy is critical (`set`); revert when told so.
    pub async fn foreground(&mut self) -> Result<Cycle> {
        match self.check().await {
            Latest::Update(offer) => match self.download(&offer).await {
                Ok(b) if offer.critical => {
                    self.set(&b.id)?;
                    Ok(Cycle::Installed(offer.version))
                }
                Ok(b) => {
                    self.next(&b.id)?;
                    Ok(Cycle::Queued(offer.version))
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
}
