//! The `updraft-server` binary itself: its log formats and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// Starts `serve` on a free port with `env`, returns the child and its first log line.
fn serve_first_line(env: &[(&str, &str)]) -> (std::process::Child, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Byte by byte: a buffered reader dropped here would take later lines
    // (the banner) with it, and a test reading on would wait forever.
    let out = child.stdout.as_mut().unwrap();
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).unwrap() == 1 {
        bytes.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    let line = String::from_utf8(bytes).unwrap();
    (child, line, dir)
}

#[test]
fn json_logs_are_one_object_per_line_and_text_logs_have_no_colour_codes_off_a_terminal() {
    let (mut child, line, _dir) = serve_first_line(&[("UPDRAFT_LOG_FORMAT", "json")]);
    child.kill().unwrap();
    child.wait().unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields"]["message"], "updraft-server listening");
    assert!(v["fields"]["addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    let (mut child, line, _dir) = serve_first_line(&[]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("updraft-server listening"), "{line:?}");
    assert!(
        !line.contains('\u{1b}'),
        "no ANSI escapes in a pipe: {line:?}"
    );
}

/// The signal is sent right after the first log line: the handlers must exist by then.
#[test]
fn sigterm_stops_the_server_cleanly() {
    let (mut child, _line, _dir) = serve_first_line(&[]);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit after SIGTERM: {exit:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut rest).unwrap();
    assert!(
        rest.contains("shutting down"),
        "the signal was handled, not fatal: {rest:?}"
    );
}

/// A first start that cannot listen (the port is taken) creates no admin key:
/// the next start that serves prints one.
#[test]
fn the_first_admin_key_is_created_only_once_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("upd_"));
    drop(taken);
    let mut child = Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    for _ in 0..12 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if seen.contains("upd_") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.contains("An admin API key was created") && seen.contains("upd_"),
        "the next start shows the key: {seen}"
    );
}

/// The first start on loopback: the key comes with `export KEY=…` and the CLI
/// login, and phones are not told a loopback URL but what to set instead.
#[test]
fn the_first_start_banner_explains_the_key_and_never_suggests_an_unreachable_url() {
    let (mut child, line, _dir) = serve_first_line(&[]);
    let addr = line
        .split("addr=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..60 {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap() == 0 {
            break;
        }
        banner.push_str(&l);
        if l.contains("put that address in the URLs above") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(banner.contains("export KEY=upd_"), "{banner}");
    assert!(
        banner.contains(&format!(
            r#"updraft login --server http://{addr} --api-key "$KEY""#
        )),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("Phones cannot reach {addr}")),
        "{banner}"
    );
    assert!(banner.contains("--public-url"), "{banner}");
    assert!(banner.contains("UPDRAFT_PUBLIC_URL"), "{banner}");
    assert!(
        !banner.contains(&format!("{addr}/updates")),
        "no loopback URL for phones: {banner}"
    );
    assert!(
        banner.contains(r#""updateUrl": "http://<address phones use>:"#),
        "{banner}"
    );
}

