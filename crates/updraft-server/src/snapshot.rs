//! The per-app snapshot the hot path reads instead of the database: channels,
//! bundles, device overrides and rollback blocks. Loaded on a miss (one load per
//! app at a time, however many requests wait for it); dropped when an admin
//! write on this node changes the app; reloaded in the background, while the
//! old one keeps serving, when a poll of `apps.revision` shows a change made
//! elsewhere. Device-scoped changes (a device's own channel, a rollback block)
//! are applied in place, never by dropping the app's snapshot.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use updraft_core::decide::{decide, AppView, Decision, DeviceFacts, Forced};
use updraft_core::validate::DeviceRequest;
use updraft_store::{Store, StoreError, StoreResult};

/// One app's cached state.
#[derive(Debug)]
pub struct AppEntry {
    pub view: AppView,
    pub revision: i64,
    /// Overrides and pins; a device's own channel choice is applied in place.
    pub forced: RwLock<HashMap<String, Forced>>,
    pub bundle_ids: HashMap<String, i64>,
    /// When this snapshot was read from the database.
    pub loaded_at: Instant,
    /// Rollback blocks; also updated in place when this node receives `update_fail`.
    pub failed: RwLock<HashMap<String, Vec<i64>>>,
}

impl AppEntry {
    /// Runs the update decision for `req` against this snapshot; `base_url`
    /// gives the server's public URL when the reply links to its files.
    pub fn decide(
        &self,
        req: &DeviceRequest,
        explain: bool,
        base_url: &dyn Fn() -> String,
    ) -> Decision {
        let failed = self
            .failed
            .read()
            .expect("failed lock")
            .get(&req.device_id)
            .cloned()
            .unwrap_or_default();
        let facts = DeviceFacts {
            forced: self.forced(&req.device_id),
            failed: &failed,
            explain,
        };
        decide(&self.view, req, &facts, base_url)
    }

    /// The override or pin of `device_id`, if any.
    pub fn forced(&self, device_id: &str) -> Option<Forced> {
        self.forced
            .read()
            .expect("forced lock")
            .get(device_id)
            .copied()
    }

    /// Records that `device_id` rolled back `version`, effective at once on this node.
    pub fn block(&self, device_id: &str, version: &str) {
        if let Some(id) = self.bundle_ids.get(version) {
            self.block_id(device_id, *id);
        }
    }

    /// Records that `device_id` rolled back bundle `id`.
    pub fn block_id(&self, device_id: &str, id: i64) {
        let mut f = self.failed.write().expect("failed lock");
        let list = f.entry(device_id.to_string()).or_default();
        if !list.contains(&id) {
            list.push(id);
        }
    }
}

/// How long a rollback block received on this node is re-applied to freshly
/// loaded snapshots: comfortably longer than the writer takes to commit it.
const PENDING_BLOCK_TTL: Duration = Duration::from_secs(60);

/// Rollback blocks received by this node, per app.
type PendingBlocks = HashMap<String, Recent>;

/// One app's recent blocks: (device, version) → when, and the last prune.
#[derive(Debug)]
struct Recent {
    blocks: HashMap<(String, String), Instant>,
    pruned: Instant,
}

impl Default for Recent {
    fn default() -> Self {
        Self {
            blocks: HashMap::new(),
            pruned: Instant::now(),
        }
    }
}

/// How often a full set of recent blocks is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// At most this many recent blocks are remembered per app; past it (a flood of
/// `update_fail` from made-up devices) new ones rely on the poll alone.
const PENDING_BLOCKS_PER_APP: usize = 10_000;

/// The cache of app snapshots.
#[derive(Debug, Default)]
pub struct Snapshots {
    apps: RwLock<HashMap<String, Arc<AppEntry>>>,
    /// Blocks not yet known to be in the database. A snapshot loaded before the
    /// writer committed a block would not have it; these are applied to every
    /// snapshot loaded while they are recent. Guarded by the `apps` lock order.
    pending: RwLock<PendingBlocks>,
    /// App ids recently looked up and not found, so a fleet still pointing at a
    /// deleted or never-created app does not cost a database read per request.
    /// Cleared for an app when it is created (on this node directly, on others
    /// by the revision poll).
    missing: RwLock<HashMap<String, Instant>>,
    /// One load at a time per app: requests that miss together wait for it.
    loading: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// When an app's last load failed (kept only while someone is loading it).
    load_failed: std::sync::Mutex<HashMap<String, Instant>>,
}

/// How long "this app does not exist" is believed without asking the database.
const MISSING_TTL: Duration = Duration::from_secs(5);
/// At most this many unknown ids are remembered (then the memory starts over).
const MISSING_MAX: usize = 10_000;

