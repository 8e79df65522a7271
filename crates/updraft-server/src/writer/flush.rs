//! One flush of the telemetry writer: write a batch, retry what may pass,
//! isolate what the database refuses for good, and stop at the shutdown
//! deadline.
//!
//! A transient error (connection lost, busy, serialization failure) retries the
//! same batch with backoff, for as long as the server runs. A permanent error
//! splits the batch in halves until the refused write stands alone; that write
//! is logged with the reason and dropped, and every other write lands. Once
//! shutdown has begun, retries end at the drain deadline and what is left is
//! reported by kind.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::time::Instant;
use updraft_store::{Store, StoreError, StoreResult, Write};

/// What the writer needs from a store: one batch in one transaction.
pub trait BatchSink: Send + Sync + 'static {
    /// Applies `batch` in one transaction: all of it or, on an error, none.
    fn write_batch<'a>(&'a self, batch: &'a [Write]) -> BoxFuture<'a, StoreResult<()>>;
}

impl<T: Store + ?Sized> BatchSink for T {
    fn write_batch<'a>(&'a self, batch: &'a [Write]) -> BoxFuture<'a, StoreResult<()>> {
        updraft_store::TelemetryStore::write_batch(self, batch)
    }
}

/// Writes left unwritten, counted by kind (`device`, `event`, `offer_count`,
/// `check_count`, `rollback_block`, `release`). A count write (`offer_count`,
/// `check_count`) stands for all the offers or checks it adds up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unwritten(pub BTreeMap<&'static str, u64>);

impl Unwritten {
    /// Counts `w` as unwritten.
    pub(crate) fn add(&mut self, w: &Write) {
        *self.0.entry(w.kind()).or_default() += 1;
    }

    /// Whether nothing was left unwritten.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Unwritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, n)| format!("{k}={n}")).collect();
        f.write_str(&parts.join(" "))
    }
}

/// The drain deadline passed before the store took these writes.
#[derive(Debug)]
pub(crate) struct GaveUp(pub Unwritten);

enum Failed {
    Permanent(StoreError),
    Deadline,
}

/// More single writes refused in one flush than this is no bad record but a
/// database refusing everything (a wrong grant, a missing table): the rest is
/// kept and retried like an outage instead of being dropped one by one.
const MAX_DROPS_PER_FLUSH: usize = 64;

/// Applies batches for the writer task.
pub(crate) struct Flusher<S: ?Sized> {
    pub(crate) store: Arc<S>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// How long the shutdown drain may take.
    pub(crate) drain: Duration,
    deadline: Option<Instant>,
    /// Writes the database refused for good since start.
    pub(crate) dropped: Unwritten,
}

impl<S: BatchSink + ?Sized> Flusher<S> {
    pub(crate) fn new(store: Arc<S>, shutdown: watch::Receiver<bool>, drain: Duration) -> Self {
        Self {
            store,
            shutdown,
            drain,
            deadline: None,
            dropped: Unwritten::default(),
        }
    }

    /// The drain deadline, fixed the first time shutdown is seen.
    pub(crate) fn deadline(&mut self) -> Option<Instant> {
        if self.deadline.is_none() && *self.shutdown.borrow() {
            self.deadline = Some(Instant::now() + self.drain);
        }
        self.deadline
    }

    /// Writes `buf` (emptied on return). Writes the database refuses for good
    /// are logged and dropped; on `GaveUp` the rest were not written.
    pub(crate) async fn flush(&mut self, buf: &mut Vec<Write>) -> Result<(), GaveUp> {
        let mut todo: Vec<Range<usize>> = Vec::new();
        todo.push(0..buf.len());
        let mut dropped_here = 0;
        while let Some(r) = todo.pop() {
            match self.write_retrying(&buf[r.clone()]).await {
                Ok(()) => {}
                Err(Failed::Permanent(e))
                    if r.len() == 1 && dropped_here >= MAX_DROPS_PER_FLUSH =>
                {
                    tracing::error!(reason = %e, "the database refuses every telemetry write; keeping them and retrying as in an outage");
                    let wait = Instant::now() + Duration::from_secs(5);
                    let until = self.deadline().map_or(wait, |d| d.min(wait));
                    tokio::time::sleep_until(until).await;
                    todo.push(r);
                    if self.deadline().is_some_and(|d| Instant::now() >= d) {
                        let mut left = Unwritten::default();
                        for r in todo {
                            buf[r].iter().for_each(|w| left.add(w));
                        }
                        buf.clear();
                        return Err(GaveUp(left));
                    }
                }
                Err(Failed::Permanent(e)) if r.len() == 1 => {
                    dropped_here += 1;
                    let w = &buf[r.start];
                    self.dropped.add(w);
                    tracing::error!(kind = w.kind(), write = ?w, reason = %e,
                        "telemetry write refused by the database; dropped, the rest of its batch is kept");
                }
                Err(Failed::Permanent(e)) => {
                    tracing::warn!(writes = r.len(), reason = %e,
                        "telemetry batch refused by the database; writing it in halves to find the bad write");
                    let mid = r.start + r.len() / 2;
                    todo.push(mid..r.end);
                    todo.push(r.start..mid);
                }
                Err(Failed::Deadline) => {
                    let mut left = Unwritten::default();
                    for r in std::iter::once(r).chain(todo) {
                        buf[r].iter().for_each(|w| left.add(w));
                    }
                    buf.clear();
                    return Err(GaveUp(left));
                }
            }
        }
        buf.clear();
        Ok(())
    }

    /// Writes one slice, retrying transient errors with backoff (until the
    /// drain deadline, once shutdown has begun).
    async fn write_retrying(&mut self, batch: &[Write]) -> Result<(), Failed> {
        let mut delay = Duration::from_millis(50);
        for attempt in 1u64.. {
            let result = match self.deadline() {
                Some(d) => match tokio::time::timeout_at(d, self.store.write_batch(batch)).await {
                    Ok(r) => r,
                    Err(_) => return Err(Failed::Deadline),
                },
                None => {
                    // A write begun before shutdown (waiting for a connection
                    // to a database that is gone, say) is held to the drain
                    // deadline too once shutdown begins.
                    let store = self.store.clone();
                    let write = store.write_batch(batch);
                    tokio::pin!(write);
                    let mut shutdown = self.shutdown.clone();
                    // The watch's guard is dropped here, before the branch awaits.
                    let stopping = async move {
                        let _ = shutdown.wait_for(|v| *v).await;
                    };
                    tokio::select! {
                        r = &mut write => r,
                        () = stopping => {
                            // (No deadline: the shutdown sender is gone, not set.)
                            match self.deadline() {
                                Some(d) => match tokio::time::timeout_at(d, write).await {
                                    Ok(r) => r,
                                    Err(_) => return Err(Failed::Deadline),
                                },
                                None => write.await,
                            }
                        }
                    }
                }
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() => {
                    tracing::error!(error = %e, attempt, writes = batch.len(), "telemetry flush failed; retrying");
                }
                Err(e) => return Err(Failed::Permanent(e)),
            }
            match self.deadline() {
                Some(d) if Instant::now() + delay >= d => {
                    tokio::time::sleep_until(d).await;
                    return Err(Failed::Deadline);
                }
                Some(_) => tokio::time::sleep(delay).await,
                None => {
                    let mut shutdown = self.shutdown.clone();
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = shutdown.wait_for(|v| *v) => {}
                    }
                }
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        unreachable!("the retry loop only ends by returning")
    }
}
