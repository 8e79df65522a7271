//! One layer of configuration (defaults, the TOML file, the environment or
//! the flags): every setting optional, in the file's sections, and the
//! refusal of the flat file layout of earlier versions. Each setting's
//! variable and flag are in [`super::names`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::names::{SettingName, SETTINGS};
use crate::secret::Secret;

/// Declares a section's layer struct (every field optional, unknown keys
/// refused) and its `merge`.
macro_rules! section_layer {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fm])* pub $field: Option<$ty>,)*
        }

        impl $name {
            /// Fields set in `over` replace those in `self`.
            fn merge(self, over: Self) -> Self {
                Self { $($field: over.$field.or(self.$field),)* }
            }
        }
    };
}

section_layer! {
    /// `[server]` in one layer.
    ServerLayer {
        /// ADDR:PORT.
        listen: String,
        /// `http(s)://HOST[:PORT][/PATH]`.
        public_url: String,
        /// IPs or networks.
        trusted_proxies: Vec<String>,
        /// At least 24 characters.
        bootstrap_api_key: Secret<String>,
        /// A file holding the bootstrap key.
        bootstrap_api_key_file: PathBuf,
        /// Seconds.
        shutdown_grace_secs: u64,
        /// `text` or `json`.
        log_format: String,
        /// Serve the dashboard (`/ui/`).
        dashboard: bool,
    }
}

section_layer! {
    /// `[database]` in one layer.
    DatabaseLayer {
        /// `sqlite://…` or `postgres://…`.
        url: Secret<String>,
        /// A file holding the URL.
        url_file: PathBuf,
        /// Devices remembered (SQLite only).
        seen_cache: usize,
    }
}

section_layer! {
    /// `[storage]` in one layer.
    StorageLayer {
        /// The data directory.
        data_dir: PathBuf,
        /// An S3-compatible bucket for bundle files (none: the data directory).
        bucket: String,
        /// The store's URL (not AWS).
        endpoint: String,
        /// The bucket's region.
        region: String,
        /// Path-style addressing.
        path_style: bool,
        /// A key prefix.
        prefix: String,
        /// The access key id.
        access_key_id: String,
        /// The secret access key.
        secret_access_key: Secret<String>,
        /// A file holding the secret access key.
        secret_access_key_file: PathBuf,
        /// Seconds a stored file no longer used stays before it is removed.
        removal_grace_secs: u64,
        /// Redirect downloads to this public base URL of the bucket (a CDN).
        download_base_url: String,
        /// Redirect downloads to presigned URLs valid this many seconds.
        presign_secs: u64,
    }
}

section_layer! {
    /// `[tls]` in one layer.
    TlsLayer {
        /// PEM certificate chain.
        cert: PathBuf,
        /// PEM private key.
        key: PathBuf,
    }
}

section_layer! {
    /// `[limits]` in one layer.
    LimitsLayer {
        /// Bytes.
        max_bundle_bytes: u64,
        /// Bytes.
        max_json_bytes: usize,
        /// Seconds.
        header_timeout_secs: u64,
        /// Seconds.
        body_timeout_secs: u64,
        /// Devices per app.
        max_self_assigned_devices: u64,
    }
}

section_layer! {
    /// `[telemetry]` in one layer.
    TelemetryLayer {
        /// Queued writes.
        write_queue: usize,
        /// Bytes held by queued writes.
        write_queue_bytes: usize,
        /// Milliseconds.
        flush_interval_ms: u64,
        /// Milliseconds.
        drain_timeout_ms: u64,
        /// Days; 0 keeps events forever.
        event_retention_days: u64,
        /// Days the change log (the audit trail) is kept.
        change_retention_days: u64,
        /// Milliseconds.
        gate_check_interval_ms: u64,
    }
}

section_layer! {
    /// `[metrics]` in one layer.
    MetricsLayer {
        /// The bearer token `/metrics` asks for (none: open).
        token: Secret<String>,
        /// A file holding the token.
        token_file: PathBuf,
    }
}

