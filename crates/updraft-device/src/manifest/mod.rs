//! Manifest (delta) downloads, as the plugin does them (reference:
//! plugin-protocol §1.7, §4.3, §4.5): the offer lists every file of the
//! bundle with the SHA-256 of its content on the device; a file the device
//! already holds with that hash is copied, the others are fetched in
//! parallel, each decrypted (encrypted bundles), Brotli-decoded (a `.br`
//! name) and verified before it counts. Files the device holds: the builtin
//! web assets at the same path, the download cache (`delta/<hash>_<base
//! name>`, every file fetched for the last manifest install), and — beyond
//! the plugin — the running bundle's own file at the same path.
//!
//! A failing file is reported with the plugin's per-file action and
//! `version_name` `"<version>:<file_name>"`; the download then fails as a
//! whole and nothing of the bundle is kept.

mod files;
mod patch;
mod size;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use updraft_core::crypto::{self, PublicKey, SessionKey};
use updraft_core::layout::check_entry_name;
use updraft_core::manifest::BROTLI_SUFFIX;
use updraft_protocol::device::FilePatchOffer;

use crate::check::Offer;
use crate::store::{BundleInfo, BundleStatus};
use crate::{now_ms, short_id, verify, Device, DeviceError, Result, Step};
use files::{copy_counted, make_parent, update_cache};

/// One file of a manifest update, as the server sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestItem {
    /// Path in the bundle; a `.br` suffix means a Brotli stream stored without it.
    pub file_name: String,
    /// SHA-256 of the file as stored (RSA-encrypted, 512 hex, when the bundle is).
    /// Android fails only this file when it is missing.
    #[serde(default)]
    pub file_hash: String,
    /// Absolute URL of the bytes to fetch.
    pub download_url: String,
}

/// Files fetched at once: the plugin's `clamp(2 × cores, 8, 64)` on a phone
/// with at most four cores.
const PARALLEL: usize = 8;

/// The directory of the download cache, under the device's data directory.
pub(crate) const CACHE_DIR: &str = "delta";

/// What the last download transferred.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DownloadReport {
    /// Whether it was a manifest (per-file) download rather than the zip.
    pub manifest: bool,
    /// Files fetched over the network (the zip counts as one, and so does
    /// each patch; a patch that failed and its whole file count as two).
    pub fetched: u64,
    /// Bytes fetched over the network (as sent: compressed, encrypted).
    pub fetched_bytes: u64,
    /// Files copied from what the device held (builtin, cache, running bundle).
    pub reused: u64,
    /// Files rebuilt from a file the device held and a fetched patch.
    pub patched: u64,
    /// Patches that failed (not fetched, or not rebuilding the file): the
    /// whole file was fetched instead.
    pub patch_fallbacks: u64,
}

/// The server's answer to how much a manifest update would download
/// (`POST {updateUrl}/manifest_size`, the plugin's `getBundleDownloadSize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadSize {
    /// Bytes of the files the device lacks whose size the server knows.
    pub total_size: u64,
    /// Files the device lacks whose size the server knows.
    pub known_files: u64,
    /// Files the device lacks whose size the server does not know.
    pub unknown_files: u64,
}

/// What a manifest download did so far, and may still unpack.
#[derive(Default)]
struct Tally {
    /// Bytes the bundle may still unpack to.
    left: AtomicU64,
    fetched: AtomicU64,
    fetched_bytes: AtomicU64,
    reused: AtomicU64,
    patched: AtomicU64,
    patch_fallbacks: AtomicU64,
    /// Files fetched or patched (path, hash): the cache's once installed.
    fresh: std::sync::Mutex<Vec<(String, String)>>,
}

/// One entry, checked: where it lands and what it must hash to.
#[derive(Debug, Clone)]
struct Planned {
    item: ManifestItem,
    /// Path in the bundle folder (`file_name` without `.br`).
    target: String,
    brotli: bool,
    /// Lower-case hex SHA-256 the stored file must have.
    hash: String,
}

