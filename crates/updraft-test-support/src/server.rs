//! The real server for tests: on 127.0.0.1 at a free port, over a temporary
//! SQLite database or a throwaway PostgreSQL one, with the admin calls tests
//! seed it through. [`config`] and [`Server::start_runtime`] are the only places
//! that build a server configuration and start a server.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use updraft_server::config::{Config, Layer};

use crate::pg::TestDatabase;
use crate::{ADMIN, APP};

/// The database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the server's temporary data directory.
    Sqlite,
    /// A throwaway database on the PostgreSQL server named by
    /// `UPDRAFT_TEST_POSTGRES_URL`; a missing server fails the test.
    Postgres,
}

/// The test configuration over `dir`: SQLite there, [`ADMIN`] as the first
/// admin key, 64 KiB JSON bodies, 2 MiB bundles, writes flushed every 10 ms,
/// rollout gates evaluated every 100 ms.
pub fn config(dir: &Path) -> Config {
    Layer::from_toml(
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nbootstrap_api_key = {ADMIN:?}\n\
             [storage]\ndata_dir = {:?}\n\
             [limits]\nmax_json_bytes = 65536\nmax_bundle_bytes = 2097152\n\
             [telemetry]\nflush_interval_ms = 10\ngate_check_interval_ms = 100\n\
             [webhooks]\npoll_interval_ms = 50\n",
            dir.display().to_string()
        ),
        "test config",
    )
    .expect("the test configuration parses")
    .resolve()
    .expect("the test configuration is valid")
}

/// Where a test server keeps its data: a temporary directory and, on
/// PostgreSQL, a throwaway database. Both are removed when it is dropped.
pub struct Storage {
    /// The data directory (blobs; the SQLite file on SQLite).
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database, on [`Backend::Postgres`].
    pub db: Option<TestDatabase>,
}

impl Storage {
    /// New, empty storage on `backend`.
    pub async fn new(backend: Backend) -> Storage {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(crate::pg::database().await),
        };
        Storage { dir, db }
    }

    /// The test [`config`] over this storage. Servers started with it share
    /// the data (two nodes on one PostgreSQL database).
    pub fn config(&self) -> Config {
        let mut c = config(self.dir.path());
        if let Some(db) = &self.db {
            c.database.url = updraft_server::secret::DatabaseUrl::new(db.url.clone());
        }
        c
    }
}

/// A running test server and an HTTP client for it.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client for it, with no key set (see [`Server::api`] for calls with one).
    pub http: reqwest::Client,
    /// The data directory.
    pub dir: PathBuf,
    /// What it was started with ([`Server::restart`] uses it again).
    pub config: Config,
    /// Its clock and change-log settings (kept across a restart).
    pub runtime: updraft_server::Runtime,
    running: Option<updraft_server::Running>,
    storage: Option<Storage>,
}

impl Server {
    /// A server on a fresh SQLite database.
    pub async fn start() -> Server {
        Server::start_on(Backend::Sqlite).await
    }

    /// A server on fresh storage on `backend`.
    pub async fn start_on(backend: Backend) -> Server {
        Server::start_tweaked(backend, |_| {}).await
    }

