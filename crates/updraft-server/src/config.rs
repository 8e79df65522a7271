//! Server configuration, layered: defaults → TOML file → `UPDRAFT_*` environment
//! → command-line flags. Validated once at start with messages that say what to fix.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The log filter when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";

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
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// External base URL used in the bundle URLs handed to devices.
    pub public_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Largest accepted bundle upload, in bytes.
    pub max_bundle_bytes: u64,
    /// Largest accepted JSON body, in bytes.
    pub max_json_bytes: usize,
    /// Capacity of the telemetry write queue (events and device rows).
    pub write_queue: usize,
    /// Milliseconds between telemetry flushes.
    pub flush_interval_ms: u64,
    /// Admin key to create on first start instead of a random one.
    pub bootstrap_api_key: Option<String>,
    /// Devices whose last queued row is remembered, so an unchanged check
    /// costs no database work (SQLite only; 0 turns it off). About 35 bytes each.
    pub seen_cache: usize,
    /// Reverse proxies whose `X-Forwarded-Host`/`-Proto` are believed (only
    /// used when no public URL is set).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A client must send a request's headers within this time; an idle
    /// keep-alive connection is closed after it too.
    pub header_timeout: std::time::Duration,
    /// A request body that sends nothing for this long is cut off.
    pub body_timeout: std::time::Duration,
    /// On shutdown, in-flight requests get this long before their connections are closed.
    pub shutdown_grace: std::time::Duration,
    /// Devices per app that may keep a self-assigned channel on the server
    /// (plugins before 7.34); bounds what unauthenticated calls can create.
    pub max_self_assigned_devices: i64,
    /// How long the shutdown drain of queued telemetry may take, in milliseconds.
    pub drain_timeout_ms: u64,
    /// Days stats events are kept; 0 keeps them forever.
    pub event_retention_days: u64,
    pub log_format: LogFormat,
}

/// One layer: every field optional. Also the TOML file's shape, and the list
/// of settings `check-config` prints. Each field is also read from the
/// environment as `UPDRAFT_<FIELD>` (upper case).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub trusted_proxies: Option<Vec<String>>,
    pub bootstrap_api_key: Option<String>,
    pub max_bundle_bytes: Option<u64>,
    pub max_json_bytes: Option<usize>,
    pub header_timeout_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub write_queue: Option<usize>,
    pub flush_interval_ms: Option<u64>,
    pub drain_timeout_ms: Option<u64>,
    pub seen_cache: Option<usize>,
    pub max_self_assigned_devices: Option<u64>,
    pub event_retention_days: Option<u64>,
    pub log_format: Option<String>,
}

impl Layer {
    /// Fields set in `over` replace those in `self`.
    pub fn merge(self, over: Layer) -> Layer {
        Layer {
            listen: over.listen.or(self.listen),
            data_dir: over.data_dir.or(self.data_dir),
            database_url: over.database_url.or(self.database_url),
            public_url: over.public_url.or(self.public_url),
            tls_cert: over.tls_cert.or(self.tls_cert),
            tls_key: over.tls_key.or(self.tls_key),
            max_bundle_bytes: over.max_bundle_bytes.or(self.max_bundle_bytes),
            max_json_bytes: over.max_json_bytes.or(self.max_json_bytes),
            write_queue: over.write_queue.or(self.write_queue),
            flush_interval_ms: over.flush_interval_ms.or(self.flush_interval_ms),
            bootstrap_api_key: over.bootstrap_api_key.or(self.bootstrap_api_key),
            seen_cache: over.seen_cache.or(self.seen_cache),
            trusted_proxies: over.trusted_proxies.or(self.trusted_proxies),
            header_timeout_secs: over.header_timeout_secs.or(self.header_timeout_secs),
            body_timeout_secs: over.body_timeout_secs.or(self.body_timeout_secs),
            shutdown_grace_secs: over.shutdown_grace_secs.or(self.shutdown_grace_secs),
            max_self_assigned_devices: over
                .max_self_assigned_devices
                .or(self.max_self_assigned_devices),
            drain_timeout_ms: over.drain_timeout_ms.or(self.drain_timeout_ms),
            event_retention_days: over.event_retention_days.or(self.event_retention_days),
            log_format: over.log_format.or(self.log_format),
        }
    }