section_layer! {
    /// `[webhooks]` in one layer.
    WebhooksLayer {
        /// Allow `http://` and loopback, private or link-local receivers.
        allow_local: bool,
        /// Milliseconds.
        poll_interval_ms: u64,
    }
}

section_layer! {
    /// `[geo]` in one layer.
    GeoLayer {
        /// A header name (`CF-IPCountry`).
        country_header: String,
        /// A MaxMind-format (`.mmdb`) country or city database.
        database: PathBuf,
    }
}

/// One layer: every setting optional. Also the TOML file's shape.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Layer {
    /// `[server]`.
    pub server: ServerLayer,
    /// `[database]`.
    pub database: DatabaseLayer,
    /// `[storage]`.
    pub storage: StorageLayer,
    /// `[tls]`.
    pub tls: TlsLayer,
    /// `[limits]`.
    pub limits: LimitsLayer,
    /// `[telemetry]`.
    pub telemetry: TelemetryLayer,
    /// `[metrics]`.
    pub metrics: MetricsLayer,
    /// `[webhooks]`.
    pub webhooks: WebhooksLayer,
    /// `[geo]`.
    pub geo: GeoLayer,
}

/// The environment, read with the error messages of one variable.
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn text(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.text(name).map(PathBuf::from)
    }

    fn num<T: std::str::FromStr>(&self, name: &str) -> anyhow::Result<Option<T>> {
        self.text(name)
            .map(|v| {
                v.trim()
                    .parse::<T>()
                    .ok()
                    .with_context(|| format!("{name} must be a whole number, got {v:?}"))
            })
            .transpose()
    }

    fn flag(&self, name: &str) -> anyhow::Result<Option<bool>> {
        self.text(name)
            .map(|v| match v.trim() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(anyhow::anyhow!("{name} must be true or false, got {v:?}")),
            })
            .transpose()
    }
}

impl Layer {
    /// Fields set in `over` replace those in `self`. A secret given in `over`
    /// (as a value or as a file) replaces both forms in `self`.
    pub fn merge(self, over: Layer) -> Layer {
        let (s, o) = (self.server, over.server);
        let key = if o.bootstrap_api_key.is_some() || o.bootstrap_api_key_file.is_some() {
            (
                o.bootstrap_api_key.clone(),
                o.bootstrap_api_key_file.clone(),
            )
        } else {
            (
                s.bootstrap_api_key.clone(),
                s.bootstrap_api_key_file.clone(),
            )
        };
        let (d, od) = (self.database, over.database);
        let url = if od.url.is_some() || od.url_file.is_some() {
            (od.url.clone(), od.url_file.clone())
        } else {
            (d.url.clone(), d.url_file.clone())
        };
        let (m, om) = (self.metrics, over.metrics);
        let token = if om.token.is_some() || om.token_file.is_some() {
            (om.token.clone(), om.token_file.clone())
        } else {
            (m.token.clone(), m.token_file.clone())
        };
        let mut merged = Layer {
            server: s.merge(o),
            database: d.merge(od),
            storage: {
                // A secret given in `over` (value or file) replaces both forms.
                let (st, ost) = (self.storage, over.storage);
                let secret =
                    if ost.secret_access_key.is_some() || ost.secret_access_key_file.is_some() {
                        (
                            ost.secret_access_key.clone(),
                            ost.secret_access_key_file.clone(),
                        )
                    } else {
                        (
                            st.secret_access_key.clone(),
                            st.secret_access_key_file.clone(),
                        )
                    };
                let mut merged = st.merge(ost);
                (merged.secret_access_key, merged.secret_access_key_file) = secret;
                merged
            },
            tls: self.tls.merge(over.tls),
            limits: self.limits.merge(over.limits),
            telemetry: self.telemetry.merge(over.telemetry),
            metrics: m.merge(om),
            webhooks: self.webhooks.merge(over.webhooks),
            geo: self.geo.merge(over.geo),
        };
        (merged.metrics.token, merged.metrics.token_file) = token;
        (
            merged.server.bootstrap_api_key,
            merged.server.bootstrap_api_key_file,
        ) = key;
        (merged.database.url, merged.database.url_file) = url;
        merged
    }