impl Snapshots {
    /// The app's snapshot, loading it on a miss; `None` if the app does not exist.
    pub async fn get(&self, store: &dyn Store, app_id: &str) -> StoreResult<Option<Arc<AppEntry>>> {
        if let Some(found) = self.cached(app_id) {
            return Ok(found);
        }
        let gate = self
            .loading
            .lock()
            .expect("loading lock")
            .entry(app_id.to_string())
            .or_default()
            .clone();
        let loaded = {
            let since = Instant::now();
            let _one_at_a_time = gate.lock().await;
            match self.cached(app_id) {
                Some(found) => Ok(found),
                // The load we waited for failed: share its failure instead of
                // queueing one more attempt behind the same outage.
                None if self.failed_since(app_id, since) => Err(StoreError::Unavailable(
                    "the app's data could not be loaded; retry".into(),
                )),
                None => {
                    let r = self.load(store, app_id).await;
                    if r.is_err() {
                        self.load_failed
                            .lock()
                            .expect("load_failed lock")
                            .insert(app_id.to_string(), Instant::now());
                    }
                    r
                }
            }
        };
        let mut loading = self.loading.lock().expect("loading lock");
        if Arc::strong_count(&gate) <= 2 {
            loading.remove(app_id);
            self.load_failed
                .lock()
                .expect("load_failed lock")
                .remove(app_id);
        }
        loaded
    }

    /// Whether a load of `app_id` failed after `since`.
    fn failed_since(&self, app_id: &str, since: Instant) -> bool {
        self.load_failed
            .lock()
            .expect("load_failed lock")
            .get(app_id)
            .is_some_and(|at| *at >= since)
    }

    /// What the cache knows: `Some(Some(entry))`, `Some(None)` for an app
    /// recently found missing, `None` when the database must be asked.
    fn cached(&self, app_id: &str) -> Option<Option<Arc<AppEntry>>> {
        if let Some(e) = self.apps.read().expect("snapshot lock").get(app_id) {
            return Some(Some(e.clone()));
        }
        match self.missing.read().expect("missing lock").get(app_id) {
            Some(at) if at.elapsed() < MISSING_TTL => Some(None),
            _ => None,
        }
    }

    /// Loads the app's snapshot from the database and caches it.
    async fn load(&self, store: &dyn Store, app_id: &str) -> StoreResult<Option<Arc<AppEntry>>> {
        let Some(data) = store.load_snapshot(app_id).await? else {
            let mut missing = self.missing.write().expect("missing lock");
            if missing.len() >= MISSING_MAX {
                missing.clear();
            }
            missing.insert(app_id.to_string(), Instant::now());
            return Ok(None);
        };
        let mut forced = HashMap::new();
        for (device, channel, bundle) in data.overrides {
            match (channel, bundle) {
                (Some(c), _) => forced.insert(device, Forced::Channel(c)),
                (None, Some(b)) => forced.insert(device, Forced::Bundle(b)),
                _ => None,
            };
        }
        let mut failed: HashMap<String, Vec<i64>> = HashMap::new();
        for (device, bundle) in data.failures {
            failed.entry(device).or_default().push(bundle);
        }
        let bundle_ids = data
            .bundles
            .iter()
            .map(|b| (b.version.clone(), b.id))
            .collect();
        let entry = Arc::new(AppEntry {
            view: AppView {
                app: data.app,
                channels: data.channels,
                bundles: data.bundles.into_iter().map(|b| (b.id, b)).collect(),
            },
            revision: data.revision,
            loaded_at: Instant::now(),
            forced: RwLock::new(forced),
            bundle_ids,
            failed: RwLock::new(failed),
        });
        let mut apps = self.apps.write().expect("snapshot lock");
        if let Some(recent) = self.pending.read().expect("pending lock").get(app_id) {
            for ((device, version), at) in &recent.blocks {
                if at.elapsed() < PENDING_BLOCK_TTL {
                    entry.block(device, version);
                }
            }
        }
        apps.insert(app_id.to_string(), entry.clone());
        Ok(Some(entry))
    }

    /// Records that `device_id` rolled back `version` of `app_id`: effective at
    /// once in the current snapshot, and in any snapshot loaded before the
    /// writer has committed it to the database.
    pub fn block(&self, app_id: &str, device_id: &str, version: &str) {
        let apps = self.apps.read().expect("snapshot lock");
        {
            let mut pending = self.pending.write().expect("pending lock");
            let recent = pending.entry(app_id.to_string()).or_default();
            // When full, drop what expired, at most once a second (a flood
            // keeps it full: pruning on every insert would cost O(n) each).
            if recent.blocks.len() >= PENDING_BLOCKS_PER_APP
                && recent.pruned.elapsed() >= PRUNE_EVERY
            {
                recent
                    .blocks
                    .retain(|_, at| at.elapsed() < PENDING_BLOCK_TTL);
                recent.pruned = Instant::now();
            }
            if recent.blocks.len() < PENDING_BLOCKS_PER_APP {
                recent
                    .blocks
                    .insert((device_id.into(), version.into()), Instant::now());
            }
        }
        if let Some(entry) = apps.get(app_id) {
            entry.block(device_id, version);
        }
    }

