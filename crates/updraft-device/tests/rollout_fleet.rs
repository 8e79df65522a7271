//! Rollouts watched over a simulated fleet: `updraft-sim` runs devices
//! against a real server whose clock the test turns. A good candidate goes
//! through its steps and is promoted; one that crashes on a fifth of its
//! devices is paused (or reverted, and its devices go back to the stable
//! bundle) before it leaves its step; failures as common as the stable's do
//! not stop it; and the server's funnel adds up and agrees with what the
//! fleet says it did.
//!
//! The fleet starts on its builtin bundle (native 1.0.0, so it runs 1.0.0),
//! `production` serves 1.0.1 and the candidate is 1.1.0. Device ids are
//! random per fleet directory, so counts that depend on buckets are asserted
//! as ranges; the sim's injected failures are fixed by device id and seed.

mod fleet;

use serde_json::{json, Value};
use updraft_server::clock::TestClock;
use updraft_test_support::*;

/// Stable and candidate versions.
const STABLE: &str = "1.0.1";
const CANDIDATE: &str = "1.1.0";

/// A clocked server with [`APP`], `production` on [`STABLE`] and
/// [`CANDIDATE`] uploaded beside it (both confirm with notifyAppReady).
async fn clocked_server() -> (Server, TestClock) {
    let clock = TestClock::now();
    let server = Server::start_clocked(&clock).await;
    server.with_app().await;
    server.publish(STABLE).await;
    server.uploaded(CANDIDATE, "", bundle_zip(CANDIDATE)).await;
    (server, clock)
}

/// Starts a rollout of [`CANDIDATE`] on `production` with `plan`, and waits
/// for the runner's first evaluation (on no data). The server's clock stands
/// still until [`later`] turns it, and the runner's lease holds a rollout to
/// one evaluation per interval of that clock, so the gates next judge the
/// fleet in [`later`], after a whole round, never in the middle of one.
async fn start_rollout(server: &Server, plan: Value) {
    let (status, r) = server
        .api(
            "POST",
            &format!("/apps/{APP}/channels/production/rollout"),
            Some(json!({"bundle": CANDIDATE, "plan": plan})),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    server.gates_evaluated().await;
}

/// A step at `percent`, ten minutes long, with a success gate and crash and
/// failure gates at 2 % whose action is `action`.
fn step(percent: f64, action: &str, min_confirmed_rate: f64) -> Value {
    json!({
        "percent": percent,
        "min_duration_secs": 600,
        "success": {"min_confirmed_rate": min_confirmed_rate, "min_devices": 20},
        "failure_gates": [
            {"metric": "crash_rate", "threshold": 0.02, "action": action},
            {"metric": "failure_rate", "threshold": 0.02, "action": action}
        ]
    })
}

/// The rollout's status.
async fn status(server: &Server) -> Value {
    server
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await
}

/// Lets the writer store what the fleet sent, turns the server's clock by
/// `secs` and waits for the runner to evaluate the gates; the status after.
async fn later(server: &Server, clock: &TestClock, secs: i64) -> Value {
    server.settle().await;
    clock.advance(secs * 1000);
    server.gates_evaluated().await;
    status(server).await
}

/// Release metrics of [`APP`] for `query` (`bundle=…` or `channel=…`), over
/// the default window (the last 24 h of the server's clock).
async fn metrics(server: &Server, query: &str) -> Value {
    server
        .ok("GET", &format!("/apps/{APP}/metrics?{query}"), None)
        .await
}

/// The result of gate `name` in a gate evaluation.
fn gate(check: &Value, name: &str) -> Value {
    check["gates"]
        .as_array()
        .unwrap_or_else(|| panic!("a check lists its gates: {check}"))
        .iter()
        .find(|g| g["gate"] == name)
        .unwrap_or_else(|| panic!("no {name} gate in {check}"))
        .clone()
}

/// A count of the fleet summary's `per_version` (0 when the version is absent).
fn pv(summary: &Value, version: &str, key: &str) -> u64 {
    summary["per_version"][version][key].as_u64().unwrap_or(0)
}

/// A number of a JSON object (the server's or the sim's).
fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is a count in {v}"))
}

/// A directory for a fleet's state. Each device syncs its state to disk
/// several times per update (as the plugin must), so on a disk whose syncs
/// are slow a fleet of hundreds takes many seconds; in memory (`/dev/shm`,
/// where there is one) it takes a fraction of one. Durability is not what
/// these tests are about.
fn fleet_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().unwrap()
}

