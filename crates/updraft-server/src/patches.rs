//! Byte-level patches for clients that apply them (`patch_formats` holds
//! `zstd`: `updraft-device`; the stock plugin never asks). A manifest update
//! from the bundle a device runs to the one it is offered carries, for each
//! file it lacks, a patch from the matching file of its running bundle (see
//! `updraft_core::patch` for the pairing) when the patch is smaller than the
//! file as stored. The bundle a device on its builtin assets runs is the
//! app's bundle named after its native version, when the app has one.
//!
//! Patches are never computed on a device's request: the first check of a
//! (running, offered) pair of bundles queues the pair and is answered without
//! patches; a background task computes what the store does not hold yet
//! (once per pair of stored files, kept as app files and in `file_patches`)
//! and the next checks get them. When a bundle gets its manifest, the pairs
//! from the app's [`PREPARE_FROM`] latest other bundles are queued at once. Plain bundles with stored manifests only:
//! an encrypted bundle's files are opaque to the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use updraft_blob::Blobs;
use updraft_core::crypto::sha256_hex;
use updraft_core::manifest::{brotli_decompress, BROTLI_SUFFIX};
use updraft_core::patch::{make_patch, pair_sources, PatchFile, FORMAT, MAX_PATCH_INPUT};
use updraft_protocol::api::ManifestEntry;
use updraft_protocol::device::FilePatchOffer;
use updraft_store::{stored_file, FilePatch, Store, STORED_FILE_PREFIX};

use crate::blob_gc::BlobLock;

/// How many of an app's latest bundles a new bundle's patches are prepared from.
pub(crate) const PREPARE_FROM: usize = 3;
/// Pairs of bundles waiting to be worked on, at most.
const QUEUE: usize = 256;
/// Pairs of bundles whose patches a node keeps in memory, at most.
const KEPT: usize = 10_000;
/// How long a pair's patches are served before the store is read again.
const FRESH: Duration = Duration::from_secs(3_600);
/// How long a queued pair waits before it may be queued again.
const RETRY: Duration = Duration::from_secs(60);

/// (app, running version, offered version).
type Key = (String, String, String);

enum Known {
    Queued(Instant),
    Ready(Arc<Vec<FilePatchOffer>>, Instant),
}

/// The patches of pairs of bundles, as devices are offered them (with
/// `/files/<sha256>` paths), and the queue of pairs to work on.
pub(crate) struct Patches {
    known: Mutex<HashMap<Key, Known>>,
    queue: mpsc::Sender<Key>,
}

/// What the background task needs.
pub(crate) struct Worker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) blobs: Blobs,
    pub(crate) lock: BlobLock,
    /// Where a patch is written before it is stored.
    pub(crate) tmp: std::path::PathBuf,
    pub(crate) clock: Arc<dyn crate::clock::Clock>,
}

impl Patches {
    /// The patch index and its background task.
    pub(crate) fn spawn(worker: Worker) -> (Arc<Patches>, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Key>(QUEUE);
        let patches = Arc::new(Patches {
            known: Mutex::default(),
            queue: tx,
        });
        let index = patches.clone();
        let task = tokio::spawn(async move {
            while let Some(key) = rx.recv().await {
                let offers = match work(&worker, &key).await {
                    Ok(o) => o,
                    Err(e) => {
                        tracing::warn!(app = key.0, from = key.1, to = key.2, error = %e, "could not prepare patches");
                        Vec::new()
                    }
                };
                index.set(key, offers);
            }
        });
        (patches, task)
    }

    /// The patches from bundle `from` to bundle `to` of `app` (paths, not
    /// URLs), when they are known; otherwise the pair is queued and `None`.
    pub(crate) fn offers(
        &self,
        app: &str,
        from: &str,
        to: &str,
    ) -> Option<Arc<Vec<FilePatchOffer>>> {
        let key = (app.to_string(), from.to_string(), to.to_string());
        let now = Instant::now();
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (found, stale) = match known.get(&key) {
            Some(Known::Ready(o, at)) => (Some(o.clone()), now.duration_since(*at) > FRESH),
            Some(Known::Queued(at)) => (None, now.duration_since(*at) > RETRY),
            None => (None, true),
        };
        if stale {
            if known.len() >= KEPT {
                known.clear();
            }
            if self.queue.try_send(key.clone()).is_ok() && found.is_none() {
                known.insert(key, Known::Queued(now));
            }
        }
        found
    }

    /// Queues the pairs from each of `from` to bundle `to` of `app` that
    /// this node does not know yet (a new bundle's likely sources), so the
    /// first devices to check are offered patches too.
    pub(crate) fn prepare(&self, app: &str, from: &[String], to: &str) {
        let now = Instant::now();
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for f in from {
            let key = (app.to_string(), f.clone(), to.to_string());
            if !known.contains_key(&key) && self.queue.try_send(key.clone()).is_ok() {
                known.insert(key, Known::Queued(now));
            }
        }
    }

    fn set(&self, key: Key, offers: Vec<FilePatchOffer>) {
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.insert(key, Known::Ready(Arc::new(offers), Instant::now()));
    }
}

/// One file of a manifest, as pairing and patching need it.
struct Stored<'a> {
    entry: &'a ManifestEntry,
    /// Path on the device.
    path: &'a str,
    sha: &'a str,
    size: u64,
}

