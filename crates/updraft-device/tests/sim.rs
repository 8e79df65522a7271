//! `updraft-sim` against the real server: a fleet with failure injection, and
//! a summary that adds up with what the server recorded.

mod fleet;

use fleet::sim;
use serde_json::{json, Value};
use updraft_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_fleet_updates_rolls_back_and_reports() {
    let server = Server::start().await;
    server.with_app().await;
    server.publish("1.0.1").await;
    let dir = tempfile::tempdir().unwrap();
    let out = sim(
        &server,
        dir.path(),
        &[
            "-n",
            "120",
            "--rounds",
            "2",
            "--never-confirm",
            "0.25",
            "--corrupt",
            "0.1",
            "--interrupt",
            "0.1",
            "--app-ready-timeout-ms",
            "200",
            "--seed",
            "7",
            "--concurrency",
            "32",
        ],
    )
    .await;
    let s = out;
    let n = |k: &str| s[k].as_u64().unwrap();
    assert_eq!(n("devices"), 120);
    assert_eq!(n("checks"), 240);
    assert!(n("confirmed") > 0 && n("rolled_back") > 0, "{s}");
    assert_eq!(
        n("confirmed") + n("rolled_back"),
        n("updated"),
        "each install is confirmed or rolled back: {s}"
    );
    assert_eq!(
        s["versions"]["1.0.1"].as_u64().unwrap_or(0),
        n("confirmed"),
        "{s}"
    );
    assert_eq!(
        s["versions"]["1.0.0"].as_u64().unwrap_or(0),
        120 - n("confirmed"),
        "{s}"
    );
    assert!(
        s["error_kinds"]["checksum_fail"].as_u64().unwrap_or(0) > 0,
        "corrupted downloads are caught: {s}"
    );
    assert!(
        s["error_kinds"]["download_fail"].as_u64().unwrap_or(0) > 0,
        "cut transfers are reported: {s}"
    );

    // The server saw every rollback and blocks the bundle for exactly those devices.
    server.settle().await;
    let mut failed = 0;
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor
            .as_ref()
            .map(|c| format!("&cursor={c}"))
            .unwrap_or_default();
        let page = server
            .ok("GET", &format!("/apps/{APP}/devices?limit=100{q}"), None)
            .await;
        for d in page["items"].as_array().unwrap() {
            if !d["failed_bundles"].as_array().unwrap().is_empty() {
                failed += 1;
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(failed, n("rolled_back"), "{s}");

    // State persists: a second run of the same fleet (no faults now) finds each
    // device where it was. Those that only hit faults update; those that
    // rolled back are not offered the bundle again; the rest are up to date.
    let s2 = sim(&server, dir.path(), &["-n", "120", "--seed", "7"]).await;
    let n2 = |k: &str| s2[k].as_u64().unwrap();
    assert_eq!(
        n2("updated"),
        120 - n("confirmed") - n("rolled_back"),
        "{s2}"
    );
    assert_eq!(n2("up_to_date"), n("confirmed") + n("rolled_back"), "{s2}");
    assert_eq!(
        s2["versions"]["1.0.0"].as_u64().unwrap_or(0),
        n("rolled_back"),
        "{s2}"
    );
}

/// Devices of an app with an encryption key carry the project's public key
/// without `--public-key`, found as the updraft CLI finds it: `publicKey` in
/// the capacitor config, else `.capgo_key_v2.pub`. Without one they cannot
/// decrypt (`decrypt_fail`), and the summary says how to give it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_carries_the_projects_public_key() {
    use updraft_core::crypto::{seal_bundle, PrivateKey};

    let server = Server::start().await;
    server.with_app().await;
    let private = PrivateKey::generate(&mut rand::rngs::OsRng).unwrap();
    let pem = private.public_key().to_pem();
    let sealed = seal_bundle(&private, &bundle_zip("1.1.0"), &mut rand::rngs::OsRng).unwrap();
    let res = server
        .http
        .post(format!("{}/api/v1/apps/{APP}/bundles", server.base))
        .query(&[
            ("version", "1.1.0"),
            ("channel", "production"),
            ("checksum", sealed.checksum.as_str()),
            ("session_key", sealed.session_key.as_str()),
        ])
        .bearer_auth(ADMIN)
        .body(sealed.ciphertext.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // A project whose capacitor config carries the key; the sim runs in it.
    let project = tempfile::tempdir().unwrap();
    let config = json!({"appId": APP, "webDir": "dist", "plugins": {"CapacitorUpdater": {"publicKey": pem}}});
    std::fs::write(
        project.path().join("capacitor.config.json"),
        config.to_string(),
    )
    .unwrap();
    let fleet = tempfile::tempdir().unwrap();
    let (s, stderr) = run_sim(&server, fleet.path(), project.path(), &["-n", "4"]).await;
    assert_eq!(s["updated"], 4, "{s}");
    assert_eq!(s["confirmed"], 4, "{s}");
    assert_eq!(s["errors"], 0, "{s}");
    assert!(
        stderr.contains("capacitor.config.json"),
        "says where the key came from: {stderr}"
    );

    // Only the key file, as `updraft key create` writes it, given with --project.
    let keyfile_project = tempfile::tempdir().unwrap();
    std::fs::write(
        keyfile_project.path().join("capacitor.config.json"),
        json!({"appId": APP, "webDir": "dist"}).to_string(),
    )
    .unwrap();
    std::fs::write(keyfile_project.path().join(".capgo_key_v2.pub"), &pem).unwrap();
    let fleet = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let project_flag = keyfile_project.path().to_str().unwrap().to_string();
    let (s, _) = run_sim(
        &server,
        fleet.path(),
        elsewhere.path(),
        &["-n", "4", "--project", &project_flag],
    )
    .await;
    assert_eq!(s["confirmed"], 4, "{s}");

    // No key anywhere: every download fails to decrypt, and the hint says why.
    let fleet = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_updraft-sim"));
    cmd.args(["--server", &server.base, "--app", APP, "-n", "2", "--dir"])
        .arg(fleet.path())
        .current_dir(elsewhere.path());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("error decrypt_fail: 2"), "{stdout}");
    assert!(stderr.contains("--public-key"), "{stderr}");

    // A broken key is refused up front.
    std::fs::write(
        project.path().join("capacitor.config.json"),
        json!({"appId": APP, "plugins": {"CapacitorUpdater": {"publicKey": "nope"}}}).to_string(),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_updraft-sim"));
    cmd.args(["--server", &server.base, "--app", APP, "-n", "1", "--dir"])
        .arg(fleet.path())
        .current_dir(project.path());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("publicKey"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `updraft-sim --json` in `cwd` with the fleet in `dir`: the summary and stderr.
async fn run_sim(
    server: &Server,
    dir: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
) -> (Value, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_updraft-sim"));
    cmd.args(["--server", &server.base, "--app", APP, "--json", "--dir"])
        .arg(dir)
        .args(args)
        .current_dir(cwd);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_fleet_follows_v1_v2_v3_through_manifests() {
    let server = Server::start().await;
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    write(
        p,
        "dist/assets/vendor.js",
        &"export const table = [1, 2, 3, 4, 5, 6, 7, 8];\n".repeat(600),
    );
    let cli = Cli::new(&server);
    cli.run(p, &["init"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-n",
        "6",
        "--rounds",
        "1",
        "--no-patches",
        "--concurrency",
        "6",
    ];
    let round = |version: &'static str| {
        let (server, dir, cli, p) = (&server, dir.path(), &cli, p);
        async move {
            cli.run(p, &["deploy", "--delta", "--bundle", version]).ok();
            let s = sim(server, dir, &args).await;
            assert_eq!(s["updated"], 6, "{s}");
            assert_eq!(s["versions"], json!({ version: 6 }), "{s}");
            s["downloads"].clone()
        }
    };
    let d = round("1.0.1").await;
    assert_eq!(
        (&d["files_fetched"], &d["files_reused"]),
        (&json!(18), &json!(0)),
        "{d}"
    );

    let index = "<html><body>v2</body></html>";
    write(p, "dist/index.html", index);
    let d = round("1.0.2").await;
    assert_eq!(
        (&d["files_fetched"], &d["files_reused"]),
        (&json!(6), &json!(12)),
        "{d}"
    );
    assert_eq!(d["bytes"], json!(6 * index.len()), "only index.html: {d}");

    write(
        p,
        "dist/assets/vendor.js",
        &"export const table = [1, 2, 3, 4, 5, 6, 7, 9];\n".repeat(600),
    );
    let d = round("1.0.3").await;
    assert_eq!(
        (&d["files_fetched"], &d["files_reused"]),
        (&json!(6), &json!(12)),
        "{d}"
    );
    assert!(
        d["bytes"].as_u64().unwrap() < 6 * 1_000,
        "vendor.js as Brotli, not its 28 KB: {d}"
    );
}