/// The request log at the default level, as JSON lines: management requests
/// one line each (never the key or the query string), device errors (and a
/// check that cannot be served) with their code, successful device checks
/// only in the summary.
#[test]
fn management_requests_and_device_errors_are_logged_and_device_successes_summarised() {
    const KEY: &str = "binary_test_admin_key_0123456789";
    const DEV: &str = "00000000-0000-4000-8000-000000000001";
    let (mut child, line, _dir) = serve_first_line(&[
        ("UPDRAFT_LOG_FORMAT", "json"),
        ("UPDRAFT_BOOTSTRAP_API_KEY", KEY),
    ]);
    let first: serde_json::Value = serde_json::from_str(&line).unwrap();
    let base = format!("http://{}", first["fields"]["addr"].as_str().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let app = serde_json::json!({"app_id": "com.example.app"});
        let create = |key: &str| {
            http.post(format!("{base}/api/v1/apps?token=query_secret"))
                .bearer_auth(key)
                .json(&app)
                .send()
        };
        assert_eq!(create("wrong_key_0123456789").await.unwrap().status(), 401);
        assert_eq!(create(KEY).await.unwrap().status(), 201);
        assert_eq!(create(KEY).await.unwrap().status(), 409);
        let check = |app_id: &str| {
            http.post(format!("{base}/updates"))
                .json(&serde_json::json!({
                    "app_id": app_id, "device_id": DEV, "platform": "android",
                    "version_name": "builtin", "version_build": "1.0.0", "plugin_version": "8.51.14"
                }))
                .send()
        };
        // No channel yet: answered at 200 with `no_channel`, which is logged.
        assert_eq!(check("com.example.app").await.unwrap().status(), 200);
        let channel = http
            .post(format!("{base}/api/v1/apps/com.example.app/channels"))
            .bearer_auth(KEY)
            .json(&serde_json::json!({"name": "production", "public": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(channel.status(), 201);
        // Up to date: a success, only counted.
        let ok = check("com.example.app").await.unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(
            ok.json::<serde_json::Value>().await.unwrap()["kind"],
            "up_to_date"
        );
        assert_eq!(check("com.unknown.app").await.unwrap().status(), 429);
    });
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut rest).unwrap();
    child.wait().unwrap();
    assert!(!rest.contains(KEY), "the key is never logged: {rest}");
    assert!(!rest.contains("wrong_key"), "nor a wrong one: {rest}");
    assert!(
        !rest.contains("query_secret"),
        "nor the query string: {rest}"
    );
    let lines: Vec<serde_json::Value> = rest
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        lines
            .iter()
            .find(|l| pred(&l["fields"]))
            .unwrap_or_else(|| panic!("no such line in {rest}"))
            .clone()
    };
    for (status, code) in [(401, "invalid_apikey"), (409, "conflict")] {
        let l = find(&|f| f["message"] == "api request" && f["status"] == status);
        assert_eq!(l["level"], "INFO");
        assert_eq!(l["fields"]["method"], "POST");
        assert_eq!(l["fields"]["path"], "/api/v1/apps");
        assert_eq!(l["fields"]["error"], code);
        assert!(l["fields"]["latency_ms"].is_number(), "{l}");
        assert!(l["fields"]["request_id"].is_string(), "{l}");
    }
    let failed = find(&|f| f["message"] == "device request failed" && f["status"] == 429);
    assert_eq!(failed["fields"]["error"], "on_premise_app");
    assert_eq!(failed["fields"]["app_id"], "com.unknown.app");
    assert_eq!(failed["fields"]["device_id"], DEV);
    let no_channel = find(&|f| f["message"] == "device request failed" && f["status"] == 200);
    assert_eq!(no_channel["fields"]["error"], "no_channel");
    assert_eq!(no_channel["fields"]["app_id"], "com.example.app");
    let device_lines = lines
        .iter()
        .filter(|l| l["fields"]["path"] == "/updates")
        .count();
    assert_eq!(
        device_lines, 2,
        "the up-to-date check has no line of its own: {rest}"
    );
    let summary = find(&|f| f["message"] == "device traffic" && f["endpoint"] == "/updates");
    assert_eq!(summary["fields"]["requests"], 3, "{summary}");
    assert_eq!(summary["fields"]["status_2xx"], 1, "{summary}");
    assert_eq!(
        summary["fields"]["soft_errors"], 1,
        "no_channel is not a success: {summary}"
    );
    assert_eq!(summary["fields"]["status_4xx"], 1, "{summary}");
}

/// `updraft-server ARGS` with `env` (and no `RUST_LOG` unless given): status, stdout, stderr.
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `check-config` shows every setting by section with its source, and no secret.
#[test]
fn check_config_prints_every_setting_with_its_source_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("bootstrap-key");
    std::fs::write(&key_file, "bootstrap_hunter2_0123456789\n").unwrap();
    let file = dir.path().join("updraft.toml");
    std::fs::write(&file, "[telemetry]\nevent_retention_days = 7\n").unwrap();
    let key_file = key_file.display().to_string();
    let env = [
        (
            "UPDRAFT_DATABASE_URL",
            "postgres://ops:pw_hunter2@db/updraft?pass%77ord=hunter2",
        ),
        ("UPDRAFT_BOOTSTRAP_API_KEY_FILE", key_file.as_str()),
        ("UPDRAFT_WRITE_QUEUE", "5000"),
        ("UPDRAFT_CONFIG", file.to_str().unwrap()),
    ];
    let args = ["check-config", "--listen", "127.0.0.1:9999"];
    let (ok, text, err) = run(&args, &env);
    assert!(ok, "{err}");
    let (ok, json, err) = run(&[&args[..], &["--json"]].concat(), &env);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    for out in [&text, &json] {
        assert!(!out.contains("hunter2"), "a secret was printed: {out}");
    }
    let settings = doc["settings"].as_array().unwrap();
    assert_eq!(
        settings.len(),
        updraft_server::config::SETTINGS.len(),
        "{doc}"
    );
    for s in updraft_server::config::SETTINGS {
        assert!(
            text.contains(&format!("[{}]", s.section)),
            "[{}] missing: {text}",
            s.section
        );
        assert!(text.contains(&format!("  {} ", s.key)), "{}: {text}", s.key);
    }
    let get = |section: &str, name: &str| {
        settings
            .iter()
            .find(|s| s["section"] == section && s["name"] == name)
            .unwrap()
    };
    assert_eq!(get("server", "listen")["value"], "127.0.0.1:9999");
    assert_eq!(get("server", "listen")["source"], "flag");
    assert_eq!(get("telemetry", "event_retention_days")["value"], 7);
    assert_eq!(get("telemetry", "event_retention_days")["source"], "file");
    assert_eq!(get("telemetry", "write_queue")["source"], "env");
    assert_eq!(
        get("database", "url")["value"],
        "postgres://ops:***@db/updraft?password=***"
    );
    assert_eq!(get("server", "bootstrap_api_key")["source"], "env_file");
    assert_eq!(get("server", "bootstrap_api_key")["secret_file"], key_file);
    assert_eq!(
        get("database", "seen_cache")["note"],
        "not used on PostgreSQL"
    );
    assert_eq!(get("limits", "max_json_bytes")["source"], "default");
    assert!(text.contains("(from --listen)"), "{text}");
    assert!(text.contains("(default; not used on PostgreSQL)"), "{text}");
    assert!(
        text.contains(&format!(
            "(read from {key_file}, named by UPDRAFT_BOOTSTRAP_API_KEY_FILE)"
        )),
        "{text}"
    );
}