    /// Parses a TOML file's text (`origin` names it in errors). The flat
    /// layout of earlier versions is refused with the new place of each key.
    pub fn from_toml(text: &str, origin: &str) -> anyhow::Result<Layer> {
        let table: toml::Table =
            toml::from_str(text).with_context(|| format!("invalid config file {origin}"))?;
        let moved: Vec<String> = table
            .iter()
            .filter(|(_, v)| !v.is_table())
            .map(|(k, _)| match SETTINGS.iter().find(|s| s.old_key() == *k) {
                Some(s) => format!("`{k}` is now `{}` in [{}]", s.key, s.section),
                None => format!("`{k}` is not a setting"),
            })
            .collect();
        if !moved.is_empty() {
            bail!(
                "config file {origin} has settings outside a section: the file is now in sections \
                 ([server], [database], [storage], [tls], [limits], [telemetry], [metrics], [webhooks], [geo]); {}. \
                 See docs/upgrading.md",
                moved.join(", ")
            );
        }
        let layer: Layer = table
            .try_into()
            .with_context(|| format!("invalid config file {origin}"))?;
        layer.check_secret_pairs(|s| {
            format!(
                "[{}] {} and {}",
                s.section,
                s.key,
                s.file_key.unwrap_or_default()
            )
        })?;
        Ok(layer)
    }

