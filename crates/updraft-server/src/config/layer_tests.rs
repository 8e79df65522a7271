//! Tests of the layer: parsing, environment, merging.
use super::*;

fn env(pairs: &[(&str, &str)]) -> anyhow::Result<Layer> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Layer::from_env(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
}

#[test]
fn a_sectioned_file_is_read_and_typos_are_errors() {
    let l = Layer::from_toml(
        "[server]\nlisten = \"127.0.0.1:9000\"\n[database]\nurl = \"sqlite://x.db\"\n\
         [telemetry]\nevent_retention_days = 7\n[limits]\nmax_json_bytes = 2048\n",
        "test.toml",
    )
    .unwrap();
    assert_eq!(l.server.listen.as_deref(), Some("127.0.0.1:9000"));
    assert_eq!(l.database.url.unwrap().expose(), "sqlite://x.db");
    assert_eq!(l.telemetry.event_retention_days, Some(7));
    assert_eq!(l.limits.max_json_bytes, Some(2048));
    let e = format!(
        "{:#}",
        Layer::from_toml("[server]\nlisen = 1", "t.toml").unwrap_err()
    );
    assert!(e.contains("lisen"), "{e}");
    let e = format!(
        "{:#}",
        Layer::from_toml("[sever]\nlisten = \"x\"", "t.toml").unwrap_err()
    );
    assert!(e.contains("sever"), "{e}");
}

#[test]
fn the_flat_layout_of_earlier_versions_is_refused_with_the_new_places() {
    let e = Layer::from_toml(
        "listen = \"127.0.0.1:9000\"\ndatabase_url = \"postgres://u:pw@db/x\"\ntls_cert = \"c.pem\"\n",
        "/etc/updraft.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("/etc/updraft.toml"), "{e}");
    assert!(e.contains("`listen` is now `listen` in [server]"), "{e}");
    assert!(
        e.contains("`database_url` is now `url` in [database]"),
        "{e}"
    );
    assert!(e.contains("`tls_cert` is now `cert` in [tls]"), "{e}");
    assert!(e.contains("docs/upgrading.md"), "{e}");
    assert!(!e.contains("pw@"), "a value was printed: {e}");
}

#[test]
fn every_setting_is_read_from_its_variable() {
    for s in SETTINGS {
        let l = env(&[(s.env, "1")]).unwrap();
        assert!(l.is_set(s.section, s.key), "{} is not read", s.env);
        let all = serde_json::to_value(&l).unwrap();
        let set: usize = all
            .as_object()
            .unwrap()
            .values()
            .flat_map(|sec| sec.as_object().unwrap().values())
            .filter(|v| !v.is_null())
            .count();
        assert_eq!(set, 1, "{} sets more than its own setting", s.env);
        if let Some(file_env) = s.file_env() {
            let l = env(&[(&file_env, "/run/secret")]).unwrap();
            assert_eq!(l.secret_file(s), Some(PathBuf::from("/run/secret")));
        }
    }
    // And the table lists every key of the file but the secrets' files.
    let every = serde_json::to_value(Layer::default()).unwrap();
    for (section, keys) in every.as_object().unwrap() {
        for key in keys.as_object().unwrap().keys() {
            let listed = SETTINGS.iter().any(|s| {
                s.section == section && (s.key == key || s.file_key == Some(key.as_str()))
            });
            assert!(listed, "[{section}] {key} is not in SETTINGS");
        }
    }
    assert!(env(&[("UPDRAFT_EVENT_RETENTION_DAYS", "ninety")]).is_err());
}

#[test]
fn a_secret_given_twice_in_one_layer_is_an_error_and_a_higher_layer_replaces_both_forms() {
    let e = env(&[
        ("UPDRAFT_DATABASE_URL", "postgres://db/x"),
        ("UPDRAFT_DATABASE_URL_FILE", "/run/db"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("UPDRAFT_DATABASE_URL and UPDRAFT_DATABASE_URL_FILE are both set"),
        "{e}"
    );
    let e = Layer::from_toml(
        "[server]\nbootstrap_api_key = \"k\"\nbootstrap_api_key_file = \"/k\"\n",
        "t.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("[server] bootstrap_api_key and bootstrap_api_key_file are both set"),
        "{e}"
    );
    let file = Layer::from_toml("[database]\nurl = \"sqlite://a.db\"\n", "t.toml").unwrap();
    let over = env(&[("UPDRAFT_DATABASE_URL_FILE", "/run/db")]).unwrap();
    let merged = file.merge(over);
    assert!(merged.database.url.is_none());
    assert_eq!(merged.database.url_file, Some(PathBuf::from("/run/db")));
}

#[test]
fn a_layer_prints_no_secret() {
    let l = env(&[
        ("UPDRAFT_DATABASE_URL", "postgres://u:hunter2@db/x"),
        ("UPDRAFT_BOOTSTRAP_API_KEY", "bootstrap_hunter2_0123456789"),
    ])
    .unwrap();
    let shown = format!("{l:?} {}", serde_json::to_string(&l).unwrap());
    assert!(!shown.contains("hunter2"), "{shown}");
}