    /// Applies a device's own channel choice (or its removal) to the cached
    /// snapshot at once; other nodes see it through the revision poll.
    pub fn set_forced(&self, app_id: &str, device_id: &str, forced: Option<Forced>) {
        if let Some(entry) = self.apps.read().expect("snapshot lock").get(app_id) {
            let mut f = entry.forced.write().expect("forced lock");
            match forced {
                Some(x) => f.insert(device_id.to_string(), x),
                None => f.remove(device_id),
            };
        }
    }

    /// Forgets the rollback blocks of `device_id` (of `version`, or all) that
    /// this node still re-applies to fresh snapshots, before an admin clears them.
    pub fn forget_blocks(&self, app_id: &str, device_id: &str, version: Option<&str>) {
        if let Some(recent) = self.pending.write().expect("pending lock").get_mut(app_id) {
            recent
                .blocks
                .retain(|(device, v), _| !(device == device_id && version.is_none_or(|x| x == v)));
        }
    }

    /// Applies the device-scoped changes made on any node since `since_ms`:
    /// devices' own channel choices and rollback blocks (neither changes the
    /// app's revision). A snapshot loaded after the query started already
    /// has them, and is left alone.
    pub async fn poll_device_scoped(&self, store: &dyn Store, since_ms: i64) -> StoreResult<()> {
        let started = Instant::now();
        let choices = store.self_assigned_since(since_ms).await?;
        let failures = store.failures_since(since_ms).await?;
        let apps = self.apps.read().expect("snapshot lock");
        let fresh = |app: &str| apps.get(app).filter(|e| e.loaded_at < started);
        for (app, device, channel) in choices {
            if let Some(entry) = fresh(&app) {
                let mut f = entry.forced.write().expect("forced lock");
                f.insert(device, Forced::Channel(channel));
            }
        }
        for (app, device, bundle_id) in failures {
            if let Some(entry) = fresh(&app) {
                entry.block_id(&device, bundle_id);
            }
        }
        Ok(())
    }

    /// Drops the app's snapshot; the next request rebuilds it.
    pub fn invalidate(&self, app_id: &str) {
        self.apps.write().expect("snapshot lock").remove(app_id);
        self.missing.write().expect("missing lock").remove(app_id);
    }

    /// Reloads every snapshot whose revision differs from the database's; the
    /// old one keeps serving until its replacement is ready. Drops deleted apps.
    pub async fn refresh(&self, store: &dyn Store) -> StoreResult<()> {
        let revisions: HashMap<String, i64> = store.app_revisions().await?.into_iter().collect();
        let stale: Vec<String> = {
            let mut apps = self.apps.write().expect("snapshot lock");
            apps.retain(|app, _| revisions.contains_key(app));
            apps.iter()
                .filter(|(app, e)| revisions.get(*app) != Some(&e.revision))
                .map(|(app, _)| app.clone())
                .collect()
        };
        for app in stale {
            if let Err(e) = self.load(store, &app).await {
                // Keep serving the old snapshot; the next poll tries again.
                tracing::warn!(app, error = %e, "snapshot reload failed");
            }
        }
        self.missing
            .write()
            .expect("missing lock")
            .retain(|app, _| !revisions.contains_key(app));
        Ok(())
    }
}

/// Polls revisions every `every` so writes made by other nodes show up.
pub fn spawn_poller(
    snapshots: Arc<Snapshots>,
    store: Arc<dyn Store>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        // Changes are looked for a little before the last poll: other nodes'
        // clocks and commits may lag (applying one twice changes nothing).
        const OVERLAP_MS: i64 = 10_000;
        let mut since = crate::now_ms() - OVERLAP_MS;
        loop {
            tick.tick().await;
            let started = crate::now_ms();
            // Device-scoped changes first: an app-wide change found next reloads over them.
            match snapshots.poll_device_scoped(&*store, since).await {
                Ok(()) => since = started - OVERLAP_MS,
                Err(e) => tracing::warn!(error = %e, "device-scoped changes poll failed"),
            }
            if let Err(e) = snapshots.refresh(&*store).await {
                tracing::warn!(error = %e, "snapshot revision poll failed");
            }
        }
    })
}
