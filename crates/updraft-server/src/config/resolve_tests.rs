//! Tests of [`Layer::resolve`] and of the layers' order.

use std::path::PathBuf;

use super::super::{Layer, LogFormat, ServerLayer};

fn env(pairs: &[(&str, String)]) -> Layer {
    let pairs = pairs.to_vec();
    Layer::from_env(move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap()
}

fn toml(text: &str) -> Layer {
    Layer::from_toml(text, "test.toml").unwrap()
}

fn server(listen: &str) -> Layer {
    Layer {
        server: ServerLayer {
            listen: Some(listen.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn env_overrides_the_file_and_a_flag_overrides_the_env() {
    let file = toml("[server]\nlisten = \"0.0.0.0:9000\"\npublic_url = \"https://u.example.com/\"\n[storage]\ndata_dir = \"/srv/u\"\n[telemetry]\nevent_retention_days = 7\n");
    let environment = env(&[
        ("UPDRAFT_LISTEN", "127.0.0.1:9100".into()),
        ("UPDRAFT_EVENT_RETENTION_DAYS", "3".into()),
    ]);
    let flags = server("127.0.0.1:9200");
    let c = Layer::default()
        .merge(file.clone())
        .merge(environment.clone())
        .resolve()
        .unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:9100");
    assert_eq!(c.telemetry.event_retention_days, 3);
    assert_eq!(c.database.url.expose(), "sqlite:///srv/u/updraft.db");
    assert_eq!(
        c.server.public_url.as_deref(),
        Some("https://u.example.com")
    );
    let c = file.merge(environment).merge(flags).resolve().unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:9200");
}

#[test]
fn invalid_values_are_refused_with_what_to_fix() {
    let e = |l: Layer| format!("{:#}", l.resolve().unwrap_err());
    assert!(e(server("nope")).contains("not ADDR:PORT"));
    assert!(e(server("0.0.0.0:8080")).contains("needs a public URL"));
    let proxies = toml("[server]\ntrusted_proxies = [\"proxy.local\"]");
    assert!(e(proxies).contains("trusted proxy"));
    let ok = toml("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]")
        .resolve()
        .unwrap();
    assert_eq!(ok.server.trusted_proxies.len(), 2);
    assert!(e(toml("[telemetry]\nwrite_queue = 10")).contains("at least 1000"));
    assert!(e(toml("[telemetry]\nwrite_queue_bytes = 1000")).contains("at least 4194304"));
    let big_bodies =
        toml("[limits]\nmax_json_bytes = 4194304\n[telemetry]\nwrite_queue_bytes = 8388608");
    assert!(e(big_bodies).contains("at least 16777216"));
    let bytes = env(&[("UPDRAFT_WRITE_QUEUE_BYTES", "8388608".into())]);
    assert_eq!(
        bytes.resolve().unwrap().telemetry.write_queue_bytes,
        8 << 20
    );
    assert!(e(toml("[limits]\nheader_timeout_secs = 0")).contains("at least 1 second"));
    assert!(e(toml("[server]\nlog_format = \"pretty\"")).contains("text or json"));
    let json = env(&[("UPDRAFT_LOG_FORMAT", "JSON".into())]);
    assert_eq!(json.resolve().unwrap().server.log_format, LogFormat::Json);
    let c = Layer::default().resolve().unwrap();
    assert_eq!(
        (
            c.telemetry.drain_timeout_ms,
            c.telemetry.event_retention_days,
            c.server.log_format
        ),
        (30_000, 90, LogFormat::Text)
    );
}

#[test]
fn a_refused_database_url_is_named_without_its_password() {
    for url in ["Postgres://u:s3cret@db/x", "mysql:u:s3cret@db"] {
        let l = env(&[("UPDRAFT_DATABASE_URL", url.into())]);
        let err = format!("{:#}", l.resolve().unwrap_err());
        assert!(err.contains("unknown scheme"), "{err}");
        assert!(!err.contains("s3cret"), "the password leaked: {err}");
    }
}

#[test]
fn secrets_are_read_from_files_once_with_the_line_break_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("db-url");
    let key_file = dir.path().join("key");
    std::fs::write(&url_file, "postgres://ops:s3cret@db/updraft\n").unwrap();
    std::fs::write(&key_file, "bootstrap_s3cret_0123456789abcdef\r\n").unwrap();
    let c = env(&[
        ("UPDRAFT_DATABASE_URL_FILE", url_file.display().to_string()),
        (
            "UPDRAFT_BOOTSTRAP_API_KEY_FILE",
            key_file.display().to_string(),
        ),
    ])
    .resolve()
    .unwrap();
    assert_eq!(c.database.url.expose(), "postgres://ops:s3cret@db/updraft");
    assert_eq!(
        c.server.bootstrap_api_key.as_ref().unwrap().expose(),
        "bootstrap_s3cret_0123456789abcdef"
    );
    // The same from the file's keys.
    let c = toml(&format!(
        "[database]\nurl_file = {:?}\n",
        url_file.display().to_string()
    ))
    .resolve()
    .unwrap();
    assert_eq!(c.database.url.expose(), "postgres://ops:s3cret@db/updraft");
}

#[test]
fn whitespace_around_a_secret_file_is_dropped_and_a_key_with_whitespace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "bootstrap_s3cret_0123456789abcdef \n").unwrap();
    let from_file = || {
        env(&[(
            "UPDRAFT_BOOTSTRAP_API_KEY_FILE",
            key_file.display().to_string(),
        )])
        .resolve()
    };
    let c = from_file().unwrap();
    assert_eq!(
        c.server.bootstrap_api_key.as_ref().unwrap().expose(),
        "bootstrap_s3cret_0123456789abcdef",
        "a trailing space in the file is not part of the key"
    );
    std::fs::write(&key_file, "bootstrap_s3cret 0123456789abcdef\n").unwrap();
    let e = from_file().unwrap_err().to_string();
    assert!(e.contains("contains whitespace"), "{e}");
    assert!(!e.contains("s3cret"), "the key is not shown: {e}");
    for given in [
        " bootstrap_s3cret_0123456789abcdef",
        "bootstrap_s3cret_0123456789abcdef\t",
        "bootstrap_s3cret_01234\n56789abcdef",
    ] {
        let e = env(&[("UPDRAFT_BOOTSTRAP_API_KEY", given.into())])
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("contains whitespace"), "{given:?}: {e}");
    }
}

#[test]
fn a_missing_or_empty_secret_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-secret");
    let e = env(&[("UPDRAFT_DATABASE_URL_FILE", missing.display().to_string())])
        .resolve()
        .unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("cannot read the database URL file"), "{e}");
    assert!(e.contains("no-such-secret"), "{e}");
    let empty = dir.path().join("empty-key");
    std::fs::write(&empty, "\n").unwrap();
    let e = env(&[(
        "UPDRAFT_BOOTSTRAP_API_KEY_FILE",
        empty.display().to_string(),
    )])
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(e.contains("bootstrap API key file"), "{e}");
    assert!(e.contains("empty-key"), "{e}");
    assert!(e.contains("is empty"), "{e}");
}