/// A failure of one file: the plugin's action for it and what went wrong.
struct FileFail {
    action: &'static str,
    file_name: String,
    message: String,
}

impl FileFail {
    /// A failure of `item`. Its stat names the entry's `file_name`, or for
    /// a checksum or Brotli failure the stored path (without `.br`), as iOS
    /// sends them.
    fn new(action: &'static str, item: &ManifestItem, message: impl Into<String>) -> Self {
        let name = &item.file_name;
        let file_name = match action {
            "download_manifest_checksum_fail" | "download_manifest_brotli_fail" => {
                name.strip_suffix(BROTLI_SUFFIX).unwrap_or(name)
            }
            _ => name,
        };
        Self {
            action,
            file_name: file_name.to_string(),
            message: message.into(),
        }
    }
}

/// What a manifest may not do before a byte is fetched: a path that escapes
/// the bundle or names a file twice (`a.js` and `a.js.br` are the same file),
/// a hash that is not a SHA-256 (after RSA decryption for an encrypted bundle).
fn plan(
    items: &[ManifestItem],
    public: Option<&PublicKey>,
    session: Option<&SessionKey>,
) -> std::result::Result<Vec<Planned>, Fail> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (target, brotli) = match item.file_name.strip_suffix(BROTLI_SUFFIX) {
            Some(t) => (t.to_string(), true),
            None => (item.file_name.clone(), false),
        };
        let path_fail = |m: String| Fail::File(FileFail::new("manifest_path_fail", item, m));
        check_entry_name(&target).map_err(|e| path_fail(e.to_string()))?;
        if target.split('/').any(|s| s.is_empty() || s == ".") {
            return Err(path_fail(format!("{target} is not a file path")));
        }
        if !seen.insert(target.clone()) {
            return Err(path_fail(format!("{target} is listed twice")));
        }
        // A missing hash, or one that does not decrypt, fails the entry
        // without a stat of its own (the plugin's behaviour).
        let no_hash = |m: String| {
            Fail::Device(DeviceError::failed(
                "download_fail",
                format!("{}: {m}", item.file_name),
            ))
        };
        let hash = match (session, public) {
            (Some(_), Some(public)) => crypto::decrypt_checksum(public, &item.file_hash)
                .map_err(|e| no_hash(e.to_string()))?,
            _ => item.file_hash.to_ascii_lowercase(),
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(no_hash(format!("{:?} is not a SHA-256", item.file_hash)));
        }
        out.push(Planned {
            item: item.clone(),
            target,
            brotli,
            hash,
        });
    }
    // A file cannot also be the folder of another (`a` beside `a/b`).
    for p in &out {
        let mut at = 0;
        while let Some(i) = p.target[at..].find('/') {
            at += i;
            if seen.contains(&p.target[..at]) {
                return Err(Fail::File(FileFail::new(
                    "manifest_path_fail",
                    &p.item,
                    format!("{} is also a file", &p.target[..at]),
                )));
            }
            at += 1;
        }
    }
    Ok(out)
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether `path` is a file with SHA-256 `hash`.
fn holds(path: &Path, hash: &str) -> bool {
    path.is_file() && verify::hash_file(path).is_ok_and(|h| h == hash)
}

impl Device {
    /// The download cache's folder.
    pub(crate) fn cache_dir(&self) -> PathBuf {
        self.cfg.data_dir.join(CACHE_DIR)
    }

    /// Where the device may hold `p`'s file: its builtin assets at the same
    /// path, the cache, the running bundle at the same path.
    fn local_candidates(&self, p: &Planned) -> Vec<PathBuf> {
        let builtin = self.cfg.builtin_dir.as_ref().map(|d| d.join(&p.target));
        let cached = Some(
            self.cache_dir()
                .join(format!("{}_{}", p.hash, base_name(&p.target))),
        );
        let running = self.current_dir().map(|d| d.join(&p.target));
        [builtin, cached, running].into_iter().flatten().collect()
    }

