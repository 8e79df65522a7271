//! From a merged [`Layer`] to a [`Config`]: defaults, secrets read from their
//! files, and every check, each failure saying what to fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use super::{
    Config, DatabaseConfig, Downloads, GeoConfig, Layer, LimitsConfig, LogFormat, MetricsConfig,
    ServerConfig, StorageConfig, TelemetryConfig, TlsConfig, WebhooksConfig,
};
use crate::secret::{DatabaseUrl, Secret};

/// The telemetry queue's default byte budget: 64 MiB, about 130,000 device
/// rows or 1,600 stats events with the largest metadata and message.
const DEFAULT_WRITE_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// The smallest byte budget accepted: 4 MiB, and four times the largest
/// request body (a body's events hold about three times its size queued).
const MIN_WRITE_QUEUE_BYTES: usize = 4 * 1024 * 1024;

/// Reads a secret from `path` (`what` names it in errors): whitespace around
/// it (a trailing line break, a stray space) is dropped, an empty file is an
/// error.
fn read_secret_file(path: &Path, what: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    let value = text.trim();
    if value.is_empty() {
        bail!("the {what} file {} is empty", path.display());
    }
    Ok(value.to_string())
}

/// A secret given directly or by file (never both: the layers check that).
fn secret(
    value: Option<Secret<String>>,
    file: Option<PathBuf>,
    what: &str,
) -> anyhow::Result<Option<String>> {
    match (value, file) {
        (Some(v), _) => Ok(Some(v.expose().clone())),
        (None, Some(path)) => read_secret_file(&path, what).map(Some),
        (None, None) => Ok(None),
    }
}

/// A TLS file must exist and be readable now, not at the first connection.
fn check_readable(path: &Path, what: &str) -> anyhow::Result<()> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    if bytes.is_empty() {
        bail!("the {what} {} is empty", path.display());
    }
    Ok(())
}

/// How downloads are answered: a redirect to a public base URL or to
/// presigned URLs needs a bucket, and is one or the other.
fn downloads(
    (base, presign): (Option<&str>, Option<u64>),
    bucket: bool,
) -> anyhow::Result<Downloads> {
    let base = base
        .map(|u| u.trim().trim_end_matches('/'))
        .filter(|u| !u.is_empty());
    let presign = presign.filter(|s| *s > 0);
    if (base.is_some() || presign.is_some()) && !bucket {
        bail!("[storage] download_base_url and presign_secs redirect downloads to a bucket: set [storage] bucket too");
    }
    match (base, presign) {
        (Some(_), Some(_)) => bail!("[storage] download_base_url and presign_secs are two ways to redirect downloads: set one"),
        (Some(u), None) => {
            let parsed = url::Url::parse(u)
                .ok()
                .filter(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
                .with_context(|| {
                    format!("[storage] download_base_url {u:?} must be an http:// or https:// URL")
                })?;
            if parsed.query().is_some() || parsed.fragment().is_some() {
                bail!("[storage] download_base_url {u:?} must not have a query or a fragment");
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                // It is sent to every phone in a redirect.
                bail!("[storage] download_base_url must not hold credentials");
            }
            // What a redirect sends must be a valid header value, read alike
            // by every client (a backslash is a slash to some).
            if u.chars()
                .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii() || c == '\\')
            {
                bail!("[storage] download_base_url {u:?} must be plain ASCII without spaces or backslashes (percent-encode the rest)");
            }
            // Sent as parsed (`https:cdn.example.com` becomes `https://cdn.example.com/`).
            Ok(Downloads::Redirect(
                parsed.as_str().trim_end_matches('/').to_string(),
            ))
        }
        (None, Some(secs)) => {
            // S3 refuses a signature valid longer than a week.
            if secs > 7 * 86_400 {
                bail!("[storage] presign_secs must be at most 604800 (a week, the longest S3 accepts); got {secs}");
            }
            Ok(Downloads::Presign(Duration::from_secs(secs)))
        }
        (None, None) => Ok(Downloads::Stream),
    }
}

fn secs(v: Option<u64>, default: u64, name: &str) -> anyhow::Result<Duration> {
    match v.unwrap_or(default) {
        0 => bail!("{name} must be at least 1 second"),
        n => Ok(Duration::from_secs(n)),
    }
}

