//! The background telemetry writer: a bounded queue of `Write`s, flushed in
//! batches (one transaction each). The queue is bounded twice: by count, and
//! by the bytes its writes and the batch being written hold together (a stats
//! event may carry 20 KiB of strings). A full queue is reported to the caller,
//! which answers 429/503 with `Retry-After` instead of buffering without bound.
//! Update offers and update checks are not queued one by one: they are
//! counted in memory ([`Counted`]) and added to each flush. A write the database refuses for good is dropped alone
//! (see `flush`), so it never holds up the others. On shutdown the queue is
//! closed and drained until the drain deadline; what could not be written by
//! then is logged, counted by kind.

mod flush;
#[cfg(test)]
mod tests;

pub use flush::{BatchSink, Unwritten};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use updraft_store::Write;

use flush::{Flusher, GaveUp};

/// Most writes applied in one transaction.
const MAX_BATCH: usize = 65_536;

/// Room kept in the batch buffer for the counts added to a full batch (one
/// per bundle and day offered, and one per app and hour checked, since the
/// last flush), so that adding them does not double the buffer (65,536 slots
/// of a `Write` are 18 MiB).
const COUNT_SLOTS: usize = 4096;

/// What is counted in memory between two flushes.
#[derive(Debug, Default)]
struct Counted {
    /// Offers by (bundle id, day): (app, version, count).
    offers: HashMap<(i64, i64), (String, String, i64)>,
    /// Update checks by hour (since the epoch), then app.
    checks: HashMap<i64, HashMap<String, i64>>,
}

impl Counted {
    fn is_empty(&self) -> bool {
        self.offers.is_empty() && self.checks.is_empty()
    }

    /// The counts as writes, leaving nothing counted (the lock is held
    /// only for the swap; the writes are made after it).
    fn take(counts: &Counts) -> impl Iterator<Item = Write> {
        let taken = std::mem::take(&mut *counts.lock().expect("counts lock"));
        let offers = taken
            .offers
            .into_iter()
            .map(|((_, day), (app_id, version, count))| Write::Offered {
                app_id,
                version,
                day,
                count,
            });
        let checks = taken.checks.into_iter().flat_map(|(hour, apps)| {
            apps.into_iter().map(move |(app_id, count)| Write::Checked {
                app_id,
                hour,
                count,
            })
        });
        offers.chain(checks)
    }
}

type Counts = Arc<Mutex<Counted>>;

/// The sending side, cloned into every handler.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Write>,
    offers: Counts,
    progress: Arc<Progress>,
    budget: Arc<Budget>,
}

/// The bytes held by queued writes and the batch being written.
#[derive(Debug)]
struct Budget {
    max: usize,
    held: AtomicUsize,
}

impl Budget {
    /// Takes `bytes` if they fit. An empty budget admits anything, so a
    /// request larger than the budget waits for the queue to empty rather
    /// than being refused for ever.
    fn take(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                let after = held.saturating_add(bytes);
                (held == 0 || after <= self.max).then_some(after)
            })
            .is_ok()
    }

    /// Gives back `bytes` taken before.
    fn give(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Whether `bytes` would fit now (a hint, as [`Budget::take`] decides).
    fn fits(&self, bytes: usize) -> bool {
        let held = self.held.load(Ordering::Acquire);
        held == 0 || held.saturating_add(bytes) <= self.max
    }
}

/// How far the writer got, for [`Writer::flushed`].
#[derive(Debug)]
struct Progress {
    /// Writes queued since start.
    queued: AtomicU64,
    /// Flushes begun since start (each takes the offers counted so far).
    begun: AtomicU64,
    /// (writes taken from the queue and flushed, flushes finished).
    done: watch::Sender<(u64, u64)>,
    /// Asks for a flush now.
    poke: Notify,
}

impl Progress {
    fn new() -> Self {
        Self {
            queued: AtomicU64::new(0),
            begun: AtomicU64::new(0),
            done: watch::channel((0, 0)).0,
            poke: Notify::new(),
        }
    }
}

/// The queue is full; retry later.
#[derive(Debug)]
pub struct Full;

