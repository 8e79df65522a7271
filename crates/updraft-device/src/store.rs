//! On-disk state, written so that a kill between any two steps leaves either
//! the old or the new bundle active, never a half-written one:
//!
//! - `state.json` (current, next and fallback bundle, records, local channel)
//!   is replaced atomically: written to a temporary file, synced, renamed.
//! - A bundle is extracted into `bundles/<id>.tmp`, renamed to `bundles/<id>`,
//!   and only then recorded in the state; the state is what decides which
//!   bundle is active, and it only ever names complete folders.
//! - At open, folders the state does not reference (an interrupted download)
//!   are removed, and records whose folder is gone are dropped
//!   ([`crate::repair`]).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::repair::{move_aside, reconcile, salvage_device_id, Repair};
use crate::Step;

/// The bundle shipped inside the app.
pub const BUILTIN: &str = "builtin";

/// Where a bundle is in its life (the plugin's statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BundleStatus {
    /// Downloaded and verified, not yet confirmed by `notify_app_ready`.
    Pending,
    /// Confirmed: it started and called `notify_app_ready`.
    Success,
    /// Rolled back; not installed again.
    Error,
    /// Files removed; the record is kept as a tombstone.
    Deleted,
}

/// One downloaded bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// The folder name under `bundles/` (random, not the version).
    pub id: String,
    /// The version name the server offered.
    pub version: String,
    /// SHA-256 of the plaintext zip.
    pub checksum: String,
    /// Where it is in its life.
    pub status: BundleStatus,
    /// Epoch milliseconds.
    pub downloaded_at: i64,
}

/// Everything the device persists besides files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// This install's UUID, made at first start.
    pub device_id: String,
    /// The active bundle id, or `builtin`.
    pub current: String,
    /// Bundle to switch to at the next `apply_next`.
    pub next: Option<String>,
    /// The last bundle that reached success (what a rollback returns to).
    pub fallback: String,
    /// When the current bundle must have called `notify_app_ready` (epoch ms).
    pub ready_deadline: Option<i64>,
    /// Every bundle downloaded, by id (tombstones included).
    pub bundles: BTreeMap<String, BundleInfo>,
    /// Channel saved by a successful `set_channel` / `get_channel`.
    pub channel: Option<String>,
}

impl State {
    fn new() -> Self {
        Self {
            device_id: uuid::Uuid::new_v4().to_string().to_lowercase(),
            current: BUILTIN.into(),
            next: None,
            fallback: BUILTIN.into(),
            ready_deadline: None,
            bundles: BTreeMap::new(),
            channel: None,
        }
    }
}

/// How long a partial download is kept for a resume.
const PART_KEPT: std::time::Duration = std::time::Duration::from_secs(3_600);

/// The device's directory.
#[derive(Debug, Clone)]
pub(crate) struct Disk {
    pub(crate) root: PathBuf,
}

impl Disk {
    pub(crate) fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    pub(crate) fn bundles_dir(&self) -> PathBuf {
        self.root.join("bundles")
    }

    pub(crate) fn bundle_dir(&self, id: &str) -> PathBuf {
        self.bundles_dir().join(id)
    }

    pub(crate) fn downloads_dir(&self) -> PathBuf {
        self.root.join("downloads")
    }

    pub(crate) fn stats_path(&self) -> PathBuf {
        self.root.join("stats.json")
    }

    /// Loads the state (a new one, with a new device id, on first start),
    /// repairs what does not match the disk (see [`crate::repair`]) and removes
    /// what an interrupted operation left behind. An unreadable state file is
    /// moved aside and the device starts on builtin, keeping its device id when
    /// the file still shows it.
    pub(crate) fn open(&self) -> std::io::Result<(State, Vec<Repair>)> {
        std::fs::create_dir_all(self.bundles_dir())?;
        std::fs::create_dir_all(self.downloads_dir())?;
        let mut repairs = Vec::new();
        let path = self.state_path();
        let loaded = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<State>(&bytes) {
                Ok(s) => Some(s),
                Err(e) => {
                    repairs.push(move_aside(&path, format!("not a valid state: {e}")));
                    let mut s = State::new();
                    if let Some(id) = salvage_device_id(&bytes) {
                        s.device_id = id;
                    }
                    self.save(&s, &mut |_| Ok(()))?;
                    Some(s)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                repairs.push(move_aside(&path, format!("cannot be read: {e}")));
                None
            }
        };
        let mut state = match loaded {
            Some(s) => s,
            None => {
                let s = State::new();
                self.save(&s, &mut |_| Ok(()))?;
                s
            }
        };
        // Ids are ours (short lower-case alphanumerics): anything else in a
        // record cannot name a folder inside `bundles/`.
        let fixed = reconcile(&mut state, |id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric())
                && self.bundle_dir(id).join("index.html").is_file()
        });
        if !fixed.is_empty() {
            self.save(&state, &mut |_| Ok(()))?;
            repairs.extend(fixed);
        }
        for entry in std::fs::read_dir(self.bundles_dir())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let live = state
                .bundles
                .get(&name)
                .is_some_and(|b| b.status != BundleStatus::Deleted);
            if !live {
                let _ = std::fs::remove_dir_all(entry.path());
                let _ = std::fs::remove_file(entry.path());
            }
        }
        // Plaintext zips and manifest files of a download that was being
        // unpacked when killed; `.part` files stay for a resume, for an hour
        // (the plugin's rule for its partial files).
        for entry in std::fs::read_dir(self.downloads_dir())? {
            let path = entry?.path();
            let stale_part = path.extension().is_some_and(|e| e == "part")
                && std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > PART_KEPT));
            if stale_part || path.extension().is_some_and(|e| e == "zip" || e == "plain") {
                let _ = std::fs::remove_file(path);
            }
        }
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok((state, repairs))
    }

    /// Replaces `state.json` atomically. `hook` is the failpoint between the
    /// temporary file being written and the rename.
    pub(crate) fn save(
        &self,
        state: &State,
        hook: &mut dyn FnMut(Step) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        write_atomic(&self.state_path(), &serde_json::to_vec_pretty(state)?, hook)
    }
}

/// Writes `data` to `path` through a synced temporary file and a rename.
pub fn write_atomic(
    path: &Path,
    data: &[u8],
    hook: &mut dyn FnMut(Step) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    hook(Step::StateTempWritten)?;
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
