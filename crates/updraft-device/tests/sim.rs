//! `updraft-sim` against the real server: a fleet with failure injection, and
//! a summary that adds up with what the server recorded.

mod common;

use common::*;
use serde_json::Value;

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
            .api("GET", &format!("/apps/{APP}/devices?limit=100{q}"), None)
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

/// Runs `updraft-sim --json` against the server with the fleet in `dir`.
async fn sim(server: &Server, dir: &std::path::Path, args: &[&str]) -> Value {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_updraft-sim"));
    cmd.args(["--server", &server.base, "--app", APP, "--json", "--dir"])
        .arg(dir)
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
