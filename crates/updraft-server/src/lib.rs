//! The Updraft server: Capgo-compatible device endpoints, content-addressed
//! bundle files, the management API, the hot-path snapshot and the batched
//! telemetry writer. `main.rs` is only flag parsing; everything runs from here
//! so tests start the real server in-process.

pub mod access_log;
pub mod auth;
pub mod config;
pub mod config_report;
pub mod conn_limits;
pub mod error;
pub mod first_start;
pub mod openapi;
pub mod public_url;
pub mod ratelimit;
pub mod rejection;
pub mod request_id;
pub mod retention;
pub mod routes;
pub mod seen_filter;
pub mod snapshot;
pub mod state;
pub mod traffic;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, StatusCode};
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use updraft_blob::Blobs;
use updraft_protocol::api::{KeyMode, NewApiKey};
use updraft_store::Store;

use crate::config::Config;
use crate::routes::{api, capgo, channel_self, channels, device, devices, files, keys};
use crate::snapshot::Snapshots;
use crate::state::AppState;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Opens the store named by the URL scheme.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = &config.database_url;
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

async fn health(State(s): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match s.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check: database not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "degraded", "database": "unavailable"})),
            )
        }
    }
}

async fn not_found() -> error::ApiError {
    error::ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found")
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let json_limit = state.config.max_json_bytes;
    let upload_limit = state.config.max_bundle_bytes as usize;
    let v1 = Router::new()
        .route("/openapi.json", get(api::openapi))
        .route("/me", get(keys::me))
        .route("/apps", get(api::list_apps).post(api::create_app))
        .route(
            "/apps/{app_id}",
            get(api::get_app)
                .patch(api::update_app)
                .delete(api::delete_app),
        )
        .route(
            "/apps/{app_id}/bundles",
            get(api::list_bundles)
                .post(api::upload_bundle)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/apps/{app_id}/bundles/external",
            post(api::register_external),
        )
        .route(
            "/apps/{app_id}/bundles/{version}",
            get(api::get_bundle)
                .patch(api::update_bundle)
                .delete(api::delete_bundle),
        )
        .route(
            "/apps/{app_id}/channels",
            get(channels::list_channels).post(channels::create_channel),
        )
        .route(
            "/apps/{app_id}/channels/{name}",
            get(channels::get_channel)
                .patch(channels::update_channel)
                .delete(channels::delete_channel),
        )
        .route(
            "/apps/{app_id}/channels/{name}/history",
            get(channels::channel_history),
        )
        .route(
            "/apps/{app_id}/channels/{name}/rollback",
            post(channels::rollback_channel),
        )
        .route("/apps/{app_id}/devices", get(devices::list_devices))
        .route(
            "/apps/{app_id}/devices/{device_id}",
            get(devices::get_device),
        )
        .route(
            "/apps/{app_id}/devices/{device_id}/override",
            put(devices::set_override).delete(devices::remove_override),
        )
        .route(
            "/apps/{app_id}/devices/{device_id}/blocks",
            axum::routing::delete(devices::clear_blocks),
        )
        .route("/apps/{app_id}/events", get(devices::list_events))
        .route("/apps/{app_id}/explain", post(devices::explain))
        .route("/apps/{app_id}/offers", get(devices::list_offers))
        .route("/keys", get(keys::list_keys).post(keys::create_key))
        .route("/keys/{id}", axum::routing::delete(keys::delete_key));
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/updates", post(device::updates).get(device::ok))
        .route("/stats", post(device::stats).get(device::ok))
        .route("/channel_self", any(channel_self::channel_self))
        .route("/ok", post(device::ok))
        .route(
            "/files/{file}",
            get(files::bundle_file).head(files::bundle_file),
        )
        .route(
            "/device",
            post(capgo::post_device)
                .get(capgo::get_device)
                .delete(capgo::delete_device),
        )
        .route("/health", get(health))
        .nest("/api/v1", v1)
        .fallback(not_found)
        .layer(axum::middleware::map_response(rejection::envelope_errors))
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            state.config.body_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            public_url::strip_untrusted_forwarding,
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(access_log::AccessLogLayer(state.traffic.clone()))
        .layer(SetRequestIdLayer::new(
            request_id,
            crate::request_id::SequentialIds::default(),
        ))
        .with_state(state)
}

