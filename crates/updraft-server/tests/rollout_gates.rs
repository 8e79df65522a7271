//! Rollouts that watch themselves: a fleet of plugin-like devices (checks and
//! stats exactly as the plugin sends them) against a real server whose clock
//! the test turns. A healthy candidate advances and is promoted; a crashing
//! one is paused or reverted before it leaves its step; a candidate no worse
//! than its stable is left alone; every event counts for the arm the server
//! resolved, never the one a device claims; the funnel adds up; explain
//! shows the bucket and the arm.

use serde_json::{json, Value};
use updraft_server::clock::TestClock;
use updraft_test_support::*;

/// The device id of fleet member `i`.
fn device(i: u64) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// What happens to a device after it installs a bundle.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    /// Launches in this many ms and reports ready.
    Healthy(u64),
    /// Reports ready, then crashes.
    Crashes,
    /// The download fails: never installed.
    DownloadFails,
    /// Never reports ready: the plugin rolls it back (`update_fail`).
    RollsBack,
}

/// One stats event of `id` about `version`, as the plugin sends it.
fn event(id: &str, version: &str, action: &str, metadata: Value) -> Value {
    let mut e = info(json!({"device_id": id, "version_name": version, "action": action}));
    if !metadata.is_null() {
        e["metadata"] = metadata;
    }
    e
}

async fn send(server: &Server, events: Vec<Value>) {
    let (status, v) = server.device("POST", "/stats", &Value::Array(events)).await;
    assert_eq!(status, 200, "{v}");
}

/// Device `i`, running `running`, checks for an update and lives through
/// what it is offered as `fate` says; returns the version it runs after.
async fn live(server: &Server, i: u64, running: &str, fate: impl Fn(&str) -> Fate) -> String {
    let id = device(i);
    let reply = server
        .check(json!({"device_id": id, "version_name": running}))
        .await;
    let Some(v) = reply["version"]
        .as_str()
        .filter(|_| reply.get("url").is_some())
    else {
        return running.to_string();
    };
    let mut events = vec![event(&id, v, "download_zip_start", Value::Null)];
    let fate = fate(v);
    if fate == Fate::DownloadFails {
        events.push(event(&id, v, "download_fail", Value::Null));
        send(server, events).await;
        return running.to_string();
    }
    events.push(event(&id, v, "download_zip_complete", Value::Null));
    events.push(event(&id, v, "set", Value::Null));
    let after = match fate {
        Fate::Healthy(ms) => {
            events.push(event(
                &id,
                v,
                "app_launch_ready",
                json!({"duration_ms": ms.to_string()}),
            ));
            v.to_string()
        }
        Fate::Crashes => {
            events.push(event(
                &id,
                v,
                "app_launch_ready",
                json!({"duration_ms": "900"}),
            ));
            events.push(event(&id, v, "app_crash", json!({"exit_reason": "crash"})));
            v.to_string()
        }
        Fate::RollsBack => {
            events.push(event(&id, v, "update_fail", Value::Null));
            running.to_string()
        }
        Fate::DownloadFails => unreachable!(),
    };
    send(server, events).await;
    after
}

/// Runs devices `0..n` once each from `running[i]`; returns what each runs after.
async fn round(
    server: &Server,
    running: &[String],
    fate: impl Fn(u64, &str) -> Fate + Copy,
) -> Vec<String> {
    use futures::stream::{self, StreamExt};
    let mut out: Vec<(usize, String)> = stream::iter(running.iter().enumerate())
        .map(|(i, r)| async move { (i, live(server, i as u64, r, |v| fate(i as u64, v)).await) })
        .buffer_unordered(16)
        .collect()
        .await;
    out.sort();
    out.into_iter().map(|(_, v)| v).collect()
}

