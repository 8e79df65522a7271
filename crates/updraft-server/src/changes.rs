//! The change follower: one task per node that reads the change log after
//! its cursor and brings this node's snapshots up to date. App-wide changes
//! reload the app's snapshot (the old one keeps serving meanwhile);
//! device-scoped ones (a device's own channel choice, a rollback block) are
//! applied to it in place. It wakes when the database announces a commit
//! (PostgreSQL's NOTIFY), when a write on this node asks it to
//! ([`Follower::caught_up`]), and on a poll interval as the fallback.
//!
//! The cursor is gap-aware: ids come from a sequence, so a transaction that
//! committed late can leave a lower id behind the cursor for a moment. Each
//! skipped id is read again until it appears or [`GAP_TIMEOUT_MS`] passes
//! (a rolled-back write leaves a gap that never fills).
//!
//! A round that panics does not end the task: the panic is logged as an
//! error, every cached app is reloaded (what the round had not applied yet
//! is then reflected), and the follower goes on with the next round.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tokio::sync::{watch, Notify};
use updraft_core::decide::Forced;
use updraft_protocol::api::Change;
use updraft_store::{ChangeFeed, Store};

use crate::clock::Clock;
use crate::snapshot::Snapshots;

/// How long a skipped id is waited for (by the clock).
pub(crate) const GAP_TIMEOUT_MS: i64 = 10_000;
/// Changes read per query.
const PAGE: i64 = 1_000;
/// At most this many ids of one jump are remembered as gaps.
const MAX_GAPS: i64 = 1_000;
/// How long a write waits for its change to be applied on this node.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(5);
/// Polls between two attempts to listen again after the feed ended.
const RELISTEN_EVERY: u32 = 30;

/// Where the follower is in the log: the highest id applied, and the lower
/// ids not seen yet with when they were first missed (epoch ms).
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    last: i64,
    gaps: BTreeMap<i64, i64>,
}

impl Cursor {
    /// A cursor after `last` (changes up to it are already reflected).
    pub(crate) fn after(last: i64) -> Self {
        Self {
            last,
            gaps: BTreeMap::new(),
        }
    }

    /// The id to read after: just below the oldest gap, else the last id.
    pub(crate) fn read_after(&self) -> i64 {
        self.gaps
            .keys()
            .next()
            .map_or(self.last, |g| (g - 1).min(self.last))
    }

    /// Whether change `id` is new (and so to apply); notes the ids it skips.
    pub(crate) fn accept(&mut self, id: i64, now_ms: i64) -> bool {
        if id > self.last {
            let from = (self.last + 1).max(id - MAX_GAPS);
            for g in from..id {
                self.gaps.insert(g, now_ms);
            }
            self.last = id;
            true
        } else {
            self.gaps.remove(&id).is_some()
        }
    }

    /// Gives up on ids missed for longer than [`GAP_TIMEOUT_MS`].
    pub(crate) fn expire(&mut self, now_ms: i64) {
        self.gaps.retain(|_, at| now_ms - *at < GAP_TIMEOUT_MS);
    }

    /// The ids still waited for.
    #[cfg(test)]
    fn gaps(&self) -> Vec<i64> {
        self.gaps.keys().copied().collect()
    }
}

/// The handle writes use to wait until this node has applied them.
#[derive(Clone, Debug)]
pub(crate) struct Follower(Arc<Signals>);

#[derive(Debug)]
struct Signals {
    wake: Notify,
    /// Rounds started.
    started: AtomicU64,
    /// Rounds finished.
    done: watch::Sender<u64>,
    /// Every change up to this id is applied, and no lower id can still
    /// arrive (short of the gap timeout): the cursor's `read_after`.
    settled: AtomicI64,
}

impl Follower {
    /// The highest id such that this node has applied every change up to it
    /// and waits for no lower one: a reader of the log that stops here never
    /// skips a change whose transaction commits late.
    pub(crate) fn settled(&self) -> i64 {
        self.0.settled.load(Ordering::SeqCst)
    }

