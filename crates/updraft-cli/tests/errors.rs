//! Bad input, auth and failures: each gives a clear message, the documented exit
//! code (1 error, 2 usage, 3 auth, 4 not found/conflict), and changes nothing.

use serde_json::json;
use updraft_server::clock::{Clock, TestClock};
use updraft_test_support::*;

const APP: &str = "com.example.errors";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_problems_exit_3_with_what_to_do() {
    // The server's clock is the test's: the key expires when the test says,
    // however slowly the CLI starts on a loaded machine.
    let clock = TestClock::now();
    let server = Server::start_clocked(&clock).await;
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    Cli::new(&server).run(p, &["init"]).ok();

    let wrong = Cli::new(&server).with_env("UPDRAFT_API_KEY", "upd_not_a_real_key_at_all_000000");
    let r = wrong.run(p, &["channel", "list"]).fails(3, "not valid");
    assert!(r.stderr.contains("hint:"), "{r:?}");

    // An expired key.
    let (_, k) = server
        .api(
            "POST",
            "/keys",
            Some(json!({"name": "soon", "mode": "all", "expires_at": clock.now_ms() + 1500})),
        )
        .await;
    let expiring = Cli::new(&server).with_env("UPDRAFT_API_KEY", k["secret"].as_str().unwrap());
    expiring.run(p, &["channel", "list"]).ok();
    clock.advance(1600);
    expiring.run(p, &["channel", "list"]).fails(3, "expired");

    // A read-only key may list but not deploy; an upload key may deploy but not change flags.
    let (_, k) = server
        .api("POST", "/keys", Some(json!({"name": "ro", "mode": "read"})))
        .await;
    let ro = Cli::new(&server).with_env("UPDRAFT_API_KEY", k["secret"].as_str().unwrap());
    ro.run(p, &["bundle", "list"]).ok();
    ro.run(p, &["deploy"]).fails(3, "mode read");
    let (_, k) = server
        .api(
            "POST",
            "/keys",
            Some(json!({"name": "ci", "mode": "upload"})),
        )
        .await;
    let ci = Cli::new(&server).with_env("UPDRAFT_API_KEY", k["secret"].as_str().unwrap());
    ci.run(p, &["deploy"]).ok();
    ci.run(p, &["channel", "set", "production", "--no-ios"])
        .fails(3, "mode upload");
    // A key limited to another app.
    let (_, k) = server
        .api(
            "POST",
            "/keys",
            Some(json!({"name": "other", "mode": "all", "apps": ["com.example.other"]})),
        )
        .await;
    let other = Cli::new(&server).with_env("UPDRAFT_API_KEY", k["secret"].as_str().unwrap());
    other.run(p, &["bundle", "list"]).fails(3, "not allowed");

    // No key at all.
    Cli::bare()
        .with_env("UPDRAFT_SERVER", &server.base)
        .run(p, &["bundle", "list"])
        .fails(3, "no API key");
    // No server at all.
    Cli::bare()
        .run(p, &["bundle", "list"])
        .fails(2, "no server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_is_exit_1_and_says_so() {
    let mut server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    server.stop().await;
    let r = cli
        .run(project.path(), &["deploy"])
        .fails(1, "cannot reach the Updraft server");
    assert!(r.stderr.contains("running"), "says what to check: {r:?}");
    let j = cli.run(project.path(), &["deploy", "--json"]);
    assert_eq!(j.code, 1);
    assert_eq!(j.json()["error"], "server_unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_projects_and_arguments() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();

    // Usage errors: exit 2.
    cli.run(p, &["bundle", "frobnicate"])
        .fails(2, "unrecognized subcommand");
    cli.run(p, &["deploy", "--bundle", "v1.2"])
        .fails(2, "not semver");
    cli.run(p, &["deploy", "--channel"])
        .fails(2, "a value is required");
    cli.run(
        p,
        &["bundle", "upload", "--external", "https://x.example/b.zip"],
    )
    .fails(2, "--checksum");
    cli.run(
        p,
        &[
            "bundle",
            "upload",
            "--external",
            "ftp://x/b.zip",
            "--checksum",
            &"a".repeat(64),
        ],
    )
    .fails(2, "https://");

    // A webDir without index.html, or missing.
    std::fs::remove_file(p.join("dist/index.html")).unwrap();
    cli.run(p, &["deploy"]).fails(1, "no index.html");
    std::fs::remove_dir_all(p.join("dist")).unwrap();
    cli.run(p, &["deploy"]).fails(1, "does not exist");
    cli.run(p, &["bundle", "zip"]).fails(1, "does not exist");
    write_build(p, "back");

    // No capacitor config and no --app.
    let empty = tempfile::tempdir().unwrap();
    cli.run(empty.path(), &["bundle", "list"])
        .fails(2, "no appId");
    cli.run(empty.path(), &["deploy", "--bundle", "1.0.0"])
        .fails(2, "no appId");
    cli.run(empty.path(), &["init"])
        .fails(1, "no capacitor.config");
    // Unknown app: exit 4, with the way out.
    cli.run(
        empty.path(),
        &["--app", "com.example.nope", "bundle", "list"],
    )
    .fails(4, "not found");
    let r = cli
        .run(
            empty.path(),
            &[
                "--app",
                "com.example.nope",
                "deploy",
                "--bundle",
                "1.0.0",
                "--path",
                p.join("dist").to_str().unwrap(),
            ],
        )
        .fails(4, "not found");
    assert!(r.stderr.contains("updraft init"), "{r:?}");

    // Keys that are not RSA-2048 PKCS#1.
    write(
        p,
        "pkcs8.pem",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    );
    cli.run(p, &["deploy", "--key", "pkcs8.pem", "--bundle", "1.0.9"])
        .fails(1, "PKCS#8");
    write(p, "junk.pem", "hello");
    cli.run(p, &["deploy", "--key", "junk.pem", "--bundle", "1.0.9"])
        .fails(1, "PKCS#1");
    cli.run(p, &["deploy", "--key", "missing.pem", "--bundle", "1.0.9"])
        .fails(1, "does not exist");
    let (status, _) = server
        .api("GET", &format!("/apps/{APP}/bundles/1.0.9"), None)
        .await;
    assert_eq!(status, 404, "nothing uploaded by any of these");

    // Encrypting something that is not a bundle zip.
    cli.run(p, &["key", "create"]).ok();
    write(p, "notzip.zip", "plain text");
    cli.run(p, &["bundle", "encrypt", "notzip.zip"])
        .fails(1, "not a zip");
    cli.run(p, &["bundle", "encrypt", "nothere.zip"])
        .fails(1, "cannot read");
    cli.run(p, &["bundle", "decrypt", "notzip.zip", "abc"])
        .fails(1, "session key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_zip_is_reproducible_and_prints_its_checksum() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "3.1.4");
    let p = project.path();
    write(p, "dist/.well-known/assetlinks.json", "[]");
    write(p, "dist/empty.txt", "");
    let a = cli.run(p, &["bundle", "zip", "--json"]).ok().json();
    assert_eq!(a["filename"], format!("{APP}_3.1.4.zip"));
    let first = std::fs::read(p.join(a["filename"].as_str().unwrap())).unwrap();
    assert_eq!(
        updraft_core::crypto::sha256_hex(&first),
        a["checksum"].as_str().unwrap()
    );
    let names = zip_names(&first);
    assert!(
        names.contains(&".well-known/assetlinks.json".to_string()),
        "dotfiles are part of the build: {names:?}"
    );
    assert!(names.contains(&"empty.txt".to_string()));

    // Touch every file (new mtimes): same bytes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write_build(p, "v1");
    let b = cli
        .run(p, &["bundle", "zip", "--name", "again.zip", "--json"])
        .ok()
        .json();
    assert_eq!(a["checksum"], b["checksum"]);
    assert_eq!(first, std::fs::read(p.join("again.zip")).unwrap());
    // A changed file: a different checksum.
    write_build(p, "v2");
    let c = cli
        .run(p, &["bundle", "zip", "--name", "changed.zip", "--json"])
        .ok()
        .json();
    assert_ne!(a["checksum"], c["checksum"]);

    // encrypt then decrypt gives the zip back, and encrypt checks a given checksum.
    cli.run(p, &["key", "create"]).ok();
    cli.run(p, &["bundle", "encrypt", "again.zip", &"0".repeat(64)])
        .fails(1, "hashes to");
    let e = cli
        .run(
            p,
            &[
                "bundle",
                "encrypt",
                "again.zip",
                a["checksum"].as_str().unwrap(),
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(e["filename"], "again.zip_encrypted.zip");
    let d = cli
        .run(
            p,
            &[
                "bundle",
                "decrypt",
                "again.zip_encrypted.zip",
                e["ivSessionKey"].as_str().unwrap(),
                "--checksum",
                e["checksum"].as_str().unwrap(),
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(d["sha256"], a["checksum"]);
    assert_eq!(
        first,
        std::fs::read(p.join("again.zip_encrypted.zip_decrypted.zip")).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_saves_a_private_file_and_logout_removes_it() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::bare();
    cli.run(
        dir.path(),
        &[
            "login",
            "--server",
            &server.base,
            "--api-key",
            "upd_wrong_key_000000000000000000",
        ],
    )
    .fails(3, "not valid");
    let file = cli.config_dir.path().join("login.toml");
    assert!(!file.exists(), "a bad key is not saved");
    cli.run(
        dir.path(),
        &["login", "--server", "localhost:1", "--api-key", ADMIN],
    )
    .fails(2, "http");

    let r = cli
        .run(
            dir.path(),
            &[
                "login",
                "--server",
                &server.base,
                "--api-key",
                ADMIN,
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(r["key"]["mode"], "all");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Later commands use the saved login.
    let project = json_project(APP, "1.0.0");
    cli.run(
        project.path(),
        &["init", "--device-url", "https://updates.example.com"],
    )
    .ok();
    cli.run(project.path(), &["doctor"]).ok();
    // The environment wins over the file.
    cli.run(project.path(), &["bundle", "list"]).ok();
    Cli::bare()
        .with_env(
            "UPDRAFT_CONFIG_DIR",
            cli.config_dir.path().to_str().unwrap(),
        )
        .with_env("UPDRAFT_API_KEY", "upd_env_key_wins_000000000000000000")
        .run(project.path(), &["bundle", "list"])
        .fails(3, "not valid");
    cli.run(dir.path(), &["logout"]).ok();
    assert!(!file.exists());
    cli.run(project.path(), &["bundle", "list"])
        .fails(2, "no server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_each_problem() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    // Not initialised: the app is missing and the config has no updateUrl.
    let r = cli.run(p, &["doctor", "--json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let checks = r.json();
    let status = |name: &str| {
        checks["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["status"].clone())
    };
    assert_eq!(status("server"), Some(json!("ok")));
    assert_eq!(status("api key"), Some(json!("ok")));
    assert_eq!(status("app"), Some(json!("fail")));
    assert_eq!(status("capacitor config"), Some(json!("fail")));
    cli.run(p, &["init", "--device-url", "https://updates.example.com"])
        .ok();
    cli.run(p, &["key", "create"]).ok();
    let ok = cli.run(p, &["doctor", "--json"]).ok().json();
    assert_eq!(ok["ok"], true, "{ok}");
    // A private key that does not match the config.
    let other = tempfile::tempdir().unwrap();
    cli.run(other.path(), &["key", "create"]).ok();
    std::fs::copy(other.path().join(".capgo_key_v2"), p.join(".capgo_key_v2")).unwrap();
    let r = cli.run(p, &["doctor"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("does not match"), "{r:?}");
}

/// An encrypted external bundle whose checksum phones cannot verify (a plain
/// SHA-256 with a session key) is refused before any request, exit 2, with
/// the form needed and how to make it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_encrypted_bundle_needs_a_checksum_phones_can_verify() {
    let mut server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    // Any request would now fail as "cannot reach the server" (exit 1).
    server.stop().await;
    let external = |checksum: &str, session_key: Option<&str>| {
        let mut args = vec![
            "bundle",
            "upload",
            "--external",
            "https://cdn.example.com/b.zip",
            "--checksum",
        ];
        args.push(checksum);
        if let Some(k) = session_key {
            args.extend(["--iv-session-key", k]);
        }
        cli.run(p, &args)
    };
    let sk = "AAAAAAAAAAAAAAAAAAAAAA==:BBBB";
    let r = external(&"ab".repeat(32), Some(sk)).fails(2, "512 hex characters");
    assert!(
        r.stderr.contains("plain SHA-256") && r.stderr.contains("bundle encrypt"),
        "says what is wrong and how to make the right one: {r:?}"
    );
    external("c2hvcnQ=", Some(sk)).fails(2, "base64 of 5 bytes");
    // An RSA-sized checksum without a session key is not a plain SHA-256 either.
    external(&"ab".repeat(256), None).fails(2, "64 hex characters");
}