/// What `start` hands back: the bound address and a way to stop.
pub struct Running {
    pub addr: std::net::SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
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

/// Creates the first admin key on an empty database; returns its secret.
pub async fn bootstrap_key(
    store: &dyn Store,
    given: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if store.count_api_keys().await? > 0 {
        return Ok(None);
    }
    let secret = given.map(str::to_string).unwrap_or_else(auth::new_secret);
    let key = NewApiKey {
        name: "admin (first start)".into(),
        mode: KeyMode::All,
        apps: vec![],
        expires_at: None,
    };
    store
        .create_api_key(&key, &auth::hash_secret(&secret), now_ms())
        .await?;
    Ok(Some(secret))
}

/// Creates `key` with a new random secret and returns the secret (the shell's
/// `updraft-server admin create-key`).
pub async fn create_key(store: &dyn Store, key: &NewApiKey) -> anyhow::Result<String> {
    let secret = auth::new_secret();
    store
        .create_api_key(key, &auth::hash_secret(&secret), now_ms())
        .await?;
    Ok(secret)
}

/// Opens (and migrates) the store of `config`, starts serving, then creates
/// the bootstrap key: what `serve` does, for tests and tools that embed a server.
pub async fn open_and_start(config: Config) -> anyhow::Result<Running> {
    let store = open_store(&config).await?;
    let given = config.bootstrap_api_key.clone();
    let running = start(config, store.clone()).await?;
    bootstrap_key(&*store, given.as_deref()).await?;
    Ok(running)
}

/// A server for local tests: 127.0.0.1 on a free port, SQLite and blobs under
/// `dir`, `admin_key` as the first admin key, writes flushed every 10 ms.
pub async fn start_local(dir: &std::path::Path, admin_key: &str) -> anyhow::Result<Running> {
    let config = config::Layer {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        bootstrap_api_key: Some(admin_key.into()),
        flush_interval_ms: Some(10),
        ..Default::default()
    }
    .resolve()?;
    open_and_start(config).await
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
                tracing::info!(file = %e.path().display(), "removed an upload temp file left by a crash")
            }
            Err(err) => {
                tracing::warn!(file = %e.path().display(), error = %err, "cannot remove an upload temp file")
            }
        }
    }
}

/// Serves `config` over `store` in the background. Binds first, so the bound
/// address is known to the handlers (bundle URLs when no public URL is set).
pub async fn start(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Running> {
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            // Already installed (a second server in this process) is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot load TLS certificate {} / key {}",
                            cert.display(),
                            key.display()
                        )
                    })?,
            )
        }
        _ => None,
    };
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    remove_upload_leftovers(&config.data_dir.join("tmp"));
    let blobs = Blobs::local(&config.data_dir.join("blobs"))?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (writer, writer_task) = writer::spawn(
        store.clone(),
        writer::Settings {
            capacity: config.write_queue,
            interval: Duration::from_millis(config.flush_interval_ms),
            drain_timeout: Duration::from_millis(config.drain_timeout_ms),
        },
        shutdown_rx.clone(),
    );
    let snapshots = Arc::new(Snapshots::default());
    let poller = snapshot::spawn_poller(snapshots.clone(), store.clone(), Duration::from_secs(1));
    let pruner = retention::spawn(store.clone(), config.event_retention_days);
    let traffic = Arc::new(traffic::Traffic::default());
    let summaries = traffic.spawn_summaries();
    let state = AppState::new(state::Shared {
        store,
        blobs,
        snapshots,
        writer,
        traffic: traffic.clone(),
        config: Arc::new(config.clone()),
        bound: addr,
        blob_lock: Arc::default(),
        channel_limiter: Arc::default(),
        self_assign_limiter: Arc::new(ratelimit::DeviceLimiter::new(
            ratelimit::SELF_ASSIGN_PER_SECOND,
        )),
        // SQLite is one node by construction; see `seen_filter` for why not Postgres.
        seen_filter: (config.seen_cache > 0 && config.database_url.starts_with("sqlite:"))
            .then(|| seen_filter::SeenFilter::new(config.seen_cache)),
    });
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let handle = axum_server::Handle::new();
    let (h, grace, mut stop_rx) = (handle.clone(), config.shutdown_grace, shutdown_rx);
    tokio::spawn(async move {
        let _ = stop_rx.wait_for(|v| *v).await;
        h.graceful_shutdown(Some(grace));
    });
    let deadline = config.header_timeout;
    let serve: futures::future::BoxFuture<'static, std::io::Result<()>> = match tls {
        Some(tls) => {
            let acceptor = conn_limits::FirstByteDeadline {
                inner: axum_server::tls_rustls::RustlsAcceptor::new(tls)
                    .handshake_timeout(deadline)
                    .acceptor(axum_server::accept::NoDelayAcceptor::new()),
                deadline,
            };
            let mut server = axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle);
            conn_limits::configure(server.http_builder(), &config);
            Box::pin(server.serve(app))
        }
        None => {
            let acceptor = conn_limits::FirstByteDeadline {
                inner: axum_server::accept::NoDelayAcceptor::new(),
                deadline,
            };
            let mut server = axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle);
            conn_limits::configure(server.http_builder(), &config);
            Box::pin(server.serve(app))
        }
    };
    let task = tokio::spawn(async move {
        let served = serve.await.context("server failed");
        summaries.abort();
        traffic.log_summary();
        poller.abort();
        if let Some(p) = pruner {
            p.abort();
        }
        writer_task.await.context("writer task panicked")?;
        served
    });
    Ok(Running {
        addr,
        shutdown,
        task,
    })
}