#[test]
fn debug_of_the_config_shows_no_key_and_no_database_password() {
    let c = env(&[
        (
            "UPDRAFT_DATABASE_URL",
            "postgres://ops:hunter2pw@db/updraft?pass%77ord=hunter2q".into(),
        ),
        (
            "UPDRAFT_BOOTSTRAP_API_KEY",
            "bootstrap_hunter2_0123456789abcdef".into(),
        ),
    ])
    .resolve()
    .unwrap();
    for shown in [
        format!("{c:?}"),
        format!("{c:#?}"),
        format!("{:?}", c.server),
        format!("{:?}", c.database),
        format!("{}", c.database.url),
        serde_json::to_string(&c.shown()).unwrap(),
    ] {
        assert!(!shown.contains("hunter2"), "a secret was printed: {shown}");
    }
    assert!(format!("{c:?}").contains("postgres://ops:***@db/updraft"));
}

#[test]
fn tls_files_are_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let missing = dir.path().join("missing-key.pem");
    let tls = |c: &PathBuf, k: &PathBuf| {
        toml(&format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            c.display().to_string(),
            k.display().to_string()
        ))
    };
    let e = format!("{:#}", tls(&cert, &missing).resolve().unwrap_err());
    assert!(e.contains("cannot read the TLS key file"), "{e}");
    assert!(e.contains("missing-key.pem"), "{e}");
    let e = format!("{:#}", tls(&missing, &cert).resolve().unwrap_err());
    assert!(e.contains("TLS certificate file"), "{e}");
    let only_cert = toml(&format!("[tls]\ncert = {:?}\n", cert.display().to_string()));
    assert!(only_cert
        .resolve()
        .unwrap_err()
        .to_string()
        .contains("needs both"));
    assert!(tls(&cert, &cert).resolve().is_ok());
}