impl Layer {
    /// Applies defaults, reads secrets from their files, and validates.
    pub fn resolve(self) -> anyhow::Result<Config> {
        let Layer {
            server,
            database,
            storage,
            tls,
            limits,
            telemetry,
            metrics,
            webhooks,
            geo,
        } = self;
        let listen_raw = server.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().with_context(|| {
            format!("listen address {listen_raw:?} is not ADDR:PORT, e.g. 0.0.0.0:8080")
        })?;
        let data_dir = storage
            .data_dir
            .unwrap_or_else(|| PathBuf::from("./updraft-data"));
        let url = match secret(database.url, database.url_file, "database URL")? {
            Some(u) => u,
            None => format!("sqlite://{}", data_dir.join("updraft.db").display()),
        };
        let url = DatabaseUrl::new(url);
        let u = url.expose();
        if !(u.starts_with("sqlite:")
            || u.starts_with("postgres://")
            || u.starts_with("postgresql://"))
        {
            // Only the scheme: the rest may hold a password in a form no redaction knows.
            let scheme = u.split_once(':').map_or("(none)", |(s, _)| s);
            let scheme: String = scheme.chars().take(20).collect();
            bail!(
                "the database URL has an unknown scheme {scheme:?}: use sqlite://PATH or postgres://USER@HOST/DB"
            );
        }
        let public_url = server
            .public_url
            .map(|u| u.trim_end_matches('/').to_string());
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
        let trusted_proxies = server
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
        let header_timeout = secs(limits.header_timeout_secs, 30, "header_timeout_secs")?;
        let body_timeout = secs(limits.body_timeout_secs, 60, "body_timeout_secs")?;
        let shutdown_grace = secs(server.shutdown_grace_secs, 30, "shutdown_grace_secs")?;
        match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => {
                check_readable(cert, "TLS certificate file")?;
                check_readable(key, "TLS key file")?;
            }
            (None, None) => {}
            _ => bail!("TLS needs both a certificate and a key ([tls] cert and key, --tls-cert and --tls-key)"),
        }
        let bootstrap_api_key = secret(
            server.bootstrap_api_key,
            server.bootstrap_api_key_file,
            "bootstrap API key",
        )?;
        if let Some(k) = &bootstrap_api_key {
            if k.len() < 24 {
                bail!("the bootstrap API key must be at least 24 characters");
            }
            if k.chars().any(char::is_whitespace) {
                // A presented key is trimmed, and a header cannot hold a line
                // break: such a key could never be used.
                bail!("the bootstrap API key contains whitespace (a space, tab or line break); remove it");
            }
        }
        let s3_secret = secret(
            storage.secret_access_key.clone(),
            storage.secret_access_key_file.clone(),
            "S3 secret access key",
        )?;
        let s3 = match storage.bucket.clone().filter(|b| !b.trim().is_empty()) {
            None => {
                if storage.endpoint.is_some()
                    || storage.access_key_id.is_some()
                    || s3_secret.is_some()
                {
                    bail!("[storage] endpoint and credentials are for a bucket: set [storage] bucket (UPDRAFT_S3_BUCKET) too");
                }
                None
            }
            Some(bucket) => {
                if let Some(e) = &storage.endpoint {
                    if !(e.starts_with("http://") || e.starts_with("https://")) {
                        bail!("[storage] endpoint {e:?} must be an http:// or https:// URL");
                    }
                }
                if storage.access_key_id.is_some() != s3_secret.is_some() {
                    bail!("[storage] access_key_id and secret_access_key go together (or neither: the AWS_* environment)");
                }
                Some(updraft_blob::S3Settings {
                    bucket,
                    path_style: storage.path_style.unwrap_or(storage.endpoint.is_some()),
                    endpoint: storage.endpoint.clone(),
                    region: storage.region.clone().filter(|r| !r.is_empty()),
                    prefix: storage.prefix.clone().filter(|p| !p.is_empty()),
                    access_key_id: storage.access_key_id.clone(),
                    secret_access_key: s3_secret,
                })
            }
        };
        let removal_grace = Duration::from_secs(storage.removal_grace_secs.unwrap_or(3600));
        let downloads = downloads(
            (storage.download_base_url.as_deref(), storage.presign_secs),
            s3.is_some(),
        )?;
        if let (Downloads::Redirect(_), Some(prefix)) =
            (&downloads, s3.as_ref().and_then(|s| s.prefix.as_deref()))
        {
            // It becomes part of every redirect's URL as it is.
            if !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
            {
                bail!("[storage] prefix {prefix:?} must be letters, digits and - . _ ~ / to be part of a download URL");
            }
        }
        if let Downloads::Presign(valid) = &downloads {
            if *valid > removal_grace {
                bail!(
                    "[storage] presign_secs ({}) is longer than removal_grace_secs ({}): a link handed out could outlive its file",
                    valid.as_secs(),
                    removal_grace.as_secs()
                );
            }
        }
        let metrics_token = secret(metrics.token, metrics.token_file, "metrics token")?;
        if let Some(t) = &metrics_token {
            if t.chars().count() < 16 || t.chars().any(char::is_whitespace) {
                bail!("the metrics token must be at least 16 characters, without whitespace");
            }
        }
        let write_queue = telemetry.write_queue.unwrap_or(100_000);
        if write_queue < 1000 {
            // One plugin stats batch (200 events) needs up to 400 slots at once.
            bail!("write_queue must be at least 1000 (got {write_queue})");
        }
        let max_json_bytes = limits.max_json_bytes.unwrap_or(1024 * 1024);
        let write_queue_bytes = telemetry
            .write_queue_bytes
            .unwrap_or(DEFAULT_WRITE_QUEUE_BYTES);
        let least = MIN_WRITE_QUEUE_BYTES.max(max_json_bytes.saturating_mul(4));
        if write_queue_bytes < least {
            // A request larger than the budget would wait for an empty queue.
            bail!(
                "write_queue_bytes must be at least {least} (4 MiB, and four times max_json_bytes); got {write_queue_bytes}"
            );
        }
        let log_format = match server.log_format.as_deref().map(str::to_ascii_lowercase) {
            None => LogFormat::Text,
            Some(f) if f == "text" => LogFormat::Text,
            Some(f) if f == "json" => LogFormat::Json,
            Some(f) => bail!("log_format (UPDRAFT_LOG_FORMAT) must be text or json, got {f:?}"),
        };
        Ok(Config {
            server: ServerConfig {
                listen,
                public_url,
                trusted_proxies,
                bootstrap_api_key: bootstrap_api_key.map(Secret::new),
                shutdown_grace,
                log_format,
                dashboard: server.dashboard.unwrap_or(true),
            },
            database: DatabaseConfig {
                url,
                seen_cache: database.seen_cache.unwrap_or(1_000_000),
            },
            storage: StorageConfig {
                data_dir,
                s3,
                removal_grace,
                downloads,
            },
            tls: TlsConfig {
                cert: tls.cert,
                key: tls.key,
            },
            limits: LimitsConfig {
                max_bundle_bytes: limits.max_bundle_bytes.unwrap_or(512 * 1024 * 1024),
                max_json_bytes,
                header_timeout,
                body_timeout,
                max_self_assigned_devices: limits
                    .max_self_assigned_devices
                    .unwrap_or(100_000)
                    .try_into()
                    .unwrap_or(i64::MAX),
            },
            telemetry: TelemetryConfig {
                write_queue,
                write_queue_bytes,
                flush_interval_ms: telemetry.flush_interval_ms.unwrap_or(1000).max(1),
                drain_timeout_ms: telemetry.drain_timeout_ms.unwrap_or(30_000),
                event_retention_days: telemetry.event_retention_days.unwrap_or(90),
                gate_check_interval_ms: telemetry.gate_check_interval_ms.unwrap_or(10_000).max(100),
                change_retention_days: match telemetry.change_retention_days.unwrap_or(30) {
                    0 => bail!("change_retention_days must be at least 1 (nodes and webhooks read the log)"),
                    d => d,
                },
            },
            metrics: MetricsConfig {
                token: metrics_token.map(Secret::new),
            },
            webhooks: WebhooksConfig {
                allow_local: webhooks.allow_local.unwrap_or(false),
                poll_interval_ms: webhooks.poll_interval_ms.unwrap_or(1000).max(10),
            },
            geo: GeoConfig {
                country_header: match geo.country_header.filter(|h| !h.trim().is_empty()) {
                    None => None,
                    Some(h) => Some(
                        axum::http::HeaderName::try_from(h.trim())
                            .with_context(|| format!("[geo] country_header {h:?} is not a header name"))?,
                    ),
                },
                database: geo.database,
            },
        })
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
