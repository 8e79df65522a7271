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

use std::collections::{HashMap, HashSet};
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

/// How many of an app's latest bundles a new bundle's patches are prepared from.
pub(crate) const PREPARE_FROM: usize = 3;
/// Jobs waiting for the background task, at most.
const QUEUE: usize = 256;
/// Pairs of bundles whose patches a node keeps in memory, at most.
const KEPT: usize = 10_000;
/// How long a pair's patches are served before the store is read again.
const FRESH: Duration = Duration::from_secs(3_600);
/// How long an app's list of bundle versions is trusted.
const VERSIONS_FRESH: Duration = Duration::from_secs(300);
/// How long a queued job waits before it may be queued again.
const RETRY: Duration = Duration::from_secs(60);

/// (app, running version, offered version).
type Key = (String, String, String);

/// What the background task does.
enum Job {
    /// Reads which versions of the app can have patches.
    Versions(String),
    /// Prepares the patches of a pair of bundles.
    Pair(Key),
}

/// A pair's patches, and when they were read or last queued.
struct Known {
    offers: Option<Arc<Vec<FilePatchOffer>>>,
    at: Instant,
}

/// The versions of an app's live plain bundles with a manifest: only pairs
/// of them are worked on. A device reporting a version outside the set (a
/// builtin or zip bundle, or a made-up name) costs a set lookup; the list is
/// read again at most once per [`RETRY`] for such devices, once per
/// [`VERSIONS_FRESH`] otherwise.
#[derive(Default)]
struct Versions {
    set: HashSet<String>,
    /// When the set was last read from the store (never: `None`).
    read_at: Option<Instant>,
    queued_at: Option<Instant>,
    /// Versions [`Patches::prepare`] added since the last read was stored:
    /// kept across a read that may have started before they existed.
    added: HashSet<String>,
}

/// The patches of pairs of bundles, as devices are offered them (with
/// `/files/<sha256>` paths), and the queue of pairs to work on.
pub(crate) struct Patches {
    known: Mutex<HashMap<Key, Known>>,
    versions: Mutex<HashMap<String, Versions>>,
    queue: mpsc::Sender<Job>,
}

/// What the background task needs.
pub(crate) struct Worker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) blobs: Blobs,
    /// Where a patch is written before it is stored.
    pub(crate) tmp: std::path::PathBuf,
    pub(crate) clock: Arc<dyn crate::clock::Clock>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Patches {
    /// The patch index and its background task.
    pub(crate) fn spawn(worker: Worker) -> (Arc<Patches>, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let patches = Arc::new(Patches {
            known: Mutex::default(),
            versions: Mutex::default(),
            queue: tx,
        });
        let index = patches.clone();
        let task = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                match job {
                    Job::Versions(app) => match versions(&worker, &app).await {
                        Ok(set) => index.set_versions(app, set),
                        Err(e) => {
                            tracing::warn!(app, error = %e, "could not list bundles for patches");
                        }
                    },
                    Job::Pair(key) => {
                        let offers = match work(&worker, &key).await {
                            Ok(o) => o,
                            Err(e) => {
                                tracing::warn!(app = key.0, from = key.1, to = key.2, error = %e, "could not prepare patches");
                                Vec::new()
                            }
                        };
                        locked(&index.known).insert(
                            key,
                            Known {
                                offers: Some(Arc::new(offers)),
                                at: Instant::now(),
                            },
                        );
                    }
                }
            }
        });
        (patches, task)
    }

    /// The patches from bundle `from` to bundle `to` of `app` (paths, not
    /// URLs), when they are known. Otherwise `None`, and the pair is queued
    /// when both are versions the app has (an unknown app's versions are
    /// read first); patches known for an hour are read again meanwhile.
    pub(crate) fn offers(
        &self,
        app: &str,
        from: &str,
        to: &str,
    ) -> Option<Arc<Vec<FilePatchOffer>>> {
        if !self.has_versions(app, &[from, to]) {
            return None;
        }
        let key = (app.to_string(), from.to_string(), to.to_string());
        let now = Instant::now();
        let mut known = locked(&self.known);
        let (found, due) = match known.get(&key) {
            Some(k) if k.offers.is_some() => (k.offers.clone(), now.duration_since(k.at) > FRESH),
            Some(k) => (None, now.duration_since(k.at) > RETRY),
            None => (None, true),
        };
        if due {
            if known.len() >= KEPT {
                // Pairs with nothing to offer go first; a full index of
                // useful ones starts again.
                known.retain(|_, k| k.offers.as_ref().is_some_and(|o| !o.is_empty()));
                if known.len() >= KEPT {
                    known.clear();
                }
            }
            if self.queue.try_send(Job::Pair(key.clone())).is_ok() {
                // Marked when queued: one refresh per period, not one per check.
                known.insert(
                    key,
                    Known {
                        offers: found.clone(),
                        at: now,
                    },
                );
            }
        }
        found
    }

    /// Whether every one of `versions` is a plain manifest bundle of `app`,
    /// as last read; queues a read when the list is missing, old, or lacks
    /// one of them (a bundle uploaded through another node).
    fn has_versions(&self, app: &str, versions: &[&str]) -> bool {
        let now = Instant::now();
        let mut all = locked(&self.versions);
        let entry = all.entry(app.to_string()).or_default();
        let has = versions.iter().all(|v| entry.set.contains(*v));
        let due = entry.read_at.is_none_or(|r| {
            let age = now.duration_since(r);
            age > VERSIONS_FRESH || (!has && age > RETRY)
        });
        let waited = entry
            .queued_at
            .is_none_or(|q| now.duration_since(q) > RETRY);
        if due && waited && self.queue.try_send(Job::Versions(app.to_string())).is_ok() {
            entry.queued_at = Some(now);
        }
        has
    }

    fn set_versions(&self, app: String, mut set: HashSet<String>) {
        let mut all = locked(&self.versions);
        let entry = all.entry(app).or_default();
        set.extend(entry.added.drain());
        entry.set = set;
        entry.read_at = Some(Instant::now());
        entry.queued_at = None;
    }

    /// Queues the pairs from each of `from` to bundle `to` of `app` that
    /// this node does not know yet (a new bundle's likely sources), so the
    /// first devices to check are offered patches too.
    pub(crate) fn prepare(&self, app: &str, from: &[String], to: &str) {
        {
            let mut all = locked(&self.versions);
            let v = all.entry(app.to_string()).or_default();
            for version in from.iter().map(String::as_str).chain([to]) {
                v.set.insert(version.to_string());
                v.added.insert(version.to_string());
            }
        }
        let now = Instant::now();
        let mut known = locked(&self.known);
        for f in from {
            let key = (app.to_string(), f.clone(), to.to_string());
            if !known.contains_key(&key) && self.queue.try_send(Job::Pair(key.clone())).is_ok() {
                known.insert(
                    key,
                    Known {
                        offers: None,
                        at: now,
                    },
                );
            }
        }
    }
}