    /// Reads a TOML file layer.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Layer> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Reads the `UPDRAFT_*` environment layer from `vars`.
    pub fn from_env(vars: impl Fn(&str) -> Option<String>) -> anyhow::Result<Layer> {
        let num = |name: &str| -> anyhow::Result<Option<u64>> {
            vars(name)
                .map(|v| {
                    v.parse::<u64>()
                        .with_context(|| format!("{name} must be a whole number, got {v:?}"))
                })
                .transpose()
        };
        Ok(Layer {
            listen: vars("UPDRAFT_LISTEN"),
            data_dir: vars("UPDRAFT_DATA_DIR").map(PathBuf::from),
            database_url: vars("UPDRAFT_DATABASE_URL"),
            public_url: vars("UPDRAFT_PUBLIC_URL"),
            tls_cert: vars("UPDRAFT_TLS_CERT").map(PathBuf::from),
            tls_key: vars("UPDRAFT_TLS_KEY").map(PathBuf::from),
            max_bundle_bytes: num("UPDRAFT_MAX_BUNDLE_BYTES")?,
            max_json_bytes: num("UPDRAFT_MAX_JSON_BYTES")?.map(|v| v as usize),
            write_queue: num("UPDRAFT_WRITE_QUEUE")?.map(|v| v as usize),
            flush_interval_ms: num("UPDRAFT_FLUSH_INTERVAL_MS")?,
            bootstrap_api_key: vars("UPDRAFT_BOOTSTRAP_API_KEY"),
            seen_cache: num("UPDRAFT_SEEN_CACHE")?.map(|v| v as usize),
            trusted_proxies: vars("UPDRAFT_TRUSTED_PROXIES").map(|v| {
                v.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            }),
            header_timeout_secs: num("UPDRAFT_HEADER_TIMEOUT_SECS")?,
            body_timeout_secs: num("UPDRAFT_BODY_TIMEOUT_SECS")?,
            shutdown_grace_secs: num("UPDRAFT_SHUTDOWN_GRACE_SECS")?,
            max_self_assigned_devices: num("UPDRAFT_MAX_SELF_ASSIGNED_DEVICES")?,
            drain_timeout_ms: num("UPDRAFT_DRAIN_TIMEOUT_MS")?,
            event_retention_days: num("UPDRAFT_EVENT_RETENTION_DAYS")?,
            log_format: vars("UPDRAFT_LOG_FORMAT"),
        })
    }

    /// Applies defaults and validates.
    pub fn resolve(self) -> anyhow::Result<Config> {
        let listen_raw = self.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().with_context(|| {
            format!("listen address {listen_raw:?} is not ADDR:PORT, e.g. 0.0.0.0:8080")
        })?;
        let data_dir = self
            .data_dir
            .unwrap_or_else(|| PathBuf::from("./updraft-data"));
        let database_url = match self.database_url {
            Some(u) => u,
            None => format!("sqlite://{}", data_dir.join("updraft.db").display()),
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            bail!(
                "database URL {:?} has an unknown scheme: use sqlite://PATH or postgres://USER@HOST/DB",
                redact_url(&database_url)
            );
        }
        let public_url = self.public_url.map(|u| u.trim_end_matches('/').to_string());
        if let Some(u) = &public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                bail!("public URL {u:?} must start with http:// or https://");
            }
        }
        if public_url.is_none() && listen.ip().is_unspecified() {
            bail!(
                "listening on every interface ({listen}) needs a public URL: the address phones use to reach \
                 this server, e.g. --public-url https://updates.example.com or UPDRAFT_PUBLIC_URL=http://192.168.1.20:{port}. \
                 Bundle URLs are never taken from a request's Host header",
                port = listen.port()
            );
        }
        let trusted_proxies = self
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| {
                        format!("trusted proxy {p:?} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)")
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let secs =
            |v: Option<u64>, default: u64, name: &str| -> anyhow::Result<std::time::Duration> {
                match v.unwrap_or(default) {
                    0 => bail!("{name} must be at least 1 second"),
                    n => Ok(std::time::Duration::from_secs(n)),
                }
            };
        let header_timeout = secs(self.header_timeout_secs, 30, "header_timeout_secs")?;
        let body_timeout = secs(self.body_timeout_secs, 60, "body_timeout_secs")?;
        let shutdown_grace = secs(self.shutdown_grace_secs, 30, "shutdown_grace_secs")?;
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("TLS needs both --tls-cert and --tls-key");
        }
        if let Some(k) = &self.bootstrap_api_key {
            if k.len() < 24 {
                bail!("UPDRAFT_BOOTSTRAP_API_KEY must be at least 24 characters");
            }
        }
        let write_queue = self.write_queue.unwrap_or(100_000);
        if write_queue < 1000 {
            // One plugin stats batch (200 events) needs up to 400 slots at once.
            bail!("write_queue must be at least 1000 (got {write_queue})");
        }
        let log_format = match self.log_format.as_deref().map(str::to_ascii_lowercase) {
            None => LogFormat::Text,
            Some(f) if f == "text" => LogFormat::Text,
            Some(f) if f == "json" => LogFormat::Json,
            Some(f) => bail!("log_format (UPDRAFT_LOG_FORMAT) must be text or json, got {f:?}"),
        };
        Ok(Config {
            listen,
            data_dir,
            database_url,
            public_url,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            max_bundle_bytes: self.max_bundle_bytes.unwrap_or(512 * 1024 * 1024),
            max_json_bytes: self.max_json_bytes.unwrap_or(1024 * 1024),
            write_queue,
            flush_interval_ms: self.flush_interval_ms.unwrap_or(1000).max(1),
            bootstrap_api_key: self.bootstrap_api_key,
            seen_cache: self.seen_cache.unwrap_or(1_000_000),
            trusted_proxies,
            header_timeout,
            body_timeout,
            shutdown_grace,
            max_self_assigned_devices: self
                .max_self_assigned_devices
                .unwrap_or(100_000)
                .min(i64::MAX as u64) as i64,
            drain_timeout_ms: self.drain_timeout_ms.unwrap_or(30_000),
            event_retention_days: self.event_retention_days.unwrap_or(90),
            log_format,
        })
    }
}

