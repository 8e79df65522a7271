//! The per-app snapshot the hot path reads instead of the database: channels,
//! bundles, device overrides and rollback blocks. Loaded on a miss (one load per
//! app at a time, however many requests wait for it). The change follower
//! ([`crate::changes`]) keeps it current: an app-wide change reloads it while
//! the old one keeps serving; device-scoped changes (a device's own channel, a
//! rollback block) are applied in place, never by reloading the app. No
//! handler touches it after a write.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use updraft_core::decide::{decide, AppView, Decision, DeviceFacts, Forced};
use updraft_core::target::Subject;
use updraft_core::validate::DeviceRequest;
use updraft_protocol::api::Arm;
use updraft_store::{Store, StoreError, StoreResult};

/// One app's cached state.
#[derive(Debug)]
pub(crate) struct AppEntry {
    pub(crate) view: AppView,
    /// Overrides and pins; a device's own channel choice is applied in place.
    pub(crate) forced: RwLock<HashMap<String, Forced>>,
    pub(crate) bundle_ids: HashMap<String, i64>,
    /// Rollback blocks; also updated in place when this node receives `update_fail`.
    pub(crate) failed: RwLock<HashMap<String, Vec<i64>>>,
    /// How many blocks were added in place since the load (at most
    /// [`IN_PLACE_BLOCKS_PER_APP`]).
    in_place: std::sync::atomic::AtomicUsize,
    /// Set once the in-place cap was reached and a reload asked for.
    reload_asked: std::sync::atomic::AtomicBool,
}

/// At most this many rollback blocks are added in place to one loaded
/// snapshot; past it (a flood of `update_fail` from made-up devices) the
/// snapshot keeps serving and the follower reloads it once in the background
/// (the old one serves until the new one, with every block, is ready). Never
/// dropped: a flood must not make requests load from the database.
const IN_PLACE_BLOCKS_PER_APP: usize = 10_000;

