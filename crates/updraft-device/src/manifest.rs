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

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use updraft_core::crypto::{self, PublicKey, SessionKey};
use updraft_core::layout::check_entry_name;
use updraft_core::manifest::BROTLI_SUFFIX;

use crate::check::Offer;
use crate::store::{BundleInfo, BundleStatus};
use crate::{now_ms, short_id, verify, Device, DeviceError, Result, Step};

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
    /// Files fetched over the network (the zip counts as one).
    pub fetched: u64,
    /// Bytes fetched over the network (as sent: compressed, encrypted).
    pub fetched_bytes: u64,
    /// Files copied from what the device held (builtin, cache, running bundle).
    pub reused: u64,
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

#[derive(Default)]
struct Tally {
    fetched: AtomicU64,
    fetched_bytes: AtomicU64,
    reused: AtomicU64,
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

/// `updateUrl` with `/manifest_size` appended to its path and no query.
fn manifest_size_url(update_url: &str) -> String {
    let no_query = update_url.split(['?', '#']).next().unwrap_or(update_url);
    format!("{}/manifest_size", no_query.trim_end_matches('/'))
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

    /// A file the device already holds with `p`'s hash, if any.
    fn local_copy(&self, p: &Planned) -> Option<PathBuf> {
        let builtin = self.cfg.builtin_dir.as_ref().map(|d| d.join(&p.target));
        let cached = Some(
            self.cache_dir()
                .join(format!("{}_{}", p.hash, base_name(&p.target))),
        );
        let running = self.current_dir().map(|d| d.join(&p.target));
        [builtin, cached, running]
            .into_iter()
            .flatten()
            .find(|path| holds(path, &p.hash))
    }

    /// Asks the server how many bytes `offer` would download here (only the
    /// files this device lacks, each URL once), as the plugin's
    /// `getBundleDownloadSize` does. A zip offer downloads its zip: `None`.
    pub async fn download_size(&self, offer: &Offer) -> Result<Option<DownloadSize>> {
        if offer.manifest.is_empty() {
            return Ok(None);
        }
        let session = match (&self.public_key, offer.session_key.is_empty()) {
            (Some(pk), false) => Some(
                SessionKey::open(&offer.session_key, pk)
                    .map_err(|e| DeviceError::failed("decrypt_fail", e.to_string()))?,
            ),
            _ => None,
        };
        let planned = match plan(&offer.manifest, self.public_key.as_ref(), session.as_ref()) {
            Ok(p) => p,
            Err(Fail::File(f)) => return Err(DeviceError::failed(f.action, f.message)),
            Err(Fail::Device(e)) => return Err(e),
        };
        let mut urls = HashSet::new();
        let missing: Vec<&ManifestItem> = planned
            .iter()
            .filter(|p| self.local_copy(p).is_none() && urls.insert(&p.item.download_url))
            .map(|p| &p.item)
            .collect();
        let mut body = self.info_object();
        body["version"] = offer.version.clone().into();
        body["manifest"] =
            serde_json::to_value(&missing).map_err(|e| DeviceError::Config(e.to_string()))?;
        let url = manifest_size_url(&self.cfg.update_url);
        let fail = |m: String| DeviceError::failed("response_error", m);
        let res = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !res.status().is_success() {
            return Err(fail(format!("HTTP {}", res.status())));
        }
        let v: serde_json::Value = res.json().await.map_err(|e| fail(e.to_string()))?;
        let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Ok(Some(DownloadSize {
            total_size: n("totalSize"),
            known_files: n("knownFiles"),
            unknown_files: n("unknownFiles"),
        }))
    }

    /// Downloads a manifest offer into a new bundle folder (see the module
    /// docs). Per-file failures are queued here; the error's action is the
    /// failing file's.
    pub(crate) async fn download_manifest(
        &mut self,
        offer: &Offer,
        session: Option<SessionKey>,
    ) -> Result<BundleInfo> {
        self.queue_stat("download_manifest_start", Some(&offer.version), None);
        let res = self.fetch_manifest(offer, session).await;
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
        let budget = AtomicU64::new(limits.max_total_bytes);
        let tally = Tally::default();
        let res = self
            .fill(&planned, &tmp, &cache, session.as_ref(), &budget, &tally)
            .await;
        self.last_download = Some(DownloadReport {
            manifest: true,
            fetched: tally.fetched.into_inner(),
            fetched_bytes: tally.fetched_bytes.into_inner(),
            reused: tally.reused.into_inner(),
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
            checksum: offer.checksum.clone(),
            status: BundleStatus::Pending,
            downloaded_at: now_ms(),
        };
        self.state.bundles.insert(id, info.clone());
        self.save()?;
        prune_cache(&cache, &planned);
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
        cache: &Path,
        session: Option<&SessionKey>,
        budget: &AtomicU64,
        tally: &Tally,
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
        let mut jobs = futures::stream::iter(once.into_iter().map(|p| async move {
            let dest = make_parent(tmp, p)?;
            match self.local_copy(p) {
                Some(path) => {
                    tally.reused.fetch_add(1, Ordering::Relaxed);
                    copy_counted(&path, &dest, budget)
                }
                None => {
                    self.fetch_one(p, &dest, cache, session, budget, tally)
                        .await
                }
            }
        }))
        .buffer_unordered(PARALLEL);
        while let Some(r) = jobs.next().await {
            r?;
        }
        drop(jobs);
        for (p, first) in again {
            tally.reused.fetch_add(1, Ordering::Relaxed);
            let dest = make_parent(tmp, p)?;
            copy_counted(&tmp.join(first), &dest, budget)?;
            if !holds(&dest, &p.hash) {
                return Err(Fail::File(FileFail::new(
                    "download_manifest_checksum_fail",
                    &p.item,
                    format!("{} does not hash to {}", p.target, p.hash),
                )));
            }
        }
        Ok(())
    }

    /// Fetches one file, decodes and verifies it into `dest`, and keeps a
    /// copy in the cache.
    async fn fetch_one(
        &self,
        p: &Planned,
        dest: &Path,
        cache: &Path,
        session: Option<&SessionKey>,
        budget: &AtomicU64,
        tally: &Tally,
    ) -> std::result::Result<(), Fail> {
        let part = self.fetch(&p.item.download_url).await.map_err(|e| {
            Fail::File(FileFail::new(
                "download_manifest_file_fail",
                &p.item,
                e.to_string(),
            ))
        })?;
        let sent = std::fs::metadata(&part).map_or(0, |m| m.len());
        tally.fetched.fetch_add(1, Ordering::Relaxed);
        tally.fetched_bytes.fetch_add(sent, Ordering::Relaxed);
        let left = budget.load(Ordering::Relaxed);
        let (p2, dest2, sk) = (p.clone(), dest.to_path_buf(), session.cloned());
        let part2 = part.clone();
        let written =
            tokio::task::spawn_blocking(move || decode(&part2, &dest2, &p2, sk.as_ref(), left))
                .await
                .map_err(|e| DeviceError::failed("download_fail", e.to_string()))?;
        let _ = std::fs::remove_file(&part);
        let len = written?;
        take(budget, len).map_err(|m| DeviceError::failed("download_fail", m))?;
        let keep = cache.join(format!("{}_{}", p.hash, base_name(&p.target)));
        if !keep.exists() {
            let _ = std::fs::copy(dest, &keep);
        }
        Ok(())
    }
}

/// Creates the folder of `p`'s file in `tmp`; the file's path.
fn make_parent(tmp: &Path, p: &Planned) -> std::result::Result<PathBuf, Fail> {
    let dest = tmp.join(&p.target);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(DeviceError::from)?;
    }
    Ok(dest)
}

/// Copies a file the device holds into the bundle, counting its bytes.
fn copy_counted(src: &Path, dest: &Path, budget: &AtomicU64) -> std::result::Result<(), Fail> {
    let len = std::fs::copy(src, dest).map_err(DeviceError::from)?;
    take(budget, len).map_err(|m| DeviceError::failed("download_fail", m).into())
}

/// Takes `len` bytes from what the bundle may still unpack to.
fn take(budget: &AtomicU64, len: u64) -> std::result::Result<(), String> {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(len)
        })
        .map(|_| ())
        .map_err(|_| "the bundle unpacks to more than the device allows".to_string())
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