/// An invalid `RUST_LOG` stops `serve` and `check-config` with a message
/// naming it (it used to be ignored while the report showed it).
#[test]
fn an_invalid_rust_log_is_a_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let bad = [("RUST_LOG", "info,updraft_server=loud")];
    for args in [
        &["check-config"][..],
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data][..],
    ] {
        let (ok, _, err) = run(args, &bad);
        assert!(!ok, "{args:?} started with an invalid RUST_LOG");
        assert!(
            err.contains("RUST_LOG=\"info,updraft_server=loud\" is not a valid log filter"),
            "{args:?}: {err}"
        );
    }
    let (ok, text, err) = run(&["check-config"], &[("RUST_LOG", "debug,sqlx=warn")]);
    assert!(ok, "{err}");
    assert!(
        text.contains("log filter: debug,sqlx=warn  (from RUST_LOG)"),
        "{text}"
    );
}

/// A configuration file in the flat layout of earlier versions is refused,
/// naming each key's new place, rather than half read.
#[test]
fn a_flat_config_file_is_refused_with_the_new_places() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\nevent_retention_days = 7\n",
    )
    .unwrap();
    let (ok, _, err) = run(&["check-config", "--config", file.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(
        err.contains("`listen` is now `listen` in [server]"),
        "{err}"
    );
    assert!(
        err.contains("`event_retention_days` is now `event_retention_days` in [telemetry]"),
        "{err}"
    );
}

/// A database URL given both ways, or from a missing file, stops the server
/// with a message naming the variables or the file.
#[test]
fn secret_files_are_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-db-url");
    let (ok, _, err) = run(
        &["check-config"],
        &[("UPDRAFT_DATABASE_URL_FILE", missing.to_str().unwrap())],
    );
    assert!(!ok);
    assert!(err.contains("cannot read the database URL file"), "{err}");
    assert!(err.contains("no-db-url"), "{err}");
    let (ok, _, err) = run(
        &["check-config"],
        &[
            ("UPDRAFT_DATABASE_URL_FILE", missing.to_str().unwrap()),
            ("UPDRAFT_DATABASE_URL", "postgres://u:hunter2@db/x"),
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("UPDRAFT_DATABASE_URL and UPDRAFT_DATABASE_URL_FILE are both set"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

/// A password in a query parameter sqlx does not know (`sslpassword`) never
/// reaches the log: sqlx's option parsing would print it with its value, and
/// no `RUST_LOG` (not even `trace`) lets it through. PostgreSQL must be
/// reachable at `UPDRAFT_TEST_POSTGRES_URL`; the test fails, never skips, without it.
#[tokio::test]
async fn a_password_in_an_unknown_url_parameter_never_reaches_the_log() {
    let db = updraft_test_support::pg::database().await;
    let url = format!("{}?sslpassword=Sup3rS3cret", db.url);
    for rust_log in [
        None,
        Some("trace"),
        Some("sqlx_postgres::options::parse=trace"),
    ] {
        let mut env = vec![("UPDRAFT_DATABASE_URL", url.as_str())];
        if let Some(f) = rust_log {
            env.push(("RUST_LOG", f));
        }
        let (ok, out, err) = run(&["migrate"], &env);
        assert!(ok, "{rust_log:?}: {err}");
        assert!(out.contains("is up to date"), "{out}");
        for text in [&out, &err] {
            assert!(
                !text.contains("Sup3rS3cret"),
                "RUST_LOG={rust_log:?} printed the password: {text}"
            );
        }
    }
}