impl AppEntry {
    /// Runs the update decision for `req` against this snapshot; `base_url`
    /// gives the server's public URL when the reply links to its files.
    pub(crate) fn decide(
        &self,
        req: &DeviceRequest,
        explain: bool,
        now_ms: i64,
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
            now_ms,
        };
        decide(&self.view, req, &facts, base_url)
    }

    /// The rollout arm a stats event about `version` counts for: the arm the
    /// server's membership rule puts the device in on its channel's active
    /// rollout, when that arm's bundle is `version`; `None` otherwise.
    pub(crate) fn release_arm(
        &self,
        req: &DeviceRequest,
        version: &str,
        now_ms: i64,
    ) -> Option<(i64, Arm)> {
        let bundle = *self.bundle_ids.get(version)?;
        let (rollout_id, _) = self.decide(req, false, now_ms, &String::new).rollout?;
        let rollout = self.view.rollouts.iter().find(|r| r.id == rollout_id)?;
        // The decision reads a custom id only where the app allows them.
        let subject = Subject::of(req, self.view.app.allow_device_custom_id);
        let arm = updraft_core::rollout::member(rollout, &subject, &self.view.cohorts, now_ms);
        let arm_bundle = match arm {
            Arm::Candidate => Some(rollout.candidate_id),
            Arm::Stable => {
                self.view
                    .channels
                    .iter()
                    .find(|c| c.id == rollout.channel_id)?
                    .bundle_id
            }
        };
        (arm_bundle == Some(bundle)).then_some((rollout_id, arm))
    }

    /// The override or pin of `device_id`, if any.
    pub(crate) fn forced(&self, device_id: &str) -> Option<Forced> {
        self.forced
            .read()
            .expect("forced lock")
            .get(device_id)
            .copied()
    }

    /// Records that `device_id` rolled back `version`, effective at once on this
    /// node (unless the snapshot is full: the follower applies it once committed).
    pub(crate) fn block(&self, device_id: &str, version: &str) {
        if let Some(id) = self.bundle_ids.get(version) {
            self.block_id(device_id, *id);
        }
    }

    /// Records that `device_id` rolled back bundle `id`; `false` when it is
    /// not recorded because [`IN_PLACE_BLOCKS_PER_APP`] were already added.
    pub(crate) fn block_id(&self, device_id: &str, id: i64) -> bool {
        use std::sync::atomic::Ordering;
        let mut f = self.failed.write().expect("failed lock");
        if f.get(device_id).is_some_and(|list| list.contains(&id)) {
            return true;
        }
        if self.in_place.load(Ordering::Relaxed) >= IN_PLACE_BLOCKS_PER_APP {
            return false;
        }
        self.in_place.fetch_add(1, Ordering::Relaxed);
        f.entry(device_id.to_string()).or_default().push(id);
        true
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
pub(crate) struct Snapshots {
    apps: RwLock<HashMap<String, Arc<AppEntry>>>,
    /// Blocks not yet known to be in the database. A snapshot loaded before the
    /// writer committed a block would not have it; these are applied to every
    /// snapshot loaded while they are recent. Guarded by the `apps` lock order.
    pending: RwLock<PendingBlocks>,
    /// App ids recently looked up and not found, so a fleet still pointing at a
    /// deleted or never-created app does not cost a database read per request.
    /// Cleared for an app when the change follower sees it created.
    missing: RwLock<HashMap<String, Instant>>,
    /// One load at a time per app: requests that miss together wait for it.
    loading: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// When an app's last load failed (kept only while someone is loading it).
    load_failed: std::sync::Mutex<HashMap<String, Instant>>,
    /// Per app, how many changes the follower has applied: a load that read
    /// the database before a change and would be cached after it is not
    /// cached (the next request loads again).
    generations: std::sync::Mutex<HashMap<String, u64>>,
    /// Snapshots loaded from the database since start (`/metrics`).
    loads: std::sync::atomic::AtomicU64,
}

/// How long "this app does not exist" is believed without asking the database.
const MISSING_TTL: Duration = Duration::from_secs(5);
/// At most this many unknown ids are remembered (then the memory starts over).
const MISSING_MAX: usize = 10_000;

impl Snapshots {
    /// Snapshots loaded from the database since start.
    pub(crate) fn loads(&self) -> u64 {
        self.loads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many apps' snapshots are held.
    pub(crate) fn len(&self) -> usize {
        self.apps.read().expect("snapshot lock").len()
    }

    /// The active rollouts in the held snapshots: (running, paused).
    pub(crate) fn rollouts(&self) -> (usize, usize) {
        use updraft_protocol::api::RolloutState;
        // Counted outside the lock: a scrape never holds up a request.
        let apps: Vec<Arc<AppEntry>> = self
            .apps
            .read()
            .expect("snapshot lock")
            .values()
            .cloned()
            .collect();
        let states = apps
            .iter()
            .flat_map(|e| e.view.rollouts.iter().map(|r| r.state));
        states.fold((0, 0), |(run, pause), st| match st {
            RolloutState::Running => (run + 1, pause),
            RolloutState::Paused => (run, pause + 1),
            _ => (run, pause),
        })
    }

    /// The app's snapshot, loading it on a miss; `None` if the app does not exist.
    pub(crate) async fn get(
        &self,
        store: &dyn Store,
        app_id: &str,
    ) -> StoreResult<Option<Arc<AppEntry>>> {
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
        let generation = self.generation(app_id);
        let Some(data) = store.load_snapshot(app_id).await? else {
            let mut missing = self.missing.write().expect("missing lock");
            if missing.len() >= MISSING_MAX {
                missing.clear();
            }
            missing.insert(app_id.to_string(), Instant::now());
            return Ok(None);
        };
        self.loads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
                // By name in bytes, as the cases order them: which targeted
                // public channel comes first must not depend on the
                // database's collation.
                channels: {
                    let mut c = data.channels;
                    c.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
                    c
                },
                bundles: data.bundles.into_iter().map(|b| (b.id, b)).collect(),
                rollouts: data.rollouts,
                cohorts: updraft_core::target::cohorts_of(&data.cohorts),
            },
            forced: RwLock::new(forced),
            bundle_ids,
            failed: RwLock::new(failed),
            in_place: std::sync::atomic::AtomicUsize::new(0),
            reload_asked: std::sync::atomic::AtomicBool::new(false),
        });
        let mut apps = self.apps.write().expect("snapshot lock");
        if let Some(recent) = self.pending.read().expect("pending lock").get(app_id) {
            for ((device, version), at) in &recent.blocks {
                if at.elapsed() < PENDING_BLOCK_TTL {
                    entry.block(device, version);
                }
            }
        }
        if self.generation(app_id) == generation {
            apps.insert(app_id.to_string(), entry.clone());
        }
        Ok(Some(entry))
    }

    /// How many changes of `app_id` the follower has applied.
    fn generation(&self, app_id: &str) -> u64 {
        let g = self.generations.lock().expect("generations lock");
        g.get(app_id).copied().unwrap_or(0)
    }

    /// Notes that a change of `app_id` was applied (see `generations`).
    fn changed(&self, app_id: &str) {
        let mut g = self.generations.lock().expect("generations lock");
        *g.entry(app_id.to_string()).or_default() += 1;
    }

    /// Records that `device_id` rolled back `version` of `app_id` (as this node
    /// receives it): effective at once in the current snapshot, and in any
    /// snapshot loaded before the writer has committed it to the database.
    pub(crate) fn block(&self, app_id: &str, device_id: &str, version: &str) {
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
    /// snapshot in place (a device-scoped change from the log).
    pub(crate) fn set_forced(&self, app_id: &str, device_id: &str, forced: Option<Forced>) {
        self.changed(app_id);
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
    pub(crate) fn forget_blocks(&self, app_id: &str, device_id: &str, version: Option<&str>) {
        if let Some(recent) = self.pending.write().expect("pending lock").get_mut(app_id) {
            recent
                .blocks
                .retain(|(device, v), _| !(device == device_id && version.is_none_or(|x| x == v)));
        }
    }

    /// Applies a rollback block of bundle `id` from the log in place.
    /// Returns true, once per loaded snapshot, when it has taken its share of
    /// blocks in place: the caller reloads it in the background (it keeps
    /// serving meanwhile). A block does not count as a change that makes a
    /// concurrent load stale (see `generations`): under a flood of blocks
    /// every load would be thrown away and each request would load again.
    pub(crate) fn block_id(&self, app_id: &str, device_id: &str, id: i64) -> bool {
        use std::sync::atomic::Ordering;
        let apps = self.apps.read().expect("snapshot lock");
        let Some(entry) = apps.get(app_id) else {
            return false;
        };
        !entry.block_id(device_id, id) && !entry.reload_asked.swap(true, Ordering::Relaxed)
    }

    /// The ids of the apps whose snapshot is cached.
    pub(crate) fn cached_apps(&self) -> Vec<String> {
        let apps = self.apps.read().expect("snapshot lock");
        apps.keys().cloned().collect()
    }

    /// Brings `app_id` up to date after an app-wide change: a cached snapshot
    /// is reloaded (the old one serves until the new one is ready) or dropped
    /// when the app is gone; an app believed missing is asked for again.
    pub(crate) async fn reload(&self, store: &dyn Store, app_id: &str) {
        self.changed(app_id);
        self.missing.write().expect("missing lock").remove(app_id);
        if !self
            .apps
            .read()
            .expect("snapshot lock")
            .contains_key(app_id)
        {
            return;
        }
        match self.load(store, app_id).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                self.apps.write().expect("snapshot lock").remove(app_id);
            }
            Err(e) => {
                // A stale snapshot must not keep serving: the next request loads.
                tracing::warn!(app = app_id, error = %e, "snapshot reload failed; dropped");
                self.apps.write().expect("snapshot lock").remove(app_id);
            }
        }
    }
}