/// The versions of `app`'s live plain bundles with a manifest.
async fn versions(w: &Worker, app: &str) -> anyhow::Result<HashSet<String>> {
    Ok(w.store
        .list_bundles(app)
        .await?
        .into_iter()
        .filter(|b| !b.deleted && b.session_key.is_empty() && !b.manifest.is_empty())
        .map(|b| b.version)
        .collect())
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
            // Held while stored and recorded: a patch not recorded (an
            // error, or another node recorded the pair first) is swept
            // once nothing uses it.
            let now = w.clock.now_ms();
            return crate::state::hold_file(&w.store, &w.clock, &sha, async {
                w.blobs.put_file(&sha, file.path()).await?;
                Ok::<_, anyhow::Error>(w.store.add_file_patch(app, &rec, now).await?)
            })
            .await;
        }
    }
    Ok(w.store.add_file_patch(app, &rec, w.clock.now_ms()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> (Patches, mpsc::Receiver<Job>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let p = Patches {
            known: Mutex::default(),
            versions: Mutex::default(),
            queue: tx,
        };
        (p, rx)
    }

    fn jobs(rx: &mut mpsc::Receiver<Job>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(j) = rx.try_recv() {
            out.push(match j {
                Job::Versions(app) => format!("versions {app}"),
                Job::Pair((app, from, to)) => format!("pair {app} {from}->{to}"),
            });
        }
        out
    }

    fn set(v: &[&str]) -> HashSet<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn an_apps_versions_are_read_once_and_only_its_real_pairs_are_queued_once() {
        let (p, mut rx) = index();
        assert!(p.offers("a", "1.0.0", "1.0.1").is_none());
        assert!(p.offers("a", "1.0.0", "1.0.1").is_none());
        assert_eq!(
            jobs(&mut rx),
            ["versions a"],
            "one read, however many checks"
        );

        p.set_versions("a".into(), set(&["1.0.0", "1.0.1"]));
        assert!(p.offers("a", "1.0.0", "1.0.1").is_none());
        assert!(p.offers("a", "1.0.0", "1.0.1").is_none());
        assert_eq!(jobs(&mut rx), ["pair a 1.0.0->1.0.1"], "queued once");

        // Versions the app lacks (builtin, a zip bundle, a made-up name) are
        // neither queued nor a reason to read the list again right away.
        for made_up in ["builtin", "9.9.9", "x"] {
            assert!(p.offers("a", made_up, "1.0.1").is_none());
        }
        assert!(jobs(&mut rx).is_empty());

        let ready = Arc::new(vec![]);
        locked(&p.known).insert(
            ("a".into(), "1.0.0".into(), "1.0.1".into()),
            Known {
                offers: Some(ready),
                at: Instant::now(),
            },
        );
        assert!(p.offers("a", "1.0.0", "1.0.1").is_some());
        assert!(jobs(&mut rx).is_empty(), "fresh: not queued again");
    }

    #[test]
    fn a_new_bundle_survives_a_read_that_started_before_it() {
        let (p, mut rx) = index();
        p.set_versions("a".into(), set(&["1.0.0"]));
        p.prepare("a", &["1.0.0".to_string()], "1.0.1");
        assert_eq!(jobs(&mut rx), ["pair a 1.0.0->1.0.1"]);
        // A read whose listing ran before 1.0.1's manifest was set.
        p.set_versions("a".into(), set(&["1.0.0"]));
        assert!(p.has_versions("a", &["1.0.0", "1.0.1"]));
        assert!(jobs(&mut rx).is_empty());
    }
}