impl Config {
    /// The effective settings in the file's shape, secrets replaced: the
    /// bootstrap key by a note that it is set, a database password by `***`.
    pub fn redacted(&self) -> Layer {
        let path = |p: &std::path::Path| PathBuf::from(p.to_string_lossy().into_owned());
        Layer {
            listen: Some(self.listen.to_string()),
            data_dir: Some(path(&self.data_dir)),
            database_url: Some(redact_url(&self.database_url)),
            public_url: self.public_url.clone(),
            tls_cert: self.tls_cert.as_deref().map(path),
            tls_key: self.tls_key.as_deref().map(path),
            max_bundle_bytes: Some(self.max_bundle_bytes),
            max_json_bytes: Some(self.max_json_bytes),
            write_queue: Some(self.write_queue),
            flush_interval_ms: Some(self.flush_interval_ms),
            bootstrap_api_key: self
                .bootstrap_api_key
                .as_ref()
                .map(|_| "(set, not shown)".into()),
            seen_cache: Some(self.seen_cache),
            trusted_proxies: Some(self.trusted_proxies.iter().map(|p| p.to_string()).collect()),
            header_timeout_secs: Some(self.header_timeout.as_secs()),
            body_timeout_secs: Some(self.body_timeout.as_secs()),
            shutdown_grace_secs: Some(self.shutdown_grace.as_secs()),
            max_self_assigned_devices: Some(self.max_self_assigned_devices as u64),
            drain_timeout_ms: Some(self.drain_timeout_ms),
            event_retention_days: Some(self.event_retention_days),
            log_format: Some(self.log_format.as_str().into()),
        }
    }
}