/// A migrated in-memory SQLite store holding one app, for unit tests.
#[cfg(test)]
pub(crate) async fn store_with_app(app_id: &str) -> updraft_store_sqlite::SqliteStore {
    use updraft_store::prelude::*;
    let store = updraft_store_sqlite::SqliteStore::connect("sqlite::memory:")
        .await
        .expect("an in-memory database");
    store.migrate().await.expect("migrations");
    let new = updraft_protocol::api::NewApp {
        app_id: app_id.into(),
        name: None,
    };
    store
        .create_app(&new, &updraft_store::Stamp::system(1))
        .await
        .expect("the app");
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blocks_past_the_in_place_cap_keep_serving_and_ask_for_one_reload() {
        let store = crate::snapshot::store_with_app("com.example.app").await;
        let snapshots = Snapshots::default();
        let first = snapshots
            .get(&store, "com.example.app")
            .await
            .unwrap()
            .unwrap();
        for i in 0..IN_PLACE_BLOCKS_PER_APP {
            assert!(!snapshots.block_id("com.example.app", &format!("d{i}"), 1));
        }
        assert_eq!(first.failed.read().unwrap().len(), IN_PLACE_BLOCKS_PER_APP);
        assert!(
            !snapshots.block_id("com.example.app", "d0", 1),
            "a block already there costs nothing"
        );
        assert!(
            snapshots.block_id("com.example.app", "one-more", 1),
            "past the cap a reload is asked for"
        );
        assert!(
            !snapshots.block_id("com.example.app", "and-more", 1),
            "once per loaded snapshot, however long the flood"
        );
        assert_eq!(
            snapshots.cached_apps(),
            ["com.example.app"],
            "the snapshot keeps serving: requests never load under a flood"
        );
        assert_eq!(first.failed.read().unwrap().len(), IN_PLACE_BLOCKS_PER_APP);
        snapshots.reload(&store, "com.example.app").await;
        let fresh = snapshots
            .get(&store, "com.example.app")
            .await
            .unwrap()
            .unwrap();
        assert!(
            !Arc::ptr_eq(&first, &fresh),
            "the reload replaced the snapshot (blocks come from the database)"
        );
        assert!(
            !snapshots.block_id("com.example.app", "after-reload", 1),
            "the fresh snapshot takes blocks in place again"
        );
    }
}