/// Decrypts (`sk`), Brotli-decodes (a `.br` name) and hashes `part` into
/// `dest`, refusing output past `limit` bytes; the bytes written. Blocking.
fn decode(
    part: &Path,
    dest: &Path,
    p: &Planned,
    sk: Option<&SessionKey>,
    limit: u64,
) -> std::result::Result<u64, Fail> {
    let fail = |action, m: String| Fail::File(FileFail::new(action, &p.item, m));
    let plain = match sk {
        Some(sk) => {
            let out = part.with_extension("plain");
            // Android reports a file that does not decrypt as a failed file.
            verify::decrypt_file(part, &out, sk)
                .map_err(|e| fail("download_manifest_file_fail", e.to_string()))?;
            out
        }
        None => part.to_path_buf(),
    };
    let res = copy_hashed(&plain, dest, p.brotli, limit);
    if sk.is_some() {
        let _ = std::fs::remove_file(&plain);
    }
    let (len, hash) = res.map_err(|(brotli, e)| {
        let action = if brotli {
            "download_manifest_brotli_fail"
        } else {
            "download_manifest_file_fail"
        };
        fail(action, e.to_string())
    })?;
    if hash != p.hash {
        let _ = std::fs::remove_file(dest);
        return Err(fail(
            "download_manifest_checksum_fail",
            format!("{} hashes to {hash}, expected {}", p.target, p.hash),
        ));
    }
    Ok(len)
}

/// Copies `src` to `dest` (Brotli-decoding it when `brotli`), at most
/// `limit` bytes; the length and SHA-256 written. An error says whether the
/// Brotli stream was at fault.
fn copy_hashed(
    src: &Path,
    dest: &Path,
    brotli: bool,
    limit: u64,
) -> std::result::Result<(u64, String), (bool, std::io::Error)> {
    let input = std::fs::File::open(src).map_err(|e| (false, e))?;
    let mut reader: Box<dyn std::io::Read> = if brotli {
        Box::new(brotli_decoder(input))
    } else {
        Box::new(input)
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(dest).map_err(|e| (false, e))?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| (brotli, e))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err((
                false,
                std::io::Error::other("the bundle unpacks to more than the device allows"),
            ));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| (false, e))?;
    }
    out.into_inner()
        .map_err(|e| (false, e.into_error()))?
        .sync_all()
        .map_err(|e| (false, e))?;
    Ok((total, hex::encode(hasher.finalize())))
}

fn brotli_decoder(input: std::fs::File) -> impl std::io::Read {
    updraft_core::manifest::brotli_reader(input)
}

/// Keeps in the cache only the files of the manifest just installed.
fn prune_cache(cache: &Path, planned: &[Planned]) {
    let keep: HashSet<String> = planned
        .iter()
        .map(|p| format!("{}_{}", p.hash, base_name(&p.target)))
        .collect();
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        if !keep.contains(e.file_name().to_string_lossy().as_ref()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