fn stored<'a>(m: &'a [ManifestEntry], sizes: &HashMap<String, i64>) -> Vec<Stored<'a>> {
    m.iter()
        .filter_map(|e| {
            let sha = stored_file(e)?;
            Some(Stored {
                entry: e,
                path: e
                    .file_name
                    .strip_suffix(BROTLI_SUFFIX)
                    .unwrap_or(&e.file_name),
                sha,
                size: u64::try_from(*sizes.get(sha)?).unwrap_or(0),
            })
        })
        .collect()
}

fn as_patch<'a>(f: &Stored<'a>) -> PatchFile<'a> {
    PatchFile {
        path: f.path,
        hash: &f.entry.file_hash,
        size: f.size,
    }
}

/// The live plain bundle `version` of `app` when it has a stored manifest.
async fn patchable(
    w: &Worker,
    app: &str,
    version: &str,
) -> anyhow::Result<Option<updraft_protocol::api::Bundle>> {
    let b = w.store.get_bundle(app, version).await?;
    Ok(b.filter(|b| !b.deleted && b.session_key.is_empty() && !b.manifest.is_empty()))
}

/// The patches from bundle `key.1` to bundle `key.2`, computing the missing ones.
async fn work(w: &Worker, key: &Key) -> anyhow::Result<Vec<FilePatchOffer>> {
    let (app, from, to) = key;
    let (Some(from), Some(to)) = (patchable(w, app, from).await?, patchable(w, app, to).await?)
    else {
        return Ok(Vec::new());
    };
    let shas: Vec<String> = from
        .manifest
        .iter()
        .chain(&to.manifest)
        .filter_map(|e| stored_file(e).map(str::to_string))
        .collect();
    let sizes: HashMap<String, i64> = w.store.file_sizes(app, &shas).await?.into_iter().collect();
    let (source, target) = (stored(&from.manifest, &sizes), stored(&to.manifest, &sizes));
    let pairs = pair_sources(
        &target.iter().map(as_patch).collect::<Vec<_>>(),
        &source.iter().map(as_patch).collect::<Vec<_>>(),
    );
    let wanted: Vec<(String, String)> = pairs
        .iter()
        .map(|&(t, s)| (source[s].sha.to_string(), target[t].sha.to_string()))
        .collect();
    let mut done: HashMap<(String, String), FilePatch> = w
        .store
        .file_patches(app, &wanted)
        .await?
        .into_iter()
        .map(|p| ((p.from_sha256.clone(), p.to_sha256.clone()), p))
        .collect();
    let mut out = Vec::new();
    for ((t, s), pair) in pairs.into_iter().zip(wanted) {
        let (src, dst) = (&source[s], &target[t]);
        let patch = match done.remove(&pair) {
            Some(p) => p,
            None => compute(w, app, src, dst).await?,
        };
        if let Some(sha) = patch.patch_sha256 {
            out.push(FilePatchOffer {
                file_name: dst.entry.file_name.clone(),
                from_file: src.path.to_string(),
                from_hash: src.entry.file_hash.clone(),
                format: FORMAT.to_string(),
                download_url: format!("{STORED_FILE_PREFIX}{sha}"),
                size: u64::try_from(patch.size).unwrap_or(0),
            });
        }
    }
    Ok(out)
}

/// A stored file's content as the device holds it, checked against its hash.
async fn plain(w: &Worker, f: &Stored<'_>) -> anyhow::Result<Option<Vec<u8>>> {
    let limit = MAX_PATCH_INPUT as u64;
    let Ok(bytes) = crate::routes::manifest_check::read_all(&w.blobs, f.sha, limit).await else {
        return Ok(None);
    };
    let brotli = f.entry.file_name.ends_with(BROTLI_SUFFIX);
    let data = if brotli {
        match brotli_decompress(&bytes, limit) {
            Ok(d) => d,
            Err(_) => return Ok(None),
        }
    } else {
        bytes
    };
    Ok((sha256_hex(&data) == f.entry.file_hash).then_some(data))
}

/// Builds, stores and records the patch from `src` to `dst` (or that none pays).
async fn compute(
    w: &Worker,
    app: &str,
    src: &Stored<'_>,
    dst: &Stored<'_>,
) -> anyhow::Result<FilePatch> {
    let mut rec = FilePatch {
        from_sha256: src.sha.to_string(),
        to_sha256: dst.sha.to_string(),
        patch_sha256: None,
        size: 0,
    };
    if let (Some(old), Some(new)) = (plain(w, src).await?, plain(w, dst).await?) {
        let made = tokio::task::spawn_blocking(move || make_patch(&old, &new)).await??;
        if let Some(p) = made.filter(|p| (p.len() as u64) < dst.size) {
            let sha = sha256_hex(&p);
            std::fs::create_dir_all(&w.tmp)?;
            let file = tempfile::NamedTempFile::new_in(&w.tmp)?;
            std::fs::write(file.path(), &p)?;
            rec.patch_sha256 = Some(sha.clone());
            rec.size = i64::try_from(p.len()).unwrap_or(i64::MAX);
            let _guard = w.lock.lock().await;
            w.blobs.put_file(&sha, file.path()).await?;
            if let Err(e) = w.store.add_file_patch(app, &rec, w.clock.now_ms()).await {
                if !w.store.blob_in_use(&sha).await.unwrap_or(true) {
                    let _ = w.blobs.delete(&sha).await;
                }
                return Err(e.into());
            }
            return Ok(rec);
        }
    }
    w.store.add_file_patch(app, &rec, w.clock.now_ms()).await?;
    Ok(rec)
}
