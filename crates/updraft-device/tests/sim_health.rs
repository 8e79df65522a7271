//! `updraft-sim`'s per-version injections against the real server: launch
//! times, crashes and JavaScript errors arrive as the plugin sends them, and
//! the summary's per-version device counts match the events the server
//! stored.

mod fleet;

use std::collections::BTreeSet;

use fleet::sim;
use serde_json::Value;
use updraft_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_crashes_errors_and_launch_times_reach_the_server() {
    let server = Server::start().await;
    server.with_app().await;
    server.publish("1.0.1").await;
    let dir = tempfile::tempdir().unwrap();
    let s = sim(
        &server,
        dir.path(),
        &[
            "-n",
            "60",
            "--rounds",
            "2",
            "--never-confirm",
            "0.25",
            "--app-ready-timeout-ms",
            "200",
            "--crash",
            "1.0.1=20%",
            "--js-error",
            "1.0.1=0.1",
            "--launch-ms",
            "1.0.1=1500",
            "--launch-ms",
            "*=700",
            "--seed",
            "3",
            "--concurrency",
            "16",
        ],
    )
    .await;
    let v = &s["per_version"];
    let n = |version: &str, k: &str| v[version][k].as_u64().unwrap();
    let confirmed = n("1.0.1", "confirmed");
    let rolled_back = n("1.0.1", "rolled_back");
    assert_eq!(n("1.0.1", "installed"), 60, "{s}");
    assert_eq!(confirmed + rolled_back, 60, "{s}");
    assert!(rolled_back > 0 && confirmed > 0, "{s}");
    assert_eq!(n("1.0.1", "running"), confirmed, "{s}");
    assert_eq!(n("1.0.0", "running"), rolled_back, "{s}");
    let crashed = n("1.0.1", "crashed");
    let js_errors = n("1.0.1", "js_errors");
    assert!(crashed > 0 && crashed < confirmed, "about 20 %: {s}");
    assert!(js_errors < confirmed, "{s}");
    assert_eq!(n("1.0.0", "crashed"), 0, "only 1.0.1 crashes: {s}");
    // Every crashing device crashes in each of the two rounds it runs 1.0.1.
    assert_eq!(s["crashes"].as_u64().unwrap(), 2 * crashed, "{s}");

    server.settle().await;
    // One crash report per crashing device and round, with Android's or iOS's
    // exit report, all about 1.0.1, from exactly the devices the summary counts.
    let crashes = events(&server, "app_crash").await;
    assert_eq!(crashes.len() as u64, 2 * crashed, "{crashes:?}");
    assert!(crashes.iter().all(|e| e["version_name"] == "1.0.1"));
    for e in &crashes {
        let reason = metadata(e)["exit_reason"].clone();
        assert!(
            reason == "crash" || reason == "unclean_foreground_exit",
            "{e}"
        );
    }
    assert_eq!(devices(&crashes).len() as u64, crashed);
    let errors = events(&server, "webview_javascript_error").await;
    assert_eq!(devices(&errors).len() as u64, js_errors);
    assert!(errors.iter().all(|e| metadata(e)["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty())));

    // Every start reports its launch: 1.0.1 at 1500 ms, the builtin bundle the
    // rolled-back devices went back to at the default 700 ms.
    let launches = events(&server, "app_launch_ready").await;
    assert_eq!(launches.len(), 120, "one per device and round");
    for e in &launches {
        let want = if e["version_name"] == "1.0.1" {
            "1500"
        } else {
            "700"
        };
        assert_eq!(metadata(e)["duration_ms"], want, "{e}");
    }
    let on = |version: &str| {
        launches
            .iter()
            .filter(|e| e["version_name"] == version)
            .count() as u64
    };
    assert_eq!(on("1.0.1"), 2 * confirmed);
    assert_eq!(on("1.0.0"), 2 * rolled_back);
}

/// The app's stored events with `action` (at most 1000).
async fn events(server: &Server, action: &str) -> Vec<Value> {
    let page = server
        .ok(
            "GET",
            &format!("/apps/{APP}/events?action={action}&limit=1000"),
            None,
        )
        .await;
    page.as_array().unwrap().clone()
}

/// An event's metadata object (the API may return it as JSON text).
fn metadata(e: &Value) -> Value {
    match &e["metadata"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    }
}

/// The devices that sent `events`.
fn devices(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["device_id"].as_str().unwrap().to_string())
        .collect()
}