impl Writer {
    /// Writes waiting in the queue, and the bytes queued writes and the
    /// batch being written hold.
    pub(crate) fn depth(&self) -> (usize, usize) {
        (
            self.tx.max_capacity() - self.tx.capacity(),
            self.budget.held.load(Ordering::Acquire),
        )
    }

    /// Writes queued since start.
    pub(crate) fn queued(&self) -> u64 {
        self.progress.queued.load(Ordering::Acquire)
    }

    /// Counts one offer of bundle `bundle_id` (`version` of `app_id`) on `day`.
    pub(crate) fn offered(&self, app_id: &str, bundle_id: i64, version: &str, day: i64) {
        let mut counted = self.offers.lock().expect("counts lock");
        counted
            .offers
            .entry((bundle_id, day))
            .or_insert_with(|| (app_id.to_string(), version.to_string(), 0))
            .2 += 1;
    }

    /// Counts one update check of `app_id` in `hour`
    /// ([`updraft_store::check_hour`]).
    pub(crate) fn checked(&self, app_id: &str, hour: i64) {
        let mut counted = self.offers.lock().expect("counts lock");
        let apps = counted.checks.entry(hour).or_default();
        if let Some(n) = apps.get_mut(app_id) {
            *n += 1;
        } else {
            apps.insert(app_id.to_string(), 1);
        }
    }

    /// Whether the queue has room for at least `n` more writes holding about
    /// `bytes` right now (a hint: another handler may take the room before
    /// this one queues).
    pub(crate) fn has_room(&self, n: usize, bytes: usize) -> bool {
        self.tx.capacity() >= n && self.budget.fits(bytes)
    }

    /// Queues all of `writes`, or none of them.
    pub fn send_all(&self, writes: Vec<Write>) -> Result<(), Full> {
        self.send_all_back(writes).map_err(|_| Full)
    }

    /// Queues all of `writes`, or none of them and hands them back.
    pub(crate) fn send_all_back(&self, writes: Vec<Write>) -> Result<(), Vec<Write>> {
        if writes.is_empty() {
            return Ok(());
        }
        let bytes = writes.iter().map(Write::approx_bytes).sum();
        if !self.budget.take(bytes) {
            return Err(writes);
        }
        let Ok(permits) = self.tx.try_reserve_many(writes.len()) else {
            self.budget.give(bytes);
            return Err(writes);
        };
        // Counted before they are sent: a flush cannot take them before a
        // `flushed` call that began after this one's return counts them.
        self.progress
            .queued
            .fetch_add(writes.len() as u64, Ordering::SeqCst);
        for (permit, w) in permits.zip(writes) {
            permit.send(w);
        }
        Ok(())
    }

    /// Waits until every write queued and every offer counted before the
    /// call has been through a flush (written, or refused for good and
    /// logged). Asks for a flush at once rather than waiting for the next
    /// tick. Never returns if the writer has stopped: callers bound it.
    pub async fn flushed(&self) {
        let target = self.progress.queued.load(Ordering::SeqCst);
        let begun = self.progress.begun.load(Ordering::SeqCst);
        let mut done = self.progress.done.subscribe();
        self.progress.poke.notify_one();
        let _ = done
            .wait_for(|&(written, finished)| written >= target && finished > begun)
            .await;
    }
}

/// How the writer runs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Capacity of the queue, in writes.
    pub capacity: usize,
    /// Most bytes the queued writes and the batch being written hold
    /// together ([`Write::approx_bytes`]).
    pub max_bytes: usize,
    /// Time between flushes when the queue is quiet.
    pub interval: Duration,
    /// How long the shutdown drain may take before it gives up.
    pub drain_timeout: Duration,
}

