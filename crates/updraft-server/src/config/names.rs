//! The table of every setting ([`SETTINGS`]): its section and key in the
//! file, its `UPDRAFT_*` variable and its flag, in the file's order. The
//! environment layer, the config report and the README's table follow it.

/// Where one setting can be given besides the file.
#[derive(Debug, Clone, Copy)]
pub struct SettingName {
    /// The file's section.
    pub section: &'static str,
    /// The key in that section.
    pub key: &'static str,
    /// The environment variable (the name earlier versions used).
    pub(crate) env: &'static str,
    /// The command-line flag, when there is one.
    pub(crate) flag: Option<&'static str>,
    /// For a secret that may come from a file: the file's key in the section
    /// (its variable is `env` + `_FILE`).
    pub(crate) file_key: Option<&'static str>,
}

impl SettingName {
    /// The key of the flat file layout of earlier versions (`database_url`).
    pub(crate) fn old_key(&self) -> String {
        self.env["UPDRAFT_".len()..].to_ascii_lowercase()
    }

    /// The variable naming a file that holds this secret.
    pub(crate) fn file_env(&self) -> Option<String> {
        self.file_key.map(|_| format!("{}_FILE", self.env))
    }
}

const fn setting(section: &'static str, key: &'static str, env: &'static str) -> SettingName {
    SettingName {
        section,
        key,
        env,
        flag: None,
        file_key: None,
    }
}

const fn flagged(
    section: &'static str,
    key: &'static str,
    env: &'static str,
    flag: &'static str,
) -> SettingName {
    SettingName {
        flag: Some(flag),
        ..setting(section, key, env)
    }
}

/// Every setting, in the file's order, with its variable and flag.
pub const SETTINGS: &[SettingName] = &[
    flagged("server", "listen", "UPDRAFT_LISTEN", "--listen"),
    flagged("server", "public_url", "UPDRAFT_PUBLIC_URL", "--public-url"),
    setting("server", "dashboard", "UPDRAFT_DASHBOARD"),
    setting("server", "trusted_proxies", "UPDRAFT_TRUSTED_PROXIES"),
    SettingName {
        file_key: Some("bootstrap_api_key_file"),
        ..setting("server", "bootstrap_api_key", "UPDRAFT_BOOTSTRAP_API_KEY")
    },
    setting(
        "server",
        "shutdown_grace_secs",
        "UPDRAFT_SHUTDOWN_GRACE_SECS",
    ),
    setting("server", "log_format", "UPDRAFT_LOG_FORMAT"),
    SettingName {
        file_key: Some("url_file"),
        ..flagged("database", "url", "UPDRAFT_DATABASE_URL", "--database-url")
    },
    setting("database", "seen_cache", "UPDRAFT_SEEN_CACHE"),
    flagged("storage", "data_dir", "UPDRAFT_DATA_DIR", "--data-dir"),
    setting("storage", "bucket", "UPDRAFT_S3_BUCKET"),
    setting("storage", "endpoint", "UPDRAFT_S3_ENDPOINT"),
    setting("storage", "region", "UPDRAFT_S3_REGION"),
    setting("storage", "path_style", "UPDRAFT_S3_PATH_STYLE"),
    setting("storage", "prefix", "UPDRAFT_S3_PREFIX"),
    setting("storage", "access_key_id", "UPDRAFT_S3_ACCESS_KEY_ID"),
    SettingName {
        file_key: Some("secret_access_key_file"),
        ..setting(
            "storage",
            "secret_access_key",
            "UPDRAFT_S3_SECRET_ACCESS_KEY",
        )
    },
    setting(
        "storage",
        "removal_grace_secs",
        "UPDRAFT_REMOVAL_GRACE_SECS",
    ),
    setting(
        "storage",
        "download_base_url",
        "UPDRAFT_S3_DOWNLOAD_BASE_URL",
    ),
    setting("storage", "presign_secs", "UPDRAFT_S3_PRESIGN_SECS"),
    flagged("tls", "cert", "UPDRAFT_TLS_CERT", "--tls-cert"),
    flagged("tls", "key", "UPDRAFT_TLS_KEY", "--tls-key"),
    setting("limits", "max_bundle_bytes", "UPDRAFT_MAX_BUNDLE_BYTES"),
    setting("limits", "max_json_bytes", "UPDRAFT_MAX_JSON_BYTES"),
    setting(
        "limits",
        "header_timeout_secs",
        "UPDRAFT_HEADER_TIMEOUT_SECS",
    ),
    setting("limits", "body_timeout_secs", "UPDRAFT_BODY_TIMEOUT_SECS"),
    setting(
        "limits",
        "max_self_assigned_devices",
        "UPDRAFT_MAX_SELF_ASSIGNED_DEVICES",
    ),
    setting("telemetry", "write_queue", "UPDRAFT_WRITE_QUEUE"),
    setting(
        "telemetry",
        "write_queue_bytes",
        "UPDRAFT_WRITE_QUEUE_BYTES",
    ),
    setting(
        "telemetry",
        "flush_interval_ms",
        "UPDRAFT_FLUSH_INTERVAL_MS",
    ),
    setting("telemetry", "drain_timeout_ms", "UPDRAFT_DRAIN_TIMEOUT_MS"),
    setting(
        "telemetry",
        "event_retention_days",
        "UPDRAFT_EVENT_RETENTION_DAYS",
    ),
    setting(
        "telemetry",
        "gate_check_interval_ms",
        "UPDRAFT_GATE_CHECK_INTERVAL_MS",
    ),
    setting(
        "telemetry",
        "change_retention_days",
        "UPDRAFT_CHANGE_RETENTION_DAYS",
    ),
    SettingName {
        file_key: Some("token_file"),
        ..setting("metrics", "token", "UPDRAFT_METRICS_TOKEN")
    },
    setting("webhooks", "allow_local", "UPDRAFT_WEBHOOKS_ALLOW_LOCAL"),
    setting(
        "webhooks",
        "poll_interval_ms",
        "UPDRAFT_WEBHOOKS_POLL_INTERVAL_MS",
    ),
    setting("geo", "country_header", "UPDRAFT_COUNTRY_HEADER"),
    setting("geo", "database", "UPDRAFT_GEO_DATABASE"),
];
