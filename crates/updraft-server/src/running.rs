//! A server started in the background: its bound address, and how it stops
//! (on request, or on SIGINT / SIGTERM) after finishing in-flight requests
//! and flushing queued writes.

use anyhow::Context;
use tokio::sync::watch;

/// What [`start`](crate::start) hands back: the bound address and a way to stop.
pub struct Running {
    /// The address the server listens on (the port the OS chose for port 0).
    pub addr: std::net::SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    retention_runs: watch::Receiver<u64>,
    gate_passes: watch::Receiver<u64>,
    sweeps: watch::Receiver<u64>,
    sweeper: crate::blob_sweep::Sweeper,
    writer: crate::writer::Writer,
}

impl Running {
    /// A server whose task ends once `shutdown` turns true.
    pub(crate) fn new(
        addr: std::net::SocketAddr,
        shutdown: watch::Sender<bool>,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
        (retention_runs, gate_passes, (sweeper, sweeps)): (
            watch::Receiver<u64>,
            watch::Receiver<u64>,
            (crate::blob_sweep::Sweeper, watch::Receiver<u64>),
        ),
        writer: crate::writer::Writer,
    ) -> Self {
        Self {
            addr,
            shutdown,
            task,
            retention_runs,
            gate_passes,
            sweeps,
            sweeper,
            writer,
        }
    }

    /// Counts the sweeper's finished passes (at start, every minute, and
    /// soon after a deletion).
    pub fn sweeps(&self) -> watch::Receiver<u64> {
        self.sweeps.clone()
    }

    /// Asks the sweeper for a pass now (it runs after the one under way).
    pub fn sweep_soon(&self) {
        self.sweeper.soon();
    }

    /// Counts the retention job's finished runs (it runs at start, then hourly).
    pub fn retention_runs(&self) -> watch::Receiver<u64> {
        self.retention_runs.clone()
    }

    /// Counts the rollout runner's finished passes over every active
    /// rollout (one per `gate_check_interval_ms`).
    pub fn gate_passes(&self) -> watch::Receiver<u64> {
        self.gate_passes.clone()
    }

    /// Waits until every telemetry write queued before the call (device
    /// rows, events, release signals, offer counts) has been flushed to the
    /// database. Never returns if the writer has stopped: callers bound it.
    pub async fn telemetry_flushed(&self) {
        self.writer.flushed().await;
    }

    /// Stops accepting, finishes in-flight requests, flushes every queued write.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("server task panicked")?
    }

    /// Runs until `signals` reports SIGINT or SIGTERM, then stops cleanly.
    pub async fn until_signal(self, mut signals: StopSignals) -> anyhow::Result<()> {
        signals.recv().await;
        tracing::info!("shutting down: no new connections; flushing queued writes");
        self.stop().await
    }
}

/// SIGINT and SIGTERM listeners. Install them before starting the server: a
/// signal that arrives before they exist kills the process without a flush.
pub struct StopSignals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening for SIGINT and SIGTERM (Ctrl-C elsewhere).
    pub fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
                term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