/// A database URL with its password (in the user info or a `password=`
/// parameter) replaced by `***`. When in doubt, more is hidden, never less.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let mut out = url.to_string();
    // The last '@' ends the user info even when a password holds one.
    if let Some(at) = url[scheme_end..].rfind('@').map(|i| i + scheme_end) {
        if let Some(colon) = url[scheme_end..at].find(':').map(|i| i + scheme_end) {
            out = format!("{}:***{}", &url[..colon], &url[at..]);
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_in_order_and_validate() {
        let file: Layer =
            toml::from_str("listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/u\"").unwrap();
        let env =
            Layer::from_env(|k| (k == "UPDRAFT_LISTEN").then(|| "127.0.0.1:9100".to_string()))
                .unwrap();
        let c = Layer::default().merge(file).merge(env).resolve().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.database_url, "sqlite:///srv/u/updraft.db");
        let bad = Layer {
            database_url: Some("mysql://x".into()),
            ..Default::default()
        }
        .resolve();
        assert!(bad.unwrap_err().to_string().contains("unknown scheme"));
        assert!(Layer {
            listen: Some("nope".into()),
            ..Default::default()
        }
        .resolve()
        .is_err());
        let open = Layer {
            listen: Some("0.0.0.0:8080".into()),
            ..Default::default()
        };
        let e = open.clone().resolve().unwrap_err().to_string();
        assert!(e.contains("needs a public URL"), "{e}");
        let ok = open
            .merge(Layer {
                public_url: Some("https://u.example.com/".into()),
                trusted_proxies: Some(vec!["10.0.0.0/8".into(), "::1".into()]),
                ..Default::default()
            })
            .resolve()
            .unwrap();
        assert_eq!(ok.public_url.as_deref(), Some("https://u.example.com"));
        assert_eq!(ok.trusted_proxies.len(), 2);
        let bad = Layer {
            trusted_proxies: Some(vec!["proxy.local".into()]),
            ..Default::default()
        };
        assert!(bad
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("trusted proxy"));
        assert!(
            toml::from_str::<Layer>("lisen = 1").is_err(),
            "typos in the file are errors"
        );
    }

    #[test]
    fn telemetry_settings_have_defaults_and_read_the_environment() {
        let c = Layer::default().resolve().unwrap();
        assert_eq!((c.drain_timeout_ms, c.event_retention_days), (30_000, 90));
        let env = Layer::from_env(|k| match k {
            "UPDRAFT_DRAIN_TIMEOUT_MS" => Some("500".into()),
            "UPDRAFT_EVENT_RETENTION_DAYS" => Some("0".into()),
            _ => None,
        })
        .unwrap();
        let c = Layer::default().merge(env).resolve().unwrap();
        assert_eq!((c.drain_timeout_ms, c.event_retention_days), (500, 0));
        let file: Layer = toml::from_str("event_retention_days = 7").unwrap();
        assert_eq!(file.resolve().unwrap().event_retention_days, 7);
        assert!(
            Layer::from_env(|k| (k == "UPDRAFT_EVENT_RETENTION_DAYS").then(|| "ninety".into()))
                .is_err()
        );
    }

    /// Every setting's name, from the struct itself.
    fn names() -> Vec<String> {
        let v = serde_json::to_value(Layer::default()).unwrap();
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn every_setting_is_read_from_updraft_and_its_name_in_capitals() {
        let env = Layer::from_env(|k| k.starts_with("UPDRAFT_").then(|| "1".to_string())).unwrap();
        let env = serde_json::to_value(env).unwrap();
        for name in names() {
            assert!(
                !env[&name].is_null(),
                "{name} is not read from UPDRAFT_{}",
                name.to_uppercase()
            );
        }
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../../README.md");
        for name in names() {
            assert!(
                readme.contains(&format!("| `{name}` |")),
                "README.md's configuration table has no row for {name}"
            );
        }
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(
            Layer::default().resolve().unwrap().log_format,
            LogFormat::Text
        );
        let json = Layer::from_env(|k| (k == "UPDRAFT_LOG_FORMAT").then(|| "JSON".into())).unwrap();
        assert_eq!(json.resolve().unwrap().log_format, LogFormat::Json);
        let e = Layer {
            log_format: Some("pretty".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(e.contains("text or json"), "{e}");
    }

    #[test]
    fn a_refused_database_url_is_named_without_its_password() {
        let layer = Layer {
            database_url: Some("Postgres://u:s3cret@db/x".into()),
            ..Layer::default()
        };
        let err = format!("{:#}", layer.resolve().unwrap_err());
        assert!(err.contains("unknown scheme"), "{err}");
        assert!(!err.contains("s3cret"), "the password leaked: {err}");
    }

    #[test]
    fn database_passwords_are_redacted() {
        for (url, shown) in [
            ("postgres://u:s3cret@db/x", "postgres://u:***@db/x"),
            ("postgres://u:p@ss@db:5432/x", "postgres://u:***@db:5432/x"),
            (
                "postgres://u@db/x?password=s3cret&sslmode=require",
                "postgres://u@db/x?password=***&sslmode=require",
            ),
            ("postgres://db/x", "postgres://db/x"),
            (
                "sqlite://./updraft-data/updraft.db",
                "sqlite://./updraft-data/updraft.db",
            ),
        ] {
            assert_eq!(redact_url(url), shown);
        }
        let c = Layer {
            database_url: Some("postgres://u:s3cret@db/x".into()),
            bootstrap_api_key: Some("k".repeat(30)),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let shown = serde_json::to_string(&c.redacted()).unwrap();
        assert!(
            !shown.contains("s3cret") && !shown.contains(&"k".repeat(30)),
            "{shown}"
        );
    }
}