    /// Waits until a round of the follower that started after this call has
    /// finished, so every change committed before the call is applied on
    /// this node (read-your-writes). Bounded: a database outage logs and
    /// returns after a few seconds.
    pub(crate) async fn caught_up(&self) {
        let want = self.0.started.load(Ordering::SeqCst) + 1;
        let mut done = self.0.done.subscribe();
        self.0.wake.notify_one();
        let waited = tokio::time::timeout(CATCH_UP_TIMEOUT, done.wait_for(|d| *d >= want)).await;
        if waited.is_err() {
            tracing::warn!("a write was not applied to this node's snapshot in time; the follower keeps trying");
        }
    }
}

/// What the follower task needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) poll_every: Duration,
    /// Listen for the database's announcements (when it makes them).
    pub(crate) listen: bool,
}

/// Starts following the log after `last` (the id current when the node
/// started: every snapshot it loads already reflects what came before).
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    snapshots: Arc<Snapshots>,
    clock: Arc<dyn Clock>,
    last: i64,
    settings: Settings,
) -> (Follower, tokio::task::JoinHandle<()>) {
    let (done, _) = watch::channel(0);
    let signals = Arc::new(Signals {
        wake: Notify::new(),
        started: AtomicU64::new(0),
        done,
        settled: AtomicI64::new(last),
    });
    let follower = Follower(signals.clone());
    let task = tokio::spawn(async move {
        let mut cursor = Cursor::after(last);
        let mut feed = None;
        if settings.listen {
            feed = listen(&*store).await;
        }
        let can_listen = settings.listen && feed.is_some();
        let mut tick = tokio::time::interval(settings.poll_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut polls_without_feed = 0u32;
        loop {
            let polled = tokio::select! {
                () = signals.wake.notified() => false,
                () = next(&mut feed) => false,
                _ = tick.tick() => true,
            };
            if polled && can_listen && feed.is_none() {
                polls_without_feed += 1;
                if polls_without_feed >= RELISTEN_EVERY {
                    polls_without_feed = 0;
                    feed = listen(&*store).await;
                }
            }
            let round = signals.started.fetch_add(1, Ordering::SeqCst) + 1;
            let read = follow(&*store, &snapshots, &*clock, &mut cursor);
            if let Err(e) = supervised(read, &*store, &snapshots).await {
                tracing::warn!(error = %e, "reading the change log failed; retrying on the next poll");
            }
            signals.settled.store(cursor.read_after(), Ordering::SeqCst);
            signals.done.send_replace(round);
        }
    });
    (follower, task)
}

/// Runs one round, surviving a panic in it: the panic is logged as an error
/// and every cached app reloaded, since the round may have moved the cursor
/// past changes it had not applied yet. Writes waiting for the round are
/// then released as after any other round.
async fn supervised(
    round: impl std::future::Future<Output = updraft_store::StoreResult<()>>,
    store: &dyn Store,
    snapshots: &Snapshots,
) -> updraft_store::StoreResult<()> {
    match std::panic::AssertUnwindSafe(round).catch_unwind().await {
        Ok(done) => done,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            tracing::error!(panic = %what, "the change follower's round panicked; reloading every cached app and going on");
            for app in snapshots.cached_apps() {
                snapshots.reload(store, &app).await;
            }
            Ok(())
        }
    }
}

/// Subscribes to the database's announcements, if it makes any.
async fn listen(store: &dyn Store) -> Option<ChangeFeed> {
    match store.change_feed().await {
        Ok(feed) => feed,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for changes; polling only");
            None
        }
    }
}

/// The next announcement; never, once the feed has ended (it is dropped).
async fn next(feed: &mut Option<ChangeFeed>) {
    if let Some(f) = feed {
        if f.next().await.is_some() {
            return;
        }
        tracing::warn!("the change feed ended; polling only until it is back");
        *feed = None;
    }
    std::future::pending::<()>().await;
}