/// An app on a clocked server: `production` serves 1.0.0, candidate 1.1.0,
/// and a rollout of it with `plan`.
async fn rollout(plan: Value) -> (Server, TestClock) {
    let clock = TestClock::now();
    let server = Server::start_clocked(&clock).await;
    server.with_app().await;
    server.bundle("1.0.1").await;
    server.bundle("1.1.0").await;
    server
        .set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let (status, r) = server
        .api(
            "POST",
            &format!("/apps/{APP}/channels/production/rollout"),
            Some(json!({"bundle": "1.1.0", "plan": plan})),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    // The runner's first evaluation (on no data). The clock stands still
    // until `later` turns it and the runner's lease allows one evaluation
    // per interval of that clock, so the gates next judge the fleet in
    // `later`, after the test's whole round.
    server.gates_evaluated().await;
    (server, clock)
}

async fn status(server: &Server) -> Value {
    server
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await
}

/// Lets the writer store what the fleet sent, turns the clock by `secs` and
/// waits for the runner to evaluate the gates; the rollout's status after.
async fn later(server: &Server, clock: &TestClock, secs: i64) -> Value {
    server.settle().await;
    clock.advance(secs * 1000);
    server.gates_evaluated().await;
    status(server).await
}

fn gated_step(percent: f64, action: &str) -> Value {
    json!({
        "percent": percent,
        "min_duration_secs": 600,
        "success": {"min_confirmed_rate": 0.9, "min_devices": 10},
        "failure_gates": [
            {"metric": "crash_rate", "threshold": 0.02, "action": action},
            {"metric": "failure_rate", "threshold": 0.02, "action": action}
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_candidate_advances_through_its_steps_and_is_promoted() {
    let (server, clock) =
        rollout(json!({"steps": [gated_step(20.0, "pause"), gated_step(100.0, "pause")]})).await;
    let fleet = vec!["builtin".to_string(); 200];
    let fleet = round(&server, &fleet, |_, _| Fate::Healthy(800)).await;
    let on = |f: &[String], v: &str| f.iter().filter(|x| *x == v).count();
    assert!(
        (25..=55).contains(&on(&fleet, "1.1.0")),
        "about 20 %: {}",
        on(&fleet, "1.1.0")
    );

    let s = later(&server, &clock, 60).await;
    assert_eq!(s["rollout"]["step"], 0, "10 minutes are not up: {s}");
    let check = &s["checks"][0];
    assert_eq!(check["outcome"], "none", "{check}");
    let s = later(&server, &clock, 600).await;
    assert_eq!(
        s["rollout"]["step"], 1,
        "advanced once time and the success gate passed: {s}"
    );
    assert_eq!(s["rollout"]["state"], "running", "{s}");

    let fleet = round(&server, &fleet, |_, _| Fate::Healthy(800)).await;
    assert_eq!(
        on(&fleet, "1.1.0"),
        200,
        "100 %: every device runs the candidate"
    );
    let s = later(&server, &clock, 660).await;
    assert_eq!(s["rollout"]["state"], "promoted", "{s}");
    let channel = server
        .ok("GET", &format!("/apps/{APP}/channels/production"), None)
        .await;
    assert_eq!(channel["bundle_version"], "1.1.0");
    let history = server
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/history"),
            None,
        )
        .await;
    assert_eq!(history[0]["bundle_version"], "1.1.0", "{history}");
}

/// What fleet member `i` runs.
fn runs(fleet: &[String], i: u64) -> &str {
    &fleet[usize::try_from(i).expect("a small fleet")]
}

/// Every fifth device that gets the candidate crashes with it.
fn crashing(i: u64, v: &str) -> Fate {
    if v == "1.1.0" && i.is_multiple_of(5) {
        Fate::Crashes
    } else {
        Fate::Healthy(800)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_that_crashes_on_a_fifth_of_devices_is_paused_in_its_step() {
    let (server, clock) =
        rollout(json!({"steps": [gated_step(30.0, "pause"), gated_step(100.0, "pause")]})).await;
    let fleet = round(&server, &vec!["builtin".to_string(); 300], crashing).await;
    let s = later(&server, &clock, 60).await;
    assert_eq!(s["rollout"]["state"], "paused", "{s}");
    assert_eq!(s["rollout"]["step"], 0, "it never left its step: {s}");
    let gate = s["checks"][0]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "crash_rate")
        .unwrap()
        .clone();
    assert_eq!(gate["status"], "fail", "{gate}");
    // Judged after the whole round: every candidate device that crashed counts.
    let crashed = (0..fleet.len())
        .filter(|&i| fleet[i] == "1.1.0" && i.is_multiple_of(5))
        .count() as u64;
    assert!(
        crashed >= 2,
        "the seed gives the gate crashes to see: {crashed}"
    );
    assert_eq!(s["candidate"]["crashed"], crashed, "{s}");
    assert_eq!(s["stable"]["crashed"], 0, "{s}");

    // Paused: no new device gets it, however long it waits.
    let later_fleet = round(&server, &fleet, crashing).await;
    assert_eq!(
        later_fleet.iter().filter(|v| *v == "1.1.0").count(),
        fleet.iter().filter(|v| *v == "1.1.0").count()
    );
    let s = later(&server, &clock, 3600).await;
    assert_eq!(
        (
            s["rollout"]["state"].as_str(),
            s["rollout"]["step"].as_u64()
        ),
        (Some("paused"), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_revert_action_devices_go_back_to_stable_and_report_it() {
    let (server, clock) =
        rollout(json!({"steps": [gated_step(30.0, "revert"), gated_step(100.0, "revert")]})).await;
    let fleet = round(&server, &vec!["builtin".to_string(); 300], crashing).await;
    let had = fleet.iter().filter(|v| *v == "1.1.0").count();
    assert!(had > 0);
    let s = later(&server, &clock, 60).await;
    assert_eq!(s["rollout"]["state"], "reverted", "{s}");
    let fleet = round(&server, &fleet, |_, _| Fate::Healthy(700)).await;
    assert!(
        fleet.iter().all(|v| v == "1.0.1"),
        "every device back on stable: {fleet:?}"
    );
    server.settle().await;
    let m = server
        .ok(
            "GET",
            &format!(
                "/apps/{APP}/metrics?bundle=1.0.1&since={}",
                now_ms() - 86_400_000
            ),
            None,
        )
        .await;
    assert!(
        m["stages"]["installed"].as_u64().unwrap() >= 300,
        "the stable bundle's installs include the reverted devices: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_failing_like_its_stable_is_not_paused() {
    // 1.5 % of every arm crashes.
    let (server, clock) = rollout(
        json!({"steps": [gated_step(50.0, "pause"), {"percent": 100}], "auto_promote": false}),
    )
    .await;
    let fleet = round(&server, &vec!["builtin".to_string(); 800], |i, _| {
        if i % 67 == 3 {
            Fate::Crashes
        } else {
            Fate::Healthy(800)
        }
    })
    .await;
    assert!(fleet.iter().any(|v| v == "1.1.0"));
    let s = later(&server, &clock, 700).await;
    assert_eq!(s["rollout"]["state"], "running", "{s}");
    assert_eq!(s["rollout"]["step"], 1, "it advanced: {s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_count_for_the_arm_the_server_resolved_and_the_funnel_adds_up() {
    let (server, _clock) =
        rollout(json!({"steps": [{"percent": 50}], "auto_advance": false, "auto_promote": false}))
            .await;
    // A fleet with injected failures: by device, a download failure, a
    // rollback, a crash, or a healthy launch.
    let fate = |i: u64, _: &str| match i % 10 {
        0 => Fate::DownloadFails,
        1 => Fate::RollsBack,
        2 => Fate::Crashes,
        _ => Fate::Healthy(500 + i * 3),
    };
    let fleet = round(&server, &vec!["builtin".to_string(); 200], fate).await;
    // Devices the server keeps on stable claim to run the candidate and
    // report crashes of it: none of it counts for the candidate arm.
    let stable_arm: Vec<u64> = (0..200u64)
        .filter(|i| runs(&fleet, *i) == "1.0.1" && i % 10 > 2)
        .take(5)
        .collect();
    for i in &stable_arm {
        let id = device(*i);
        send(
            &server,
            vec![
                event(&id, "1.1.0", "set", Value::Null),
                event(&id, "1.1.0", "app_crash", Value::Null),
            ],
        )
        .await;
    }
    server.settle().await;
    let s = status(&server).await;
    let m = server
        .ok(
            "GET",
            &format!(
                "/apps/{APP}/metrics?channel=production&since={}",
                now_ms() - 86_400_000
            ),
            None,
        )
        .await;
    assert_eq!(
        m["bundle"], "1.1.0",
        "a channel measures its candidate: {m}"
    );
    let f = &m["funnel"];
    let sum: u64 = [
        "offered",
        "downloading",
        "downloaded",
        "installed",
        "ready",
        "rolled_back",
        "failed",
    ]
    .iter()
    .map(|k| f[k].as_u64().unwrap())
    .sum();
    assert_eq!(
        sum,
        m["total"].as_u64().unwrap(),
        "every device in exactly one final state: {m}"
    );
    let candidate_devices = s["candidate"]["devices"].as_u64().unwrap();
    assert_eq!(
        s["candidate"]["crashed"].as_u64().unwrap(),
        (0..200u64)
            .filter(|i| i % 10 == 2 && runs(&fleet, *i) == "1.1.0")
            .count() as u64,
        "only crashes of devices the server put on the candidate count: {s}"
    );
    assert!(candidate_devices > 0 && candidate_devices < 200, "{s}");
    assert_eq!(m["stages"]["rolled_back"], f["rolled_back"], "{m}");
    assert!(m["failure_rate"].as_f64().unwrap() > 0.0, "{m}");
    assert!(m["launch_p90_ms"].as_u64().is_some(), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_the_rollout_bucket_and_arm() {
    let (server, _clock) =
        rollout(json!({"steps": [{"percent": 50}], "auto_advance": false, "auto_promote": false}))
            .await;
    let mut lines = Vec::new();
    for i in [1u64, 2, 3] {
        server.check(json!({"device_id": device(i)})).await;
        server.settle().await;
        let e = server
            .ok(
                "GET",
                &format!("/apps/{APP}/devices/{}/explain", device(i)),
                None,
            )
            .await;
        lines.push(json!({"outcome": e["outcome"], "channel": e["channel"], "trace": e["trace"]}));
    }
    insta::assert_json_snapshot!(lines);
    let (status, v) = server
        .api(
            "GET",
            &format!("/apps/{APP}/devices/{}/explain", device(99)),
            None,
        )
        .await;
    assert_eq!(
        status, 404,
        "a device never seen has nothing to explain: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_gate_tells_once_per_step_and_does_not_stop_the_rollout() {
    let (server, clock) = rollout(json!({"steps": [
        {"percent": 50, "min_duration_secs": 600, "failure_gates": [
            {"metric": "error_rate", "threshold": 0.005, "action": "alert"}
        ]},
        {"percent": 100}
    ], "auto_promote": false}))
    .await;
    let fleet = round(&server, &vec!["builtin".to_string(); 200], |_, _| {
        Fate::Healthy(800)
    })
    .await;
    // Every third device on the candidate reports a JavaScript error.
    let errors: Vec<Value> = (0..200u64)
        .filter(|i| runs(&fleet, *i) == "1.1.0" && i.is_multiple_of(3))
        .map(|i| {
            event(
                &device(i),
                "1.1.0",
                "webview_javascript_error",
                json!({"message": "boom"}),
            )
        })
        .collect();
    assert!(errors.len() >= 20, "{}", errors.len());
    send(&server, errors).await;
    for _ in 0..3 {
        let s = later(&server, &clock, 60).await;
        assert_eq!(s["checks"][0]["outcome"], "alert", "{s}");
        assert_eq!(s["rollout"]["state"], "running", "{s}");
    }
    let changes = server
        .ok("GET", &format!("/apps/{APP}/changes?limit=1000"), None)
        .await;
    let alerts = changes["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "rollout.alert")
        .count();
    assert_eq!(alerts, 1, "one alert for the step: {changes}");
}
