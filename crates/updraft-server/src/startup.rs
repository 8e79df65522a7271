//! Starting a server: open (and migrate) the store, bind, spawn the
//! background jobs (telemetry writer, change follower, retention, traffic
//! summaries), build the shared state and serve it; the [`Runtime`] tests
//! change (clock, change-log polling).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use updraft_blob::Blobs;
use updraft_store::Store;

use crate::bootstrap::bootstrap_key;
use crate::clock::{self, Clock};
use crate::config::Config;
use crate::router::router;
use crate::running::Running;
use crate::snapshot::Snapshots;
use crate::state::{self, AppState};
use crate::{
    changes, ratelimit, recorded, retention, rollout_runner, seen_filter, serving, traffic, writer,
};

/// What a server runs on besides its configuration: its clock and how it
/// follows the change log. Tests change them; `Runtime::default()` is what
/// `updraft-server` runs with.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Where the time of day comes from.
    pub clock: Arc<dyn Clock>,
    /// How often the change log is read when nothing announced a change.
    pub change_poll: Duration,
    /// Whether to listen for the database's announcements of new changes
    /// (PostgreSQL's NOTIFY); without, nodes learn of changes by the poll.
    pub change_notify: bool,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            clock: Arc::new(clock::SystemClock),
            change_poll: Duration::from_secs(1),
            change_notify: true,
        }
    }
}

/// Opens the store named by the URL scheme.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database.url.expose();
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if let Some(parent) = std::path::Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
        }
        Arc::new(updraft_store_sqlite::SqliteStore::connect(url).await?)
    } else {
        Arc::new(updraft_store_postgres::PostgresStore::connect(url).await?)
    };
    store.migrate().await.context("database migration failed")?;
    Ok(store)
}

/// Opens (and migrates) the store of `config`, starts serving, then creates
/// the bootstrap key: what `serve` does, for tests and tools that embed a server.
pub async fn open_and_start(config: Config) -> anyhow::Result<Running> {
    open_and_start_with(config, Runtime::default()).await
}

/// [`open_and_start`] with the given [`Runtime`] (tests: a [`clock::TestClock`]).
pub async fn open_and_start_with(config: Config, runtime: Runtime) -> anyhow::Result<Running> {
    let store = open_store(&config).await?;
    let given = config.server.bootstrap_api_key.clone();
    let running = start_with(config, store.clone(), runtime).await?;
    bootstrap_key(&*store, given.as_ref().map(|k| k.expose().as_str())).await?;
    Ok(running)
}