/// [`fleet::sim`] with this file's fleet settings: 32 at a time, a bundle
/// not confirmed within 200 ms is rolled back.
async fn sim(server: &Server, dir: &std::path::Path, args: &[&str]) -> Value {
    let mut all = vec!["--concurrency", "32", "--app-ready-timeout-ms", "200"];
    all.extend_from_slice(args);
    fleet::sim(server, dir, &all).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_candidate_goes_through_its_steps_and_is_promoted() {
    let (server, clock) = clocked_server().await;
    let dir = fleet_dir();
    let fleet = [
        "-n",
        "200",
        "--seed",
        "11",
        "--launch-ms",
        "*=700",
        "--launch-ms",
        "1.1.0=800",
    ];
    let s = sim(&server, dir.path(), &fleet).await;
    assert_eq!(s["versions"], json!({STABLE: 200}), "the fleet runs stable");

    let mut first = step(20.0, "pause", 0.9);
    first["failure_gates"]
        .as_array_mut()
        .unwrap()
        .push(json!({"metric": "launch_time_p90", "threshold": 1.25, "action": "pause"}));
    start_rollout(
        &server,
        json!({"steps": [first, step(100.0, "pause", 0.9)]}),
    )
    .await;
    let s = sim(&server, dir.path(), &fleet).await;
    let candidates = pv(&s, CANDIDATE, "installed");
    assert!((20..=65).contains(&candidates), "about 20 %: {s}");
    assert_eq!(pv(&s, CANDIDATE, "confirmed"), candidates, "{s}");
    assert_eq!(
        s["versions"],
        json!({STABLE: 200 - candidates, CANDIDATE: candidates}),
        "{s}"
    );

    let st = later(&server, &clock, 60).await;
    assert_eq!(st["rollout"]["step"], 0, "ten minutes are not up: {st}");
    assert_eq!(st["checks"][0]["outcome"], "none", "{st}");
    assert_eq!(
        (
            n(&st["candidate"], "installed"),
            n(&st["candidate"], "confirmed")
        ),
        (candidates, candidates),
        "the server counts the devices the fleet put on the candidate: {st}"
    );

    let st = later(&server, &clock, 600).await;
    assert_eq!(
        (
            st["rollout"]["state"].as_str(),
            st["rollout"]["step"].as_u64()
        ),
        (Some("running"), Some(1)),
        "time is up and every gate passed: {st}"
    );
    let check = &st["checks"][0];
    assert_eq!(
        (check["step"].as_u64(), check["outcome"].as_str()),
        (Some(0), Some("advance"))
    );
    for name in ["success", "crash_rate", "failure_rate", "launch_time_p90"] {
        assert_eq!(gate(check, name)["status"], "pass", "{name}: {check}");
    }
    let ratio = gate(check, "launch_time_p90")["value"].as_f64().unwrap();
    assert!(
        (1.1..1.2).contains(&ratio),
        "800 ms against 700 ms: {check}"
    );

    let s = sim(&server, dir.path(), &fleet).await;
    assert_eq!(s["versions"], json!({CANDIDATE: 200}), "100 %: {s}");
    assert_eq!(pv(&s, CANDIDATE, "installed"), 200 - candidates, "{s}");
    assert_eq!(n(&s, "up_to_date"), candidates, "{s}");

    let st = later(&server, &clock, 660).await;
    assert_eq!(st["rollout"]["state"], "promoted", "{st}");
    assert_eq!(st["checks"][0]["outcome"], "promote", "{st}");
    let channel = server
        .ok("GET", &format!("/apps/{APP}/channels/production"), None)
        .await;
    assert_eq!(channel["bundle_version"], CANDIDATE, "{channel}");
    let s = sim(&server, dir.path(), &fleet).await;
    assert_eq!(n(&s, "up_to_date"), 200, "promoted: everyone stays: {s}");
}

/// A fleet of 300 on which a fifth of the devices running the candidate
/// crash after each start.
const CRASHING: [&str; 6] = ["-n", "300", "--seed", "5", "--crash", "1.1.0=20%"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_crashing_on_a_fifth_of_its_devices_is_paused_in_its_step() {
    let (server, clock) = clocked_server().await;
    // The success gate is low enough to pass: only the crash gate holds it.
    start_rollout(
        &server,
        json!({"steps": [step(30.0, "pause", 0.5), step(100.0, "pause", 0.5)]}),
    )
    .await;
    let dir = fleet_dir();
    let s = sim(&server, dir.path(), &CRASHING).await;
    let candidates = pv(&s, CANDIDATE, "installed");
    let crashed = pv(&s, CANDIDATE, "crashed");
    assert!((60..=120).contains(&candidates), "about 30 %: {s}");
    assert!(crashed > 0 && crashed < candidates, "{s}");

    // Its ten minutes are up, yet it does not advance.
    let st = later(&server, &clock, 700).await;
    assert_eq!(
        (
            st["rollout"]["state"].as_str(),
            st["rollout"]["step"].as_u64()
        ),
        (Some("paused"), Some(0)),
        "{st}"
    );
    let check = &st["checks"][0];
    assert_eq!(check["outcome"], "pause", "{check}");
    assert_eq!(gate(check, "crash_rate")["status"], "fail", "{check}");
    assert_eq!(gate(check, "success")["status"], "pass", "{check}");
    assert!(
        st["rollout"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("crash_rate")),
        "{st}"
    );
    assert_eq!(n(&st["candidate"], "crashed"), crashed, "{st}");
    assert_eq!(n(&st["candidate"], "ran"), candidates, "{st}");
    assert_eq!(n(&st["stable"], "crashed"), 0, "{st}");

    // Paused: no new device gets it; those on it keep it (and keep crashing).
    let s = sim(&server, dir.path(), &CRASHING).await;
    assert_eq!(pv(&s, CANDIDATE, "installed"), 0, "{s}");
    assert_eq!(pv(&s, CANDIDATE, "running"), candidates, "{s}");
    assert_eq!(pv(&s, CANDIDATE, "crashed"), crashed, "{s}");
    let st = later(&server, &clock, 3600).await;
    assert_eq!(
        (
            st["rollout"]["state"].as_str(),
            st["rollout"]["step"].as_u64()
        ),
        (Some("paused"), Some(0)),
        "{st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_revert_action_the_fleet_goes_back_to_the_stable_bundle() {
    let (server, clock) = clocked_server().await;
    start_rollout(
        &server,
        json!({"steps": [step(30.0, "revert", 0.5), step(100.0, "revert", 0.5)]}),
    )
    .await;
    let dir = fleet_dir();
    let s = sim(&server, dir.path(), &CRASHING).await;
    let candidates = pv(&s, CANDIDATE, "installed");
    assert!((60..=120).contains(&candidates), "about 30 %: {s}");
    server.settle().await;
    let m = metrics(&server, &format!("bundle={STABLE}")).await;
    assert_eq!(n(&m["stages"], "installed"), 300 - candidates, "{m}");

    let st = later(&server, &clock, 60).await;
    assert_eq!(st["rollout"]["state"], "reverted", "{st}");
    assert_eq!(st["checks"][0]["outcome"], "revert", "{st}");
    assert_eq!(gate(&st["checks"][0], "crash_rate")["status"], "fail");

    // Every device that ran the candidate installs the stable bundle.
    let s = sim(&server, dir.path(), &CRASHING).await;
    assert_eq!(s["versions"], json!({STABLE: 300}), "{s}");
    assert_eq!(pv(&s, STABLE, "installed"), candidates, "{s}");
    assert_eq!(pv(&s, STABLE, "confirmed"), candidates, "{s}");
    assert_eq!(n(&s, "crashes"), 0, "nobody runs the crashing bundle: {s}");
    server.settle().await;
    let m = metrics(&server, &format!("bundle={STABLE}")).await;
    assert_eq!(
        (
            n(&m, "total"),
            n(&m["stages"], "installed"),
            n(&m["funnel"], "ready")
        ),
        (300, 300, 300),
        "the stable bundle's metrics include the reverted devices: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_as_common_on_both_arms_do_not_stop_the_candidate() {
    let (server, clock) = clocked_server().await;
    start_rollout(
        &server,
        json!({"steps": [step(50.0, "pause", 0.9), step(100.0, "pause", 0.9)], "auto_promote": false}),
    )
    .await;
    // 1.5 % of the devices crash on either bundle; 1.5 % never confirm an
    // update (they roll back whichever they get).
    let dir = fleet_dir();
    let s = sim(
        &server,
        dir.path(),
        &[
            "-n",
            "400",
            "--seed",
            "9",
            "--never-confirm",
            "0.015",
            "--crash",
            "1.1.0=1.5%",
            "--crash",
            "1.0.1=1.5%",
        ],
    )
    .await;
    let candidates = pv(&s, CANDIDATE, "installed");
    assert!((140..=260).contains(&candidates), "about 50 %: {s}");

    let st = later(&server, &clock, 700).await;
    assert_eq!(
        (
            st["rollout"]["state"].as_str(),
            st["rollout"]["step"].as_u64()
        ),
        (Some("running"), Some(1)),
        "not paused; it advanced: {st}"
    );
    let check = &st["checks"][0];
    assert_eq!(check["outcome"], "advance", "{check}");
    for name in ["crash_rate", "failure_rate", "success"] {
        assert_eq!(gate(check, name)["status"], "pass", "{name}: {check}");
    }
    // The server judged exactly what the fleet did, arm by arm.
    for (arm, version) in [("candidate", CANDIDATE), ("stable", STABLE)] {
        let health = &check[arm];
        assert_eq!(
            n(health, "installed"),
            pv(&s, version, "installed"),
            "{arm}: {s} {check}"
        );
        assert_eq!(
            n(health, "crashed"),
            pv(&s, version, "crashed"),
            "{arm}: {s} {check}"
        );
        assert_eq!(
            n(health, "failed"),
            pv(&s, version, "rolled_back"),
            "{arm}: {s} {check}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_funnel_adds_up_and_agrees_with_the_fleet() {
    let (server, _clock) = clocked_server().await;
    start_rollout(
        &server,
        json!({"steps": [{"percent": 50}], "auto_advance": false, "auto_promote": false}),
    )
    .await;
    // Two app starts each; a tenth never confirm, a tenth get corrupted
    // downloads (every time), a tenth of each bundle's devices crash.
    let dir = fleet_dir();
    let s = sim(
        &server,
        dir.path(),
        &[
            "-n",
            "200",
            "--rounds",
            "2",
            "--seed",
            "4",
            "--never-confirm",
            "0.1",
            "--corrupt",
            "0.1",
            "--crash",
            "1.1.0=10%",
            "--crash",
            "1.0.1=10%",
        ],
    )
    .await;
    let corrupted = n(&s["error_kinds"], "checksum_fail");
    assert_eq!(
        n(&s, "errors"),
        corrupted,
        "only the injected failures: {s}"
    );
    assert!(corrupted > 0 && n(&s, "rolled_back") > 0, "{s}");
    server.settle().await;

    let mut failed = 0;
    let mut rolled_back = 0;
    for version in [STABLE, CANDIDATE] {
        let m = metrics(&server, &format!("bundle={version}")).await;
        let f = &m["funnel"];
        let states = [
            "offered",
            "downloading",
            "downloaded",
            "installed",
            "ready",
            "rolled_back",
            "failed",
        ];
        let sum: u64 = states.iter().map(|k| n(f, k)).sum();
        assert_eq!(sum, n(&m, "total"), "each device in one final state: {m}");
        let installed = pv(&s, version, "installed");
        assert_eq!(
            n(&m["stages"], "installed"),
            installed,
            "{version}: {s} {m}"
        );
        assert_eq!(
            n(f, "ready"),
            pv(&s, version, "confirmed"),
            "{version}: {s} {m}"
        );
        assert_eq!(
            n(f, "rolled_back"),
            pv(&s, version, "rolled_back"),
            "{version}: {s} {m}"
        );
        assert_eq!(n(&m["stages"], "rolled_back"), n(f, "rolled_back"), "{m}");
        assert_eq!(
            n(&m, "total"),
            installed + n(f, "failed"),
            "every device offered either installed it or failed: {m}"
        );
        // Crashed devices / devices that ran it (here, those that installed it).
        let crashed = pv(&s, version, "crashed") as f64;
        let crash_rate = m["crash_rate"].as_f64().unwrap();
        assert!(
            (crash_rate * installed as f64 - crashed).abs() < 0.5,
            "{version}: {s} {m}"
        );
        failed += n(f, "failed");
        rolled_back += n(f, "rolled_back");
    }
    assert_eq!(rolled_back, n(&s, "rolled_back"), "{s}");
    assert_eq!(
        failed * 2,
        corrupted,
        "a corrupted device fails once per start and counts once: {s}"
    );

    // A channel measures its rollout's candidate; the candidate arm's health
    // counts the same devices.
    let m = metrics(&server, "channel=production").await;
    assert_eq!(m["bundle"], CANDIDATE, "{m}");
    let st = status(&server).await;
    let arm = &st["candidate"];
    assert_eq!(n(arm, "devices"), n(&m, "total"), "{st} {m}");
    assert_eq!(n(arm, "crashed"), pv(&s, CANDIDATE, "crashed"), "{st}");
    assert_eq!(
        n(arm, "failed"),
        n(&m["funnel"], "failed") + n(&m["funnel"], "rolled_back"),
        "{st} {m}"
    );
}