/// Starts the writer. It runs until `shutdown` turns true, then drains (until
/// the drain deadline) and exits with what it could not write.
pub fn spawn<S: BatchSink + ?Sized>(
    store: Arc<S>,
    settings: Settings,
    mut shutdown: watch::Receiver<bool>,
) -> (Writer, JoinHandle<Unwritten>) {
    let (tx, mut rx) = mpsc::channel(settings.capacity);
    let interval = settings.interval;
    let offers = Counts::default();
    let counted = offers.clone();
    let progress = Arc::new(Progress::new());
    let flushes = progress.clone();
    let budget = Arc::new(Budget {
        max: settings.max_bytes,
        held: AtomicUsize::new(0),
    });
    let held = budget.clone();
    let mut flusher = Flusher::new(store, shutdown.clone(), settings.drain_timeout);
    let handle = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(MAX_BATCH + COUNT_SLOTS);
        // Offers arrive without a queued write when the device row is filtered.
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let gave_up = 'run: loop {
            let (closing, ticked) = tokio::select! {
                n = rx.recv_many(&mut buf, MAX_BATCH) => { if n == 0 { break 'run None; } (false, false) }
                _ = tick.tick() => (false, true),
                _ = shutdown.wait_for(|v| *v) => (true, false),
                // Asked for by `flushed`: flush what is queued now.
                () = flushes.poke.notified() => (false, false),
            };
            if ticked {
                let counted_any = !counted.lock().expect("counts lock").is_empty();
                if counted_any {
                    if let Err(g) = flush(&mut flusher, &mut buf, &counted, &flushes, &held).await {
                        break 'run Some(g);
                    }
                }
                continue;
            }
            if closing {
                rx.close();
                loop {
                    if let Err(g) = flush(&mut flusher, &mut buf, &counted, &flushes, &held).await {
                        break 'run Some(g);
                    }
                    if rx.recv_many(&mut buf, MAX_BATCH).await == 0 {
                        break 'run None;
                    }
                }
            }
            // When the queue is quiet, let a little more accumulate so a flush
            // carries many writes; when it is busy, flush back to back.
            if buf.len() < MAX_BATCH {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    _ = shutdown.wait_for(|v| *v) => {}
                }
            }
            while buf.len() < MAX_BATCH {
                let room = MAX_BATCH - buf.len();
                if !rx.recv_many(&mut buf, room).now_or_never_ready() {
                    break;
                }
            }
            if let Err(g) = flush(&mut flusher, &mut buf, &counted, &flushes, &held).await {
                break 'run Some(g);
            }
        };
        let mut left = match gave_up {
            None => match flush(&mut flusher, &mut buf, &counted, &flushes, &held).await {
                Ok(()) => Unwritten::default(),
                Err(GaveUp(left)) => left,
            },
            Some(GaveUp(left)) => left,
        };
        // Only reached with a deadline: whatever is still queued is lost too.
        rx.close();
        while let Ok(w) = rx.try_recv() {
            left.add(&w);
        }
        for w in Counted::take(&counted) {
            left.add(&w);
        }
        if !left.is_empty() {
            tracing::error!(unwritten = %left, drain_timeout = ?settings.drain_timeout,
                "shutdown drain deadline passed: these telemetry writes were not written");
        }
        if !flusher.dropped.is_empty() {
            tracing::warn!(dropped = %flusher.dropped, "telemetry writes the database refused since start");
        }
        left
    });
    (
        Writer {
            tx,
            offers,
            progress,
            budget,
        },
        handle,
    )
}

/// Writes `buf` and the offers counted so far (see [`Flusher::flush`]), and
/// records the progress.
async fn flush<S: BatchSink + ?Sized>(
    flusher: &mut Flusher<S>,
    buf: &mut Vec<Write>,
    offers: &Counts,
    progress: &Progress,
    budget: &Budget,
) -> Result<(), GaveUp> {
    progress.begun.fetch_add(1, Ordering::SeqCst);
    let taken = buf.len() as u64;
    let bytes = buf.iter().map(Write::approx_bytes).sum();
    buf.extend(Counted::take(offers));
    let flushed = if buf.is_empty() {
        Ok(())
    } else {
        flusher.flush(buf).await
    };
    // Written, refused for good, or (on a drain deadline) handed back.
    budget.give(bytes);
    flushed?;
    progress.done.send_modify(|(written, finished)| {
        *written += taken;
        *finished += 1;
    });
    Ok(())
}

/// Polls a future once.
trait NowOrNever {
    fn now_or_never_ready(self) -> bool;
}

impl<F: std::future::Future<Output = usize>> NowOrNever for F {
    fn now_or_never_ready(self) -> bool {
        matches!(futures::FutureExt::now_or_never(self), Some(n) if n > 0)
    }
}