/// One round: reads every change after the cursor, applies device-scoped
/// ones in place and reloads the apps changed app-wide.
pub(crate) async fn follow(
    store: &dyn Store,
    snapshots: &Snapshots,
    clock: &dyn Clock,
    cursor: &mut Cursor,
) -> updraft_store::StoreResult<()> {
    let read = |after| store.list_changes(None, after, PAGE);
    follow_pages(store, snapshots, clock, cursor, PAGE, read).await
}

/// [`follow`] with the page reader and size given. The apps marked for a
/// reload are reloaded even when a later page fails: the cursor has already
/// passed their changes, so skipping the reload would lose them for good.
async fn follow_pages<F, Fut>(
    store: &dyn Store,
    snapshots: &Snapshots,
    clock: &dyn Clock,
    cursor: &mut Cursor,
    page_size: i64,
    mut read: F,
) -> updraft_store::StoreResult<()>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = updraft_store::StoreResult<Vec<Change>>>,
{
    let now = clock.now_ms();
    let mut after = cursor.read_after();
    let mut reload = BTreeSet::new();
    let mut pages = 0;
    let read_all = loop {
        let page = match read(after).await {
            Ok(page) => page,
            Err(e) => break Err(e),
        };
        pages += 1;
        for c in &page {
            if cursor.accept(c.id, now) {
                apply(snapshots, c, &mut reload);
            }
        }
        match page.last() {
            Some(c) if i64::try_from(page.len()) == Ok(page_size) => after = c.id,
            _ => break Ok(()),
        }
    };
    // Gaps only run out while the log can be read: during an outage the
    // late transactions are committing too, and must still be picked up.
    if pages > 0 {
        cursor.expire(now);
    }
    for app in reload {
        snapshots.reload(store, &app).await;
    }
    read_all
}