    /// A file the device already holds with `p`'s hash, if any (blocking).
    fn local_copy(&self, p: &Planned) -> Option<PathBuf> {
        self.local_candidates(p)
            .into_iter()
            .find(|path| holds(path, &p.hash))
    }

    /// Copies a file the device holds with `p`'s hash to `dest`, hashing
    /// the candidates off the async threads; whether there was one.
    async fn reuse(
        &self,
        p: &Planned,
        dest: &Path,
        tally: &Tally,
    ) -> std::result::Result<bool, Fail> {
        let (candidates, hash, to) = (self.local_candidates(p), p.hash.clone(), dest.to_path_buf());
        let copied = tokio::task::spawn_blocking(move || {
            match candidates.into_iter().find(|c| holds(c, &hash)) {
                Some(src) => std::fs::copy(&src, &to).map(Some),
                None => Ok(None),
            }
        })
        .await
        .map_err(|e| DeviceError::failed("download_fail", e.to_string()))?
        .map_err(DeviceError::from)?;
        let Some(len) = copied else {
            return Ok(false);
        };
        tally.reused.fetch_add(1, Ordering::Relaxed);
        files::take(&tally.left, len).map_err(|m| DeviceError::failed("download_fail", m))?;
        Ok(true)
    }

    /// Downloads a manifest offer into a new bundle folder (see the module
    /// docs). Per-file failures are queued here; the error's action is the
    /// failing file's.
    pub(crate) async fn download_manifest(
        &mut self,
        offer: &Offer,
        session: Option<SessionKey>,
        expected: Option<String>,
    ) -> Result<BundleInfo> {
        self.queue_stat("download_manifest_start", Some(&offer.version), None);
        let res = self.fetch_manifest(offer, session, expected).await;
        match res {
            Ok(info) => {
                self.queue_stat("download_manifest_complete", Some(&offer.version), None);
                Ok(info)
            }
            Err(Fail::File(f)) => {
                let version = format!("{}:{}", offer.version, f.file_name);
                self.queue_stat(f.action, Some(&version), None);
                Err(DeviceError::failed(
                    f.action,
                    format!("{}: {}", f.file_name, f.message),
                ))
            }
            Err(Fail::Device(e)) => Err(e),
        }
    }