    /// A server on fresh storage on `backend`, its [`config`] changed by `tweak` first.
    pub async fn start_tweaked(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Server {
        let storage = Storage::new(backend).await;
        let mut c = storage.config();
        tweak(&mut c);
        let mut s = Server::start_with(c).await;
        s.storage = Some(storage);
        s
    }

    /// A server on the test [`config`] over `dir`, which the caller keeps.
    pub async fn start_in(dir: &Path) -> Server {
        Server::start_with(config(dir)).await
    }

    /// A server on fresh SQLite storage whose clock is `clock`: tests of
    /// anything time-based turn it instead of sleeping.
    pub async fn start_clocked(clock: &updraft_server::clock::TestClock) -> Server {
        let storage = Storage::new(Backend::Sqlite).await;
        let runtime = updraft_server::Runtime {
            clock: std::sync::Arc::new(clock.clone()),
            ..Default::default()
        };
        let mut s = Server::start_runtime(storage.config(), runtime).await;
        s.storage = Some(storage);
        s
    }

    /// A server on `storage` (which the caller keeps: start two on one
    /// PostgreSQL database for two nodes) whose clock is `clock`.
    pub async fn start_clocked_over(
        storage: &Storage,
        clock: &updraft_server::clock::TestClock,
    ) -> Server {
        let runtime = updraft_server::Runtime {
            clock: std::sync::Arc::new(clock.clone()),
            ..Default::default()
        };
        Server::start_runtime(storage.config(), runtime).await
    }

    /// A server on `c`, whose data the caller keeps.
    pub async fn start_with(c: Config) -> Server {
        Server::start_runtime(c, updraft_server::Runtime::default()).await
    }

    /// A server on `c` and `runtime` (a test clock, a poll-only change
    /// follower…), whose data the caller keeps.
    pub async fn start_runtime(c: Config, runtime: updraft_server::Runtime) -> Server {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_test_writer()
            .try_init();
        let running = updraft_server::open_and_start_with(c.clone(), runtime.clone())
            .await
            .unwrap_or_else(|e| panic!("the test server does not start: {e:#}"));
        Server {
            base: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            dir: c.storage.data_dir.clone(),
            config: c,
            runtime,
            running: Some(running),
            storage: None,
        }
    }

    /// Stops the server (flushing queued writes), keeping its data. Stopping
    /// a stopped server does nothing.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running
                .stop()
                .await
                .unwrap_or_else(|e| panic!("the test server does not stop cleanly: {e:#}"));
        }
    }

    /// Stops the server and starts it again on the same configuration and
    /// data (at a new port: [`Server::base`] changes).
    pub async fn restart(&mut self) {
        self.stop().await;
        let storage = self.storage.take();
        *self = Server::start_runtime(self.config.clone(), self.runtime.clone()).await;
        self.storage = storage;
    }

    /// Keeps `storage` (the data) for as long as the server.
    pub fn keep(&mut self, storage: Storage) {
        self.storage = Some(storage);
    }

    /// Counts the retention job's finished runs (it runs at start, then hourly).
    pub fn retention_runs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.running
            .as_ref()
            .expect("the server runs")
            .retention_runs()
    }

    /// Counts the rollout runner's finished passes (one per 100 ms in tests).
    pub fn gate_passes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.running
            .as_ref()
            .expect("the server runs")
            .gate_passes()
    }

    /// Waits until the sweeper has made a whole pass that started after the
    /// call: every stored file due by then was looked at.
    pub async fn swept(&self) {
        let running = self.running.as_ref().expect("the server runs");
        let mut passes = running.sweeps();
        for _ in 0..2 {
            let start = *passes.borrow_and_update();
            running.sweep_soon();
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                passes.wait_for(|n| *n > start),
            )
            .await
            .expect("the sweeper makes a pass within 10 s")
            .expect("the sweeper runs");
        }
    }

    /// Waits until the rollout runner has finished two more passes, so every
    /// active rollout was evaluated at least once since the call (when its
    /// lease allowed).
    pub async fn gates_evaluated(&self) {
        let mut passes = self.gate_passes();
        let start = *passes.borrow_and_update();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            passes.wait_for(|n| *n >= start + 2),
        )
        .await
        .expect("the rollout runner makes a pass within 10 s")
        .expect("the rollout runner runs");
    }

    /// The full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A management API call (`/api/v1{path}`) with `key`; returns the status
    /// and the JSON body (`Null` when there is none).
    pub async fn api_as(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut r = self
            .http
            .request(m, self.url(&format!("/api/v1{path}")))
            .bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.expect("the server answers");
        let status = res.status().as_u16();
        let text = res.text().await.expect("a readable body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A management API call as [`ADMIN`].
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_as(ADMIN, method, path, body).await
    }

    /// A management call as [`ADMIN`] that must succeed; its JSON body.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.api(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v}"
        );
        v
    }

    /// `GET path` (no auth) and its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let res = self.http.get(self.url(path)).send().await;
        res.expect("the server answers")
            .json()
            .await
            .expect("a JSON body")
    }

    /// `GET path` (no auth) and its status code.
    pub async fn get_status(&self, path: &str) -> u16 {
        let res = self.http.get(self.url(path)).send().await;
        res.expect("the server answers").status().as_u16()
    }

    /// Creates [`APP`] with a public `production` channel.
    pub async fn with_app(&self) {
        self.ok("POST", "/apps", Some(json!({"app_id": APP}))).await;
        self.add_channel(json!({"name": "production", "public": true}))
            .await;
    }

    /// Creates a channel of [`APP`] as `body` describes; the channel's JSON.
    pub async fn add_channel(&self, body: Value) -> Value {
        let path = format!("/apps/{APP}/channels");
        self.ok("POST", &path, Some(body)).await
    }

    /// The actions of `device`'s stored events in [`APP`], as the events API
    /// lists them (newest first).
    pub async fn event_actions(&self, device: &str) -> Vec<String> {
        let path = format!("/apps/{APP}/events?device_id={device}");
        let events = self.ok("GET", &path, None).await;
        let Value::Array(events) = events else {
            panic!("the events are a list: {events}");
        };
        let action = |e: &Value| e["action"].as_str().map(str::to_string);
        events
            .iter()
            .map(|e| action(e).unwrap_or_else(|| panic!("an event has an action: {e}")))
            .collect()
    }

    /// Changes [`APP`]'s channel `name` by `patch`; the channel's JSON.
    pub async fn set_channel(&self, name: &str, patch: Value) -> Value {
        self.ok(
            "PATCH",
            &format!("/apps/{APP}/channels/{name}"),
            Some(patch),
        )
        .await
    }

    /// Waits until the batched writer has written everything devices sent
    /// before the call (every queued write and counted offer is through a
    /// flush).
    pub async fn settle(&self) {
        let running = self.running.as_ref().expect("the server runs");
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            running.telemetry_flushed(),
        )
        .await
        .expect("the telemetry writer flushes within 20 s");
    }
}