#[test]
fn the_readme_lists_every_setting() {
    let readme = include_str!("../../../../README.md");
    for s in super::super::SETTINGS {
        let row = format!("| `{}.{}` | `{}`", s.section, s.key, s.env);
        assert!(
            readme.contains(&row),
            "README.md's configuration table has no row {row}"
        );
    }
}

#[test]
fn the_metrics_token_comes_from_a_value_or_a_file_and_must_be_long_enough() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics-token");
    std::fs::write(&file, "scrape_s3cret_0123456789\n").unwrap();
    let c = env(&[("UPDRAFT_METRICS_TOKEN_FILE", file.display().to_string())])
        .resolve()
        .unwrap();
    assert_eq!(
        c.metrics.token.as_ref().unwrap().expose(),
        "scrape_s3cret_0123456789"
    );
    assert!(Layer::default().resolve().unwrap().metrics.token.is_none());
    for bad in ["short", "has a space in it somewhere"] {
        let e = format!(
            "{:#}",
            env(&[("UPDRAFT_METRICS_TOKEN", bad.into())])
                .resolve()
                .unwrap_err()
        );
        assert!(e.contains("metrics token must be at least 16"), "{e}");
    }
    let both = format!(
        "{:#}",
        Layer::from_toml(
            "[metrics]\ntoken = \"scrape_s3cret_0123456789\"\ntoken_file = \"/t\"\n",
            "t.toml"
        )
        .unwrap_err()
    );
    assert!(both.contains("[metrics] token and token_file"), "{both}");
}

#[test]
fn a_bucket_takes_its_settings_from_the_file_the_environment_or_a_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s3-secret");
    std::fs::write(&secret, "s3cr3t\n").unwrap();
    let file = toml("[storage]\nbucket = \"bundles\"\nendpoint = \"http://127.0.0.1:3900\"\nregion = \"garage\"\naccess_key_id = \"GK1\"\n");
    let environment = env(&[(
        "UPDRAFT_S3_SECRET_ACCESS_KEY_FILE",
        secret.display().to_string(),
    )]);
    let c = file.merge(environment).resolve().unwrap();
    let s3 = c.storage.s3.expect("a bucket");
    assert_eq!(
        (s3.bucket.as_str(), s3.region.as_deref(), s3.path_style),
        ("bundles", Some("garage"), true),
        "path-style by default with an endpoint"
    );
    assert_eq!(s3.secret_access_key.as_deref(), Some("s3cr3t"));
    assert!(!format!("{s3:?}").contains("s3cr3t"), "never printed");
    assert!(Layer::default().resolve().unwrap().storage.s3.is_none());
    let e = |l: Layer| format!("{:#}", l.resolve().unwrap_err());
    assert!(e(toml("[storage]\nendpoint = \"http://x\"\n")).contains("set [storage] bucket"));
    assert!(
        e(toml("[storage]\nbucket = \"b\"\naccess_key_id = \"GK1\"\n")).contains("go together")
    );
    assert!(
        e(toml("[storage]\nbucket = \"b\"\nendpoint = \"ftp://x\"\n"))
            .contains("http:// or https://")
    );
}
