//! Stats events as history (issue #9 item 7): an event only changes what it
//! describes, is dated by the device's own timestamp when that is plausible,
//! and is deleted once older than the retention setting.

use std::time::Duration;

use serde_json::{json, Value};
use updraft_server::clock::{Clock, TestClock};
use updraft_server::now_ms;
use updraft_test_support::*;

async fn running(s: &Server) -> Value {
    s.settle().await;
    s.ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await["version_name"]
        .clone()
}

async fn stats(s: &Server, events: Value) {
    let (st, v) = s.device("POST", "/stats", &events).await;
    assert_eq!(st, 200, "{v}");
    for r in v["results"].as_array().into_iter().flatten() {
        assert_eq!(r["status"], "ok", "{v}");
    }
}

fn ev(action: &str, version: &str) -> Value {
    info(json!({"action": action, "version_name": version, "old_version_name": "1.0.0"}))
}

#[tokio::test]
async fn only_events_about_the_running_bundle_move_the_device_row() {
    let s = Server::start().await;
    s.with_app().await;
    stats(&s, json!([ev("set", "1.0.0")])).await;
    assert_eq!(running(&s).await, "1.0.0");
    // Every one of these names another bundle than the one running.
    stats(
        &s,
        json!([
            ev("download_zip_start", "1.0.2"),
            ev("download_10", "1.0.2"),
            ev("download_complete", "1.0.2"),
            ev("download_zip_complete", "1.0.2"),
            ev("set_next", "1.0.2"),
            ev("delete", "0.9.0"),
            ev("brand_new_action", "7.7.7"),
            ev("checksum_required", "1.0.2"),
        ]),
    )
    .await;
    // A single object (the Android download worker) too.
    stats(&s, ev("download_manifest_complete", "1.0.2")).await;
    assert_eq!(running(&s).await, "1.0.0", "still what the device runs");
    stats(&s, json!([ev("set", "1.0.2")])).await;
    assert_eq!(running(&s).await, "1.0.2");
    stats(&s, json!([ev("app_moved_to_foreground", "1.0.2")])).await;
    assert_eq!(running(&s).await, "1.0.2");
}

#[tokio::test]
async fn events_are_dated_by_their_own_timestamp_within_a_window() {
    let s = Server::start().await;
    s.with_app().await;
    let hour_ago = now_ms() - 3_600_000;
    let before = now_ms();
    stats(
        &s,
        json!([
            info(json!({"action": "a_past", "timestamp": hour_ago})),
            info(json!({"action": "a_future", "timestamp": now_ms() + 86_400_000})),
            info(json!({"action": "a_ancient", "timestamp": 1_000})),
            info(json!({"action": "a_none"})),
        ]),
    )
    .await;
    s.settle().await;
    let events = s
        .ok("GET", &format!("/apps/{APP}/events?device_id={DEV}"), None)
        .await;
    let at = |action: &str| {
        events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == action)
            .unwrap()["created_at"]
            .as_i64()
            .unwrap()
    };
    let after = now_ms();
    assert_eq!(at("a_past"), hour_ago, "the device's own time");
    for action in ["a_future", "a_ancient", "a_none"] {
        let t = at(action);
        assert!(before <= t && t <= after, "{action}: server time, got {t}");
    }
    // A late `set` (an hour old) does not undo what a newer check reported.
    s.check(json!({"version_name": "1.0.5"})).await;
    s.settle().await;
    stats(
        &s,
        json!([info(
            json!({"action": "set", "version_name": "1.0.4", "timestamp": hour_ago})
        )]),
    )
    .await;
    assert_eq!(running(&s).await, "1.0.5");
}

/// A server whose clock is `clock` and whose events are kept `days` days.
async fn with_clock(clock: &TestClock, days: u64) -> Server {
    let storage = Storage::new(Backend::Sqlite).await;
    let mut c = storage.config();
    c.telemetry.event_retention_days = days;
    let runtime = updraft_server::Runtime {
        clock: std::sync::Arc::new(clock.clone()),
        ..Default::default()
    };
    let mut s = Server::start_runtime(c, runtime).await;
    s.keep(storage);
    s
}

/// Waits for the retention job's first run (it runs at start).
async fn first_retention_run(s: &Server) {
    let mut runs = s.retention_runs();
    tokio::time::timeout(Duration::from_secs(10), runs.wait_for(|n| *n >= 1))
        .await
        .expect("the retention job runs at start")
        .expect("the server runs");
}

#[tokio::test]
async fn events_older_than_the_retention_are_pruned() {
    let clock = TestClock::now();
    let mut s = with_clock(&clock, 1).await;
    s.with_app().await;
    let start = clock.now_ms();
    stats(&s, json!([info(json!({"action": "old"}))])).await;
    clock.advance(2 * 86_400_000);
    stats(&s, json!([info(json!({"action": "new"}))])).await;
    // The job runs at start (and hourly), by the clock: two days later, the
    // old event goes and the new one stays. Stopping flushes both.
    s.restart().await;
    first_retention_run(&s).await;
    assert_eq!(s.event_actions(DEV).await, ["new"]);
    let events = s
        .ok("GET", &format!("/apps/{APP}/events?device_id={DEV}"), None)
        .await;
    assert_eq!(events[0]["created_at"], start + 2 * 86_400_000);
}

#[tokio::test]
async fn retention_zero_keeps_events_forever() {
    let clock = TestClock::now();
    let mut s = with_clock(&clock, 0).await;
    s.with_app().await;
    stats(&s, json!([info(json!({"action": "old"}))])).await;
    clock.advance(400 * 86_400_000);
    s.restart().await;
    first_retention_run(&s).await;
    assert_eq!(s.event_actions(DEV).await, ["old"]);
}
