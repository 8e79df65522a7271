//! Server configuration, in sections (`[server]`, `[database]`, `[storage]`,
//! `[tls]`, `[limits]`, `[telemetry]`), layered: defaults → TOML file →
//! `UPDRAFT_*` environment → command-line flags (`layer`), then validated
//! once at start with messages that say what to fix (`resolve`). Secrets
//! are held in types that never print them ([`crate::secret`]).

mod layer;
mod log_filter;
mod names;
mod resolve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use layer::{
    DatabaseLayer, Layer, LimitsLayer, ServerLayer, StorageLayer, TelemetryLayer, TlsLayer,
};
pub use log_filter::{silenced, LogFilter};
pub use names::{SettingName, SETTINGS};

pub use crate::secret::{DatabaseUrl, Secret};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// The name used in the configuration (`text` or `json`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The validated configuration the server runs with. Its `Debug` never
/// shows a key or a database password.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[server]`: where it listens, how it is reached, how it logs and stops.
    pub server: ServerConfig,
    /// `[database]`: which database, and the cache in front of its device rows.
    pub database: DatabaseConfig,
    /// `[storage]`: where bundle files (and the default SQLite file) live.
    pub storage: StorageConfig,
    /// `[tls]`: built-in TLS.
    pub tls: TlsConfig,
    /// `[limits]`: body sizes, connection time limits, caps on what devices create.
    pub limits: LimitsConfig,
    /// `[telemetry]`: the batched writer of device rows and stats events.
    pub telemetry: TelemetryConfig,
    /// `[metrics]`: who may read `/metrics`.
    pub metrics: MetricsConfig,
    /// `[webhooks]`: where outbound webhooks may go.
    pub webhooks: WebhooksConfig,
    /// `[geo]`: where a device's country comes from (targeting rules).
    pub geo: GeoConfig,
}

/// `[server]` settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// External base URL used in the bundle URLs handed to devices.
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-Host`/`-Proto` are believed (only
    /// used when no public URL is set).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Admin key to create on first start instead of a random one.
    pub bootstrap_api_key: Option<Secret<String>>,
    /// On shutdown, in-flight requests get this long before their connections are closed.
    pub shutdown_grace: Duration,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// Serve the dashboard under `/ui/` (and send `/` there).
    pub dashboard: bool,
}

/// `[database]` settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; prints with its password hidden.
    pub url: DatabaseUrl,
    /// Devices whose last queued row is remembered, so an unchanged check
    /// costs no database work (SQLite only; 0 turns it off). About 19 bytes each.
    pub seen_cache: usize,
}

/// `[storage]` settings.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Directory for bundle files, upload temp files and the default SQLite database.
    pub data_dir: PathBuf,
    /// An S3-compatible bucket for bundle files instead of the data directory.
    pub s3: Option<updraft_blob::S3Settings>,
    /// How long a stored file nothing uses any more stays (downloads in
    /// flight, presigned links handed out) before it is removed.
    pub removal_grace: Duration,
    /// How file downloads are answered.
    pub downloads: Downloads,
}

/// How the server answers a download of a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Downloads {
    /// Streamed by this node (Range, ETag, HEAD).
    Stream,
    /// A redirect to the file's URL under this public base URL of the
    /// bucket (a CDN, or a public bucket), without a trailing slash.
    Redirect(String),
    /// A redirect to a presigned URL of the bucket, valid this long.
    Presign(Duration),
}

/// `[tls]` settings: both set, or neither.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// PEM certificate chain (checked readable at start).
    pub cert: Option<PathBuf>,
    /// PEM private key (checked readable at start; never printed, only its path).
    pub key: Option<PathBuf>,
}

/// `[limits]` settings.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Largest accepted bundle upload, in bytes.
    pub max_bundle_bytes: u64,
    /// Largest accepted JSON body, in bytes.
    pub max_json_bytes: usize,
    /// A client must send a request's headers within this time; an idle
    /// keep-alive connection is closed after it too.
    pub header_timeout: Duration,
    /// A request body that sends nothing for this long is cut off; an
    /// HTTP/1.1 connection that refuses writes for five times this long is
    /// too (`conn_limits::write_stall`).
    pub body_timeout: Duration,
    /// Devices per app that may keep a self-assigned channel on the server
    /// (plugins before 7.34); bounds what unauthenticated calls can create.
    pub max_self_assigned_devices: i64,
}

/// `[metrics]` settings.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// The bearer token `/metrics` asks for; without one it is open (put it
    /// behind the proxy's rules, or set one).
    pub token: Option<Secret<String>>,
}

/// `[webhooks]` settings.
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// Allow receivers over plain `http://` and on loopback, private,
    /// link-local or otherwise non-public addresses (off: only `https://`
    /// to public addresses, checked at every delivery).
    pub allow_local: bool,
    /// Milliseconds between two looks for due deliveries.
    pub poll_interval_ms: u64,
}

/// `[geo]` settings: a device's country for targeting rules.
#[derive(Debug, Clone, Default)]
pub struct GeoConfig {
    /// The header a CDN or proxy in front sets to the client's country
    /// (`CF-IPCountry`, `CloudFront-Viewer-Country`); read only on requests
    /// from `[server] trusted_proxies`.
    pub country_header: Option<axum::http::HeaderName>,
    /// A MaxMind-format database (GeoLite2-Country or -City `.mmdb`) the
    /// client address is looked up in when the header gives nothing.
    pub database: Option<std::path::PathBuf>,
}