/// Serves `config` over `store` in the background. Binds first, so the bound
/// address is known to the handlers (bundle URLs when no public URL is set).
pub async fn start(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Running> {
    start_with(config, store, Runtime::default()).await
}

/// [`start`] with the given [`Runtime`].
pub async fn start_with(
    config: Config,
    store: Arc<dyn Store>,
    runtime: Runtime,
) -> anyhow::Result<Running> {
    let tls = serving::load_tls(&config).await?;
    let geo = Arc::new(crate::geo::Geo::open(&config.geo)?);
    let listener = std::net::TcpListener::bind(config.server.listen)
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    remove_upload_leftovers(&config.storage.data_dir.join("tmp"));
    let blobs = match &config.storage.s3 {
        Some(s3) => {
            let blobs = Blobs::s3(s3).with_context(|| format!("[storage] bucket {}", s3.bucket))?;
            blobs.check().await.with_context(|| {
                format!(
                    "[storage] bucket {} does not answer or refuses this server's key (it needs s3:ListBucket, GetObject, PutObject, DeleteObject, AbortMultipartUpload)",
                    s3.bucket
                )
            })?;
            blobs
        }
        None => Blobs::local(&config.storage.data_dir.join("blobs"))?,
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (writer, writer_task) = writer::spawn(
        store.clone(),
        writer::Settings {
            capacity: config.telemetry.write_queue,
            max_bytes: config.telemetry.write_queue_bytes,
            interval: Duration::from_millis(config.telemetry.flush_interval_ms),
            drain_timeout: Duration::from_millis(config.telemetry.drain_timeout_ms),
        },
        shutdown_rx.clone(),
    );
    let snapshots = Arc::new(Snapshots::default());
    let last_change = store
        .last_change_id()
        .await
        .context("cannot read the change log")?;
    let (follower, follower_task) = changes::spawn(
        store.clone(),
        snapshots.clone(),
        runtime.clock.clone(),
        last_change,
        changes::Settings {
            poll_every: runtime.change_poll,
            listen: runtime.change_notify,
        },
    );
    // This run of this node, for leases (a restart is a new holder).
    let node: Arc<str> = uuid::Uuid::new_v4().to_string().into();
    let (sweeper, sweeper_task, sweeps) = crate::blob_sweep::spawn(
        store.clone(),
        blobs.clone(),
        runtime.clock.clone(),
        config.storage.removal_grace,
    );
    let (pruner, retention_runs) = retention::spawn(
        store.clone(),
        (
            config.telemetry.event_retention_days,
            config.telemetry.change_retention_days,
        ),
        runtime.clock.clone(),
        (node.clone(), sweeper.clone()),
    );
    let lease_store = store.clone();
    let sweeper_handle = sweeper.clone();
    let store: Arc<dyn Store> = Arc::new(recorded::Recorded::new(store, follower.clone()));
    // Through the recorded store: an action is applied to this node's
    // snapshot before the runner moves on (other nodes follow the log).
    let (gate_runner, gate_passes) = rollout_runner::spawn(
        store.clone(),
        runtime.clock.clone(),
        Duration::from_millis(config.telemetry.gate_check_interval_ms),
    );
    let (patches, patcher) = crate::patches::Patches::spawn(crate::patches::Worker {
        store: store.clone(),
        blobs: blobs.clone(),
        tmp: config.storage.data_dir.join("tmp"),
        clock: runtime.clock.clone(),
    });
    let traffic = Arc::new(traffic::Traffic::with_metrics(
        crate::prometheus::Metrics::new(Some(crate::prometheus::State {
            writer: writer.clone(),
            snapshots: snapshots.clone(),
        })),
    ));
    let summaries = traffic.spawn_summaries();
    let webhook_client = crate::webhooks::deliver::client(config.webhooks.allow_local);
    let webhook_worker = crate::webhooks::spawn(
        crate::webhooks::Worker {
            store: store.clone(),
            clock: runtime.clock.clone(),
            http: webhook_client.clone(),
            allow_local: config.webhooks.allow_local,
            traffic: traffic.clone(),
        },
        Duration::from_millis(config.webhooks.poll_interval_ms),
    );
    let state = AppState::new(state::Shared {
        store,
        clock: runtime.clock,
        blobs,
        snapshots,
        follower,
        writer: writer.clone(),
        traffic: traffic.clone(),
        config: Arc::new(config.clone()),
        bound: addr,
        sweeper,
        readiness: Default::default(),
        channel_limiter: Arc::default(),
        test_delivery_limiter: Arc::new(ratelimit::DeviceLimiter::new(1)),
        signin_failures: Arc::default(),
        offers: Default::default(),
        patches,
        webhook_client,
        geo,
        self_assign_limiter: Arc::new(ratelimit::DeviceLimiter::new(
            ratelimit::SELF_ASSIGN_PER_SECOND,
        )),
        // SQLite is one node by construction; see `seen_filter` for why not Postgres.
        seen_filter: (config.database.seen_cache > 0 && config.database.url.is_sqlite())
            .then(|| seen_filter::SeenFilter::new(config.database.seen_cache)),
    });
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let handle = axum_server::Handle::new();
    let (h, grace, mut stop_rx) = (handle.clone(), config.server.shutdown_grace, shutdown_rx);
    tokio::spawn(async move {
        let _ = stop_rx.wait_for(|v| *v).await;
        h.graceful_shutdown(Some(grace));
    });
    let serve = serving::serve(listener, tls, app, handle, &config);
    let task = tokio::spawn(async move {
        let served = serve.await.context("server failed");
        summaries.abort();
        traffic.log_summary();
        // Ends the change feed (PostgreSQL's LISTEN connection) with the server.
        follower_task.abort();
        // No new webhook attempt during the drain (one cut short is retried
        // by any node once its lease ends).
        webhook_worker.abort();
        // The writer drains before the background jobs stop: a job aborted
        // in the middle of a transaction leaves it open on its pooled
        // connection (its rollback waits for that connection's next use),
        // and on SQLite that write lock would hold the drain up until its
        // deadline, losing the queued telemetry.
        let drained = writer_task.await.context("writer task panicked");
        pruner.abort();
        sweeper_task.abort();
        // Another node may run retention at once.
        if let Err(e) = lease_store.release_leases(&node).await {
            tracing::warn!(error = %e, "could not give up this node's leases; they run out on their own");
        }
        gate_runner.abort();
        patcher.abort();
        drained?;
        served
    });
    Ok(Running::new(
        addr,
        shutdown,
        task,
        (retention_runs, gate_passes, (sweeper_handle, sweeps)),
        writer,
    ))
}

/// Removes upload temp files a crash left behind (each upload streams to its
/// own temp file, which is removed when the upload ends in any other way).
fn remove_upload_leftovers(tmp: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        match std::fs::remove_file(e.path()) {
            Ok(()) => {
                tracing::info!(file = %e.path().display(), "removed an upload temp file left by a crash");
            }
            Err(err) => {
                tracing::warn!(file = %e.path().display(), error = %err, "cannot remove an upload temp file");
            }
        }
    }
}
