//! The dashboard in a real browser: Debian's Chromium driven by
//! playwright-core (`tests/browser/dashboard.mjs`, installed with `npm ci`
//! by `.ci/run`) against a real server on 127.0.0.1. The server is seeded
//! with the `updraft` CLI (init, deploy, upload) and a fleet of simulated
//! devices (`updraft-device`, the engine `updraft-sim` runs); the browser
//! signs in, creates a channel, starts a rollout, reads the release's
//! numbers and chart after the devices update, pauses the rollout, finds a
//! device and reads its explain trace, creates and revokes a key, signs
//! out, and checks that a read-only key changes nothing. Every page is
//! checked with axe-core and captured at desktop and phone width in
//! `target/artifacts/dashboard/`.
//!
//! Also here, over plain HTTP: the session cookie's attributes, CSRF and
//! origin checks, the sign-in limit per address, sessions ending with their
//! key, and the headers every page carries.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use updraft_device::{Cycle, Device, DeviceConfig};
use updraft_test_support::*;

const DEVICES: usize = 6;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn device(server: &Server, dir: &std::path::Path) -> Device {
    let mut cfg = DeviceConfig::new(dir, &server.base, APP);
    cfg.app_ready_timeout = Duration::from_secs(30);
    Device::open(cfg).unwrap()
}

/// One app start of each device: update to `version`, confirm it, send the stats.
async fn fleet_updates_to(fleet: &mut [Device], version: &str) {
    for d in fleet.iter_mut() {
        assert_eq!(
            d.update_cycle().await.unwrap(),
            Cycle::Installed(version.into())
        );
        d.notify_app_ready().unwrap();
        d.flush_stats().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium() {
    let browser_dir = repo().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --ignore-scripts` in {}",
        browser_dir.display()
    );
    let chromium = std::env::var("UPDRAFT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium (apt-get install chromium)"
    );

    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    write_build(p, "1.0.1");
    cli.run(p, &["deploy"]).ok();
    write_build(p, "1.0.2");
    cli.run(p, &["bundle", "upload", "--bundle", "1.0.2"]).ok();

    let dirs: Vec<_> = (0..DEVICES).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut fleet: Vec<Device> = dirs.iter().map(|d| device(&server, d.path())).collect();
    fleet_updates_to(&mut fleet, "1.0.1").await;
    server.settle().await;
    let read_key = server
        .ok(
            "POST",
            "/keys",
            Some(json!({"name": "viewer", "mode": "read"})),
        )
        .await["secret"]
        .as_str()
        .unwrap()
        .to_string();

    let artifacts = repo().join("target/artifacts/dashboard");
    // Each device checks for updates once per app start, and starts twice.
    let expect =
        json!({"stable": "1.0.1", "candidate": "1.0.2", "devices": DEVICES, "checks": 2 * DEVICES});
    let mut node = Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .current_dir(&browser_dir)
        .env("UPDRAFT_BASE", &server.base)
        .env("UPDRAFT_APP", APP)
        .env("UPDRAFT_ADMIN_KEY", ADMIN)
        .env("UPDRAFT_READ_KEY", &read_key)
        .env("UPDRAFT_DEVICE", fleet[0].device_id())
        .env("UPDRAFT_ARTIFACTS", &artifacts)
        .env("UPDRAFT_EXPECT", expect.to_string())
        .env("UPDRAFT_CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut stdin = node.stdin.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = node.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut said = Vec::new();
    let deadline = Duration::from_secs(240);
    loop {
        let line = tokio::time::timeout(deadline, rx.recv())
            .await
            .expect("the browser script answers within 4 minutes");
        let Some(line) = line else { break };
        said.push(line.clone());
        if line == "WAIT devices" {
            // The rollout is at 100 %: every device gets the candidate.
            fleet_updates_to(&mut fleet, "1.0.2").await;
            server.settle().await;
            writeln!(stdin, "go").unwrap();
        }
    }
    let out = tokio::task::spawn_blocking(move || node.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.last().is_some_and(|l| l.starts_with("OK ")),
        "the browser run failed (screenshots in {}):\n{}\n{stderr}",
        artifacts.display(),
        said.join("\n")
    );
    for page in [
        "signin",
        "apps",
        "app",
        "channel",
        "stats",
        "device",
        "audit",
        "webhooks",
        "keys",
        "channel-read-only",
    ] {
        for width in ["desktop", "phone"] {
            let shot = artifacts.join(format!("{page}-{width}.png"));
            let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
            assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
        }
    }

    let checks = server.ok("GET", &format!("/apps/{APP}/checks"), None).await;
    let total: i64 = checks["hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["checks"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 2 * i64::try_from(DEVICES).unwrap(), "{checks}");

    // What the browser did went through the API's own writes, stamped with its key.
    let audit = server
        .ok("GET", &format!("/apps/{APP}/audit?kind=rollout."), None)
        .await;
    let kinds: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"rollout.started") && kinds.contains(&"rollout.paused"),
        "{audit}"
    );
    let status = server
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(
        status["rollout"]["state"], "paused",
        "the read-only key resumed nothing"
    );
    let channels = server
        .ok("GET", &format!("/apps/{APP}/channels"), None)
        .await;
    assert!(
        channels
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "qa"),
        "{channels}"
    );
}