/// Applies one change: in place when device-scoped, else marks its app for a reload.
fn apply(snapshots: &Snapshots, c: &Change, reload: &mut BTreeSet<String>) {
    let Some(app) = c.app_id.as_deref() else {
        return; // outside any app (API keys): nothing cached
    };
    let device = c.device_id.as_deref().unwrap_or_default();
    let id = |field: &str| c.payload[field].as_i64();
    match c.kind.as_str() {
        "device.self_assigned" => match id("channel_id") {
            Some(channel) => snapshots.set_forced(app, device, Some(Forced::Channel(channel))),
            None => {
                reload.insert(app.to_string());
            }
        },
        "device.self_unassigned" => snapshots.set_forced(app, device, None),
        "device.rollback_blocked" => match id("bundle_id") {
            Some(bundle) => {
                if snapshots.block_id(app, device, bundle) {
                    reload.insert(app.to_string());
                }
            }
            None => {
                reload.insert(app.to_string());
            }
        },
        "device.blocks_cleared" => {
            snapshots.forget_blocks(app, device, c.payload["version"].as_str());
            reload.insert(app.to_string());
        }
        _ => {
            reload.insert(app.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_id_is_read_again_until_it_appears() {
        let mut c = Cursor::after(10);
        assert!(c.accept(13, 1_000));
        assert_eq!(c.gaps(), [11, 12]);
        assert_eq!(c.read_after(), 10, "read again from below the gap");
        assert!(!c.accept(13, 1_000), "applied once");
        assert!(
            c.accept(12, 1_500),
            "a late commit is applied when it appears"
        );
        assert_eq!(c.gaps(), [11]);
    }

    #[test]
    fn a_gap_is_given_up_after_the_timeout_by_the_clock() {
        let mut c = Cursor::after(0);
        c.accept(3, 1_000);
        c.expire(1_000 + GAP_TIMEOUT_MS - 1);
        assert_eq!(c.gaps(), [1, 2]);
        c.expire(1_000 + GAP_TIMEOUT_MS);
        assert!(c.gaps().is_empty());
        assert_eq!(c.read_after(), 3);
        assert!(
            !c.accept(1, 20_000),
            "a change past its timeout is not applied twice or late"
        );
    }

    #[tokio::test]
    async fn an_outage_does_not_run_gaps_out() {
        use updraft_store::prelude::*;
        let store = crate::snapshot::store_with_app("com.example.app").await;
        let snapshots = Snapshots::default();
        let mut cursor = Cursor::after(0);
        cursor.accept(3, 1_000);
        let clock = crate::clock::TestClock::at(1_000 + GAP_TIMEOUT_MS);
        let down = |_| async {
            Err::<Vec<Change>, _>(updraft_store::StoreError::Unavailable(
                "the database went away".into(),
            ))
        };
        let round = follow_pages(&store, &snapshots, &clock, &mut cursor, 100, down).await;
        assert!(round.is_err());
        assert_eq!(
            cursor.gaps(),
            [1, 2],
            "ids missed before the outage are still waited for"
        );
        let up = |after| {
            let store = &store;
            async move { store.list_changes(None, after, 100).await }
        };
        follow_pages(&store, &snapshots, &clock, &mut cursor, 100, up)
            .await
            .unwrap();
        assert!(
            cursor.gaps().is_empty(),
            "once the log is read again, the timeout applies"
        );
    }

    #[tokio::test]
    async fn an_app_change_read_before_a_failed_page_is_still_reloaded() {
        use updraft_protocol::api::AppPatch;
        use updraft_store::prelude::*;
        use updraft_store::{Stamp, StoreError};

        let store = crate::snapshot::store_with_app("com.example.app").await;
        let snapshots = Snapshots::default();
        snapshots.get(&store, "com.example.app").await.unwrap();
        let mut cursor = Cursor::after(
            store
                .list_changes(None, 0, 100)
                .await
                .unwrap()
                .last()
                .unwrap()
                .id,
        );
        for name in ["Renamed", "Renamed again"] {
            let patch = AppPatch {
                name: Some(name.into()),
                ..AppPatch::default()
            };
            store
                .update_app("com.example.app", &patch, &Stamp::system(2))
                .await
                .unwrap();
        }

        // The first page (one change) is read, the second fails.
        let mut pages = 0;
        let read = |after| {
            pages += 1;
            let first = pages == 1;
            let store = &store;
            async move {
                if first {
                    store.list_changes(None, after, 1).await
                } else {
                    Err(StoreError::Unavailable("the database went away".into()))
                }
            }
        };
        let clock = crate::clock::TestClock::at(10);
        let round = follow_pages(&store, &snapshots, &clock, &mut cursor, 1, read).await;
        assert!(round.is_err(), "the failed page is reported");
        let entry = snapshots
            .get(&store, "com.example.app")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            entry.view.app.name, "Renamed again",
            "the app whose change the cursor passed is reloaded despite the failure"
        );
    }

    #[tokio::test]
    async fn a_round_that_panics_is_survived_and_the_cached_apps_are_reloaded() {
        use updraft_protocol::api::AppPatch;
        use updraft_store::prelude::*;
        use updraft_store::Stamp;

        let store = crate::snapshot::store_with_app("com.example.app").await;
        let snapshots = Snapshots::default();
        snapshots.get(&store, "com.example.app").await.unwrap();
        let patch = AppPatch {
            name: Some("Renamed".into()),
            ..AppPatch::default()
        };
        store
            .update_app("com.example.app", &patch, &Stamp::system(2))
            .await
            .unwrap();

        let panics = async { panic!("injected") };
        let round = supervised(panics, &store, &snapshots).await;
        assert!(
            round.is_ok(),
            "the panic does not escape the follower's loop"
        );
        let entry = snapshots
            .get(&store, "com.example.app")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            entry.view.app.name, "Renamed",
            "the cached app was reloaded"
        );
    }

    #[test]
    fn a_huge_jump_remembers_a_bounded_number_of_gaps() {
        let mut c = Cursor::after(0);
        c.accept(1_000_000, 0);
        assert_eq!(i64::try_from(c.gaps().len()), Ok(MAX_GAPS));
    }
}