    async fn fetch_manifest(
        &mut self,
        offer: &Offer,
        session: Option<SessionKey>,
        expected: Option<String>,
    ) -> std::result::Result<BundleInfo, Fail> {
        let limits = self.cfg.unzip_limits;
        if offer.manifest.len() > limits.max_entries {
            return Err(DeviceError::failed(
                "download_fail",
                format!(
                    "the manifest lists {} files, more than {}",
                    offer.manifest.len(),
                    limits.max_entries
                ),
            )
            .into());
        }
        let planned = plan(&offer.manifest, self.public_key.as_ref(), session.as_ref())?;
        let id = short_id();
        let tmp = self.disk.bundles_dir().join(format!("{id}.tmp"));
        let cache = self.cache_dir();
        std::fs::create_dir_all(&cache).map_err(DeviceError::from)?;
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(DeviceError::from)?;
        let tally = Tally {
            left: AtomicU64::new(limits.max_total_bytes),
            ..Tally::default()
        };
        let res = self
            .fill(&planned, &tmp, session.as_ref(), &tally, &offer.patches)
            .await;
        self.last_download = Some(DownloadReport {
            manifest: true,
            fetched: tally.fetched.into_inner(),
            fetched_bytes: tally.fetched_bytes.into_inner(),
            reused: tally.reused.into_inner(),
            patched: tally.patched.into_inner(),
            patch_fallbacks: tally.patch_fallbacks.into_inner(),
        });
        if let Err(e) = res {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        self.hit(Step::Extracted)?;
        std::fs::rename(&tmp, self.disk.bundle_dir(&id)).map_err(DeviceError::from)?;
        self.hit(Step::Renamed)?;
        let info = BundleInfo {
            id: id.clone(),
            version: offer.version.clone(),
            // The bundle's checksum as the zip path records it (decrypted).
            checksum: expected.unwrap_or_else(|| offer.checksum.clone()),
            status: BundleStatus::Pending,
            downloaded_at: now_ms(),
        };
        self.state.bundles.insert(id.clone(), info.clone());
        self.save()?;
        let fresh = tally
            .fresh
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bundle = self.disk.bundle_dir(&id);
        let _ =
            tokio::task::spawn_blocking(move || update_cache(&cache, &bundle, &fresh, &planned))
                .await;
        Ok(info)
    }

    /// Puts every planned file into `tmp`, `PARALLEL` at a time; the first
    /// failure stops the rest. Entries with a URL already fetched for another
    /// are copied from it once the fetches are done (each fetch owns its
    /// partial file).
    async fn fill(
        &self,
        planned: &[Planned],
        tmp: &Path,
        session: Option<&SessionKey>,
        tally: &Tally,
        patches: &[FilePatchOffer],
    ) -> std::result::Result<(), Fail> {
        use futures::StreamExt as _;
        let mut first_of_url = std::collections::HashMap::new();
        let (mut once, mut again) = (Vec::new(), Vec::new());
        for p in planned {
            match first_of_url.entry(p.item.download_url.as_str()) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(p.target.as_str());
                    once.push(p);
                }
                std::collections::hash_map::Entry::Occupied(o) => again.push((p, *o.get())),
            }
        }
        let patches: std::collections::HashMap<&str, &FilePatchOffer> = patches
            .iter()
            .filter(|o| o.format == updraft_core::patch::FORMAT)
            .map(|o| (o.file_name.as_str(), o))
            .collect();
        let gate = tokio::sync::Semaphore::new(patch::AT_ONCE);
        let gate = &gate;
        let mut jobs = futures::stream::iter(once.into_iter().map(|p| {
            let patch = patches.get(p.item.file_name.as_str()).copied();
            async move {
                let dest = make_parent(tmp, p)?;
                if self.reuse(p, &dest, tally).await? {
                    return Ok(());
                }
                if let Some(o) = patch {
                    match self.patch_one(p, o, &dest, tally, gate).await {
                        Ok(()) => {
                            tally.patched.fetch_add(1, Ordering::Relaxed);
                            tally
                                .fresh
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push((p.target.clone(), p.hash.clone()));
                            return Ok(());
                        }
                        Err(e) => {
                            tracing::info!(file = p.target, error = %e, "patch failed; fetching the whole file");
                            tally.patch_fallbacks.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                self.fetch_one(p, &dest, session, tally).await
            }
        }))
        .buffer_unordered(PARALLEL);
        while let Some(r) = jobs.next().await {
            r?;
        }
        drop(jobs);
        // Off the async threads: copies and hashes.
        let again: Vec<(Planned, String)> = again
            .into_iter()
            .map(|(p, first)| (p.clone(), first.to_string()))
            .collect();
        let (tmp, left) = (tmp.to_path_buf(), tally.left.load(Ordering::Relaxed));
        let copied = tokio::task::spawn_blocking(move || {
            let budget = AtomicU64::new(left);
            for (p, first) in &again {
                let dest = make_parent(&tmp, p)?;
                copy_counted(&tmp.join(first), &dest, &budget)?;
                if !holds(&dest, &p.hash) {
                    return Err(Fail::File(FileFail::new(
                        "download_manifest_checksum_fail",
                        &p.item,
                        format!("{} does not hash to {}", p.target, p.hash),
                    )));
                }
            }
            Ok((again.len() as u64, left - budget.into_inner()))
        })
        .await
        .map_err(|e| DeviceError::failed("download_fail", e.to_string()))?;
        let (n, used) = copied?;
        tally.reused.fetch_add(n, Ordering::Relaxed);
        files::take(&tally.left, used).map_err(|m| DeviceError::failed("download_fail", m))?;
        Ok(())
    }
}

/// Why a manifest download failed: one file, or the device itself.
enum Fail {
    File(FileFail),
    Device(DeviceError),
}

impl From<DeviceError> for Fail {
    fn from(e: DeviceError) -> Self {
        Self::Device(e)
    }
}