/// `[telemetry]` settings.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// Capacity of the telemetry write queue (events and device rows).
    pub write_queue: usize,
    /// Most bytes the queued writes and the batch being written may hold
    /// together (a write's size and its strings: `Write::approx_bytes`).
    pub write_queue_bytes: usize,
    /// Milliseconds between telemetry flushes.
    pub flush_interval_ms: u64,
    /// How long the shutdown drain of queued telemetry may take, in milliseconds.
    pub drain_timeout_ms: u64,
    /// Days stats events are kept; 0 keeps them forever.
    pub event_retention_days: u64,
    /// Milliseconds between two evaluations of every active rollout's
    /// health gates (one node evaluates each rollout per interval).
    pub gate_check_interval_ms: u64,
    /// Days the change log (the audit trail: every management write, its
    /// actor, before and after) is kept; each app's latest change stays.
    pub change_retention_days: u64,
}

impl Config {
    /// The effective value of every setting, by section, in the file's order,
    /// as `check-config` shows them: the bootstrap key as a note that it is
    /// set, the database URL with its password hidden.
    pub(crate) fn shown(&self) -> Vec<(&'static str, &'static str, serde_json::Value)> {
        use serde_json::{json, Value};
        let path = |p: &std::path::Path| Value::from(p.to_string_lossy().into_owned());
        let opt_path = |p: &Option<PathBuf>| p.as_deref().map_or(Value::Null, path);
        let s = &self.server;
        let l = &self.limits;
        let t = &self.telemetry;
        vec![
            ("server", "listen", json!(s.listen.to_string())),
            ("server", "public_url", json!(s.public_url)),
            ("server", "dashboard", json!(s.dashboard)),
            (
                "server",
                "trusted_proxies",
                json!(s
                    .trusted_proxies
                    .iter()
                    .map(std::string::ToString::to_string)
                    .collect::<Vec<_>>()),
            ),
            (
                "server",
                "bootstrap_api_key",
                json!(s.bootstrap_api_key.as_ref().map(|_| "(set, not shown)")),
            ),
            (
                "server",
                "shutdown_grace_secs",
                json!(s.shutdown_grace.as_secs()),
            ),
            ("server", "log_format", json!(s.log_format.as_str())),
            ("database", "url", json!(self.database.url.to_string())),
            ("database", "seen_cache", json!(self.database.seen_cache)),
            ("storage", "data_dir", path(&self.storage.data_dir)),
            (
                "storage",
                "bucket",
                json!(self.storage.s3.as_ref().map(|s| &s.bucket)),
            ),
            (
                "storage",
                "endpoint",
                json!(self.storage.s3.as_ref().and_then(|s| s.endpoint.as_ref())),
            ),
            (
                "storage",
                "region",
                json!(self.storage.s3.as_ref().and_then(|s| s.region.as_ref())),
            ),
            (
                "storage",
                "path_style",
                json!(self.storage.s3.as_ref().map(|s| s.path_style)),
            ),
            (
                "storage",
                "prefix",
                json!(self.storage.s3.as_ref().and_then(|s| s.prefix.as_ref())),
            ),
            (
                "storage",
                "access_key_id",
                json!(self
                    .storage
                    .s3
                    .as_ref()
                    .and_then(|s| s.access_key_id.as_ref())),
            ),
            (
                "storage",
                "secret_access_key",
                json!(self
                    .storage
                    .s3
                    .as_ref()
                    .and_then(|s| s.secret_access_key.as_ref())
                    .map(|_| "(set, not shown)")),
            ),
            (
                "storage",
                "removal_grace_secs",
                json!(self.storage.removal_grace.as_secs()),
            ),
            (
                "storage",
                "download_base_url",
                json!(match &self.storage.downloads {
                    Downloads::Redirect(u) => Some(u),
                    _ => None,
                }),
            ),
            (
                "storage",
                "presign_secs",
                json!(match &self.storage.downloads {
                    Downloads::Presign(d) => d.as_secs(),
                    _ => 0,
                }),
            ),
            ("tls", "cert", opt_path(&self.tls.cert)),
            ("tls", "key", opt_path(&self.tls.key)),
            ("limits", "max_bundle_bytes", json!(l.max_bundle_bytes)),
            ("limits", "max_json_bytes", json!(l.max_json_bytes)),
            (
                "limits",
                "header_timeout_secs",
                json!(l.header_timeout.as_secs()),
            ),
            (
                "limits",
                "body_timeout_secs",
                json!(l.body_timeout.as_secs()),
            ),
            (
                "limits",
                "max_self_assigned_devices",
                json!(l.max_self_assigned_devices),
            ),
            ("telemetry", "write_queue", json!(t.write_queue)),
            ("telemetry", "write_queue_bytes", json!(t.write_queue_bytes)),
            ("telemetry", "flush_interval_ms", json!(t.flush_interval_ms)),
            ("telemetry", "drain_timeout_ms", json!(t.drain_timeout_ms)),
            (
                "telemetry",
                "gate_check_interval_ms",
                json!(t.gate_check_interval_ms),
            ),
            (
                "telemetry",
                "event_retention_days",
                json!(t.event_retention_days),
            ),
            (
                "telemetry",
                "change_retention_days",
                json!(t.change_retention_days),
            ),
            (
                "metrics",
                "token",
                json!(self.metrics.token.as_ref().map(|_| "(set, not shown)")),
            ),
            ("webhooks", "allow_local", json!(self.webhooks.allow_local)),
            (
                "webhooks",
                "poll_interval_ms",
                json!(self.webhooks.poll_interval_ms),
            ),
            (
                "geo",
                "country_header",
                json!(self
                    .geo
                    .country_header
                    .as_ref()
                    .map(axum::http::HeaderName::as_str)),
            ),
            (
                "geo",
                "database",
                json!(self.geo.database.as_ref().map(|p| p.display().to_string())),
            ),
        ]
    }
}
