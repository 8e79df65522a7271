//! The background telemetry writer: a bounded queue of `Write`s, flushed in
//! batches (one transaction each). A full queue is reported to the caller,
//! which answers 429/503 with `Retry-After` instead of buffering without bound.
//! On shutdown the queue is closed and drained: nothing accepted is lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use updraft_store::{Store, Write};

/// Most writes applied in one transaction.
const MAX_BATCH: usize = 16_384;

/// The sending side, cloned into every handler.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Write>,
}

/// The queue is full; retry later.
#[derive(Debug)]
pub struct Full;

impl Writer {
    /// Queues all of `writes`, or none of them.
    pub fn send_all(&self, writes: Vec<Write>) -> Result<(), Full> {
        self.send_all_back(writes).map_err(|_| Full)
    }

    /// Queues all of `writes`, or none of them and hands them back.
    pub fn send_all_back(&self, writes: Vec<Write>) -> Result<(), Vec<Write>> {
        if writes.is_empty() {
            return Ok(());
        }
        let Ok(permits) = self.tx.try_reserve_many(writes.len()) else {
            return Err(writes);
        };
        for (permit, w) in permits.zip(writes) {
            permit.send(w);
        }
        Ok(())
    }
}

/// Starts the writer. It runs until `shutdown` turns true, then drains and exits.
pub fn spawn(
    store: Arc<dyn Store>,
    capacity: usize,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> (Writer, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(capacity);
    let handle = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(MAX_BATCH);
        loop {
            let closing = tokio::select! {
                n = rx.recv_many(&mut buf, MAX_BATCH) => { if n == 0 { break; } false }
                _ = shutdown.wait_for(|v| *v) => true,
            };
            if closing {
                rx.close();
                while rx.recv_many(&mut buf, MAX_BATCH).await > 0 {
                    flush(&*store, &mut buf).await;
                }
                break;
            }
            // When the queue is quiet, let a little more accumulate so a flush
            // carries many writes; when it is busy, flush back to back.
            if buf.len() < MAX_BATCH {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = shutdown.wait_for(|v| *v) => {}
                }
            }
            while buf.len() < MAX_BATCH {
                let room = MAX_BATCH - buf.len();
                if !rx.recv_many(&mut buf, room).now_or_never_ready() {
                    break;
                }
            }
            flush(&*store, &mut buf).await;
        }
        flush(&*store, &mut buf).await;
    });
    (Writer { tx }, handle)
}

async fn flush(store: &dyn Store, buf: &mut Vec<Write>) {
    if buf.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(50);
    for attempt in 1.. {
        match store.write_batch(buf).await {
            Ok(()) => break,
            Err(e) => {
                tracing::error!(error = %e, attempt, writes = buf.len(), "telemetry flush failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    buf.clear();
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