    /// Reads a TOML file layer.
    pub fn from_file(path: &Path) -> anyhow::Result<Layer> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Layer::from_toml(&text, &path.display().to_string())
    }

    /// Reads the `UPDRAFT_*` environment layer from `vars` (see [`SETTINGS`]).
    pub fn from_env(vars: impl Fn(&str) -> Option<String>) -> anyhow::Result<Layer> {
        let e = Env(vars);
        let layer = Layer {
            server: ServerLayer {
                listen: e.text("UPDRAFT_LISTEN"),
                public_url: e.text("UPDRAFT_PUBLIC_URL"),
                trusted_proxies: e.text("UPDRAFT_TRUSTED_PROXIES").map(|v| {
                    v.split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect()
                }),
                bootstrap_api_key: e.text("UPDRAFT_BOOTSTRAP_API_KEY").map(Secret::new),
                bootstrap_api_key_file: e.path("UPDRAFT_BOOTSTRAP_API_KEY_FILE"),
                dashboard: e.flag("UPDRAFT_DASHBOARD")?,
                shutdown_grace_secs: e.num("UPDRAFT_SHUTDOWN_GRACE_SECS")?,
                log_format: e.text("UPDRAFT_LOG_FORMAT"),
            },
            database: DatabaseLayer {
                url: e.text("UPDRAFT_DATABASE_URL").map(Secret::new),
                url_file: e.path("UPDRAFT_DATABASE_URL_FILE"),
                seen_cache: e.num("UPDRAFT_SEEN_CACHE")?,
            },
            storage: StorageLayer {
                data_dir: e.path("UPDRAFT_DATA_DIR"),
                bucket: e.text("UPDRAFT_S3_BUCKET"),
                endpoint: e.text("UPDRAFT_S3_ENDPOINT"),
                region: e.text("UPDRAFT_S3_REGION"),
                path_style: e.flag("UPDRAFT_S3_PATH_STYLE")?,
                prefix: e.text("UPDRAFT_S3_PREFIX"),
                access_key_id: e.text("UPDRAFT_S3_ACCESS_KEY_ID"),
                secret_access_key: e.text("UPDRAFT_S3_SECRET_ACCESS_KEY").map(Secret::new),
                secret_access_key_file: e.path("UPDRAFT_S3_SECRET_ACCESS_KEY_FILE"),
                removal_grace_secs: e.num("UPDRAFT_REMOVAL_GRACE_SECS")?,
                download_base_url: e.text("UPDRAFT_S3_DOWNLOAD_BASE_URL"),
                presign_secs: e.num("UPDRAFT_S3_PRESIGN_SECS")?,
            },
            tls: TlsLayer {
                cert: e.path("UPDRAFT_TLS_CERT"),
                key: e.path("UPDRAFT_TLS_KEY"),
            },
            limits: LimitsLayer {
                max_bundle_bytes: e.num("UPDRAFT_MAX_BUNDLE_BYTES")?,
                max_json_bytes: e.num("UPDRAFT_MAX_JSON_BYTES")?,
                header_timeout_secs: e.num("UPDRAFT_HEADER_TIMEOUT_SECS")?,
                body_timeout_secs: e.num("UPDRAFT_BODY_TIMEOUT_SECS")?,
                max_self_assigned_devices: e.num("UPDRAFT_MAX_SELF_ASSIGNED_DEVICES")?,
            },
            telemetry: TelemetryLayer {
                write_queue: e.num("UPDRAFT_WRITE_QUEUE")?,
                write_queue_bytes: e.num("UPDRAFT_WRITE_QUEUE_BYTES")?,
                flush_interval_ms: e.num("UPDRAFT_FLUSH_INTERVAL_MS")?,
                drain_timeout_ms: e.num("UPDRAFT_DRAIN_TIMEOUT_MS")?,
                gate_check_interval_ms: e.num("UPDRAFT_GATE_CHECK_INTERVAL_MS")?,
                event_retention_days: e.num("UPDRAFT_EVENT_RETENTION_DAYS")?,
                change_retention_days: e.num("UPDRAFT_CHANGE_RETENTION_DAYS")?,
            },
            metrics: MetricsLayer {
                token: e.text("UPDRAFT_METRICS_TOKEN").map(Secret::new),
                token_file: e.path("UPDRAFT_METRICS_TOKEN_FILE"),
            },
            webhooks: WebhooksLayer {
                allow_local: e.flag("UPDRAFT_WEBHOOKS_ALLOW_LOCAL")?,
                poll_interval_ms: e.num("UPDRAFT_WEBHOOKS_POLL_INTERVAL_MS")?,
            },
            geo: GeoLayer {
                country_header: e.text("UPDRAFT_COUNTRY_HEADER"),
                database: e.path("UPDRAFT_GEO_DATABASE"),
            },
        };
        layer.check_secret_pairs(|s| {
            format!("{} and {}", s.env, s.file_env().unwrap_or_default())
        })?;
        Ok(layer)
    }

    /// Whether `section.key` is set in this layer.
    pub(crate) fn is_set(&self, section: &str, key: &str) -> bool {
        serde_json::to_value(self)
            .map(|v| !v[section][key].is_null())
            .unwrap_or(false)
    }

    /// The path of a secret's file (`url_file`…) when this layer sets it.
    pub(crate) fn secret_file(&self, setting: &SettingName) -> Option<PathBuf> {
        self.secret(setting).1.cloned()
    }

    /// A secret setting's value and file in this layer (both `None` for
    /// settings that are not secrets). Read from the fields, not through
    /// serde, so that no path can make a check pass unseen.
    fn secret(&self, setting: &SettingName) -> (bool, Option<&PathBuf>) {
        match (setting.section, setting.file_key) {
            ("server", Some("bootstrap_api_key_file")) => (
                self.server.bootstrap_api_key.is_some(),
                self.server.bootstrap_api_key_file.as_ref(),
            ),
            ("database", Some("url_file")) => {
                (self.database.url.is_some(), self.database.url_file.as_ref())
            }
            ("metrics", Some("token_file")) => (
                self.metrics.token.is_some(),
                self.metrics.token_file.as_ref(),
            ),
            ("storage", Some("secret_access_key_file")) => (
                self.storage.secret_access_key.is_some(),
                self.storage.secret_access_key_file.as_ref(),
            ),
            _ => (false, None),
        }
    }

    /// A secret set both as a value and as a file in one layer is an error.
    fn check_secret_pairs(&self, both: impl Fn(&SettingName) -> String) -> anyhow::Result<()> {
        for s in SETTINGS.iter().filter(|s| s.file_key.is_some()) {
            if let (true, Some(_)) = self.secret(s) {
                bail!("{} are both set: give the secret one way only", both(s));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
