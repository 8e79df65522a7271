//! Stats events as history (issue #9 item 7): an event only changes what it
//! describes, is dated by the device's own timestamp when that is plausible,
//! and is deleted once older than the retention setting.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

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

#[tokio::test]
async fn events_older_than_the_retention_are_pruned() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = config(tmp.path());
    c.event_retention_days = 1;
    let mut s = Server::start_with(c.clone()).await;
    s.with_app().await;
    let two_days_ago = now_ms() - 2 * 86_400_000;
    stats(
        &s,
        json!([
            info(json!({"action": "old", "timestamp": two_days_ago})),
            info(json!({"action": "new"})),
        ]),
    )
    .await;
    s.settle().await;
    let stored = s
        .ok("GET", &format!("/apps/{APP}/events?device_id={DEV}"), None)
        .await;
    assert_eq!(stored[1]["action"], "old", "{stored}");
    assert_eq!(stored[1]["created_at"], two_days_ago, "{stored}");
    s.stop().await;
    // The job runs at start (and hourly): the old event goes, the new stays.
    let s = Server::start_with(c).await;
    let mut actions = Vec::new();
    for _ in 0..50 {
        let events = s
            .ok("GET", &format!("/apps/{APP}/events?device_id={DEV}"), None)
            .await;
        actions = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect();
        if actions == ["new"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(actions, ["new"]);
}

#[tokio::test]
async fn retention_zero_keeps_events_forever() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = config(tmp.path());
    c.event_retention_days = 0;
    let mut s = Server::start_with(c.clone()).await;
    s.with_app().await;
    let ancient = now_ms() - 29 * 86_400_000;
    stats(
        &s,
        json!([info(json!({"action": "old", "timestamp": ancient}))]),
    )
    .await;
    s.stop().await;
    let s = Server::start_with(c).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = s
        .ok("GET", &format!("/apps/{APP}/events?device_id={DEV}"), None)
        .await;
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
}
