//! Scheduled deploys on two nodes sharing PostgreSQL, their clock driven by
//! the test: nothing runs before the window opens; when it opens the deploy
//! runs once (one deploy in the history, one `deploy.executed`), a cancelled
//! schedule never runs, one whose bundle was revoked meanwhile fails with
//! the reason, and a rollout can be started at a time.

use serde_json::{json, Value};
use updraft_server::clock::TestClock;
use updraft_test_support::*;

/// Monday 2026-12-07 00:00 UTC (01:00 in Paris).
const MONDAY: i64 = 1_796_601_600_000;
const MIN: i64 = 60_000;

async fn node(storage: &Storage, clock: &TestClock) -> Server {
    Server::start_clocked_over(storage, clock).await
}

async fn changes_of(s: &Server, kind: &str) -> Vec<Value> {
    let all = s
        .ok("GET", &format!("/apps/{APP}/changes?limit=200"), None)
        .await;
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == kind)
        .cloned()
        .collect()
}

async fn schedules(s: &Server) -> Vec<Value> {
    s.ok("GET", &format!("/apps/{APP}/schedules"), None)
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_opens_and_the_deploy_runs_once_across_two_nodes() {
    let storage = Storage::new(Backend::Postgres).await;
    let clock = TestClock::at(MONDAY);
    let a = node(&storage, &clock).await;
    let b = node(&storage, &clock).await;
    a.with_app().await;
    for v in ["1.0.1", "1.0.2", "1.0.3"] {
        a.bundle(v).await;
    }
    a.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    a.add_channel(json!({"name": "beta"})).await;
    let window = json!({"days": ["mon", "tue", "wed", "thu", "fri"], "start": "03:00", "end": "05:00", "time_zone": "Europe/Paris"});
    let path = format!("/apps/{APP}/schedules");
    let nightly = a
        .ok(
            "POST",
            &path,
            Some(json!({"channel": "production", "action": "deploy", "bundle": "1.0.2", "window": window, "note": "off-peak"})),
        )
        .await;
    assert_eq!(nightly["state"], "pending", "{nightly}");
    assert_eq!(
        nightly["next_run_at"],
        MONDAY + 120 * MIN,
        "03:00 in Paris is 02:00 UTC: {nightly}"
    );
    let revoked_later = a
        .ok(
            "POST",
            &path,
            Some(json!({"channel": "production", "action": "deploy", "bundle": "1.0.3", "window": window})),
        )
        .await;
    let cancelled = a
        .ok(
            "POST",
            &path,
            Some(json!({"channel": "beta", "action": "deploy", "bundle": "1.0.2", "at_ms": MONDAY + 30 * MIN})),
        )
        .await;
    let id = cancelled["id"].as_i64().unwrap();
    let c = b.ok("POST", &format!("{path}/{id}/cancel"), None).await;
    assert_eq!(c["state"], "cancelled", "{c}");
    let (st, again) = a.api("POST", &format!("{path}/{id}/cancel"), None).await;
    assert_eq!(st, 409, "{again}");
    a.ok(
        "POST",
        &format!("/apps/{APP}/bundles/1.0.3/revoke"),
        Some(json!({"reason": "bad build"})),
    )
    .await;

    // Before the window: both nodes pass, nothing runs.
    clock.set(MONDAY + 90 * MIN);
    a.gates_evaluated().await;
    b.gates_evaluated().await;
    let production = a
        .ok("GET", &format!("/apps/{APP}/channels/production"), None)
        .await;
    assert_eq!(production["bundle_version"], "1.0.1");
    assert!(changes_of(&a, "deploy.executed").await.is_empty());

    // The window opens: the deploy runs once, on one node.
    clock.set(MONDAY + 121 * MIN);
    for _ in 0..3 {
        a.gates_evaluated().await;
        b.gates_evaluated().await;
    }
    let production = b
        .ok("GET", &format!("/apps/{APP}/channels/production"), None)
        .await;
    assert_eq!(production["bundle_version"], "1.0.2");
    let executed = changes_of(&a, "deploy.executed").await;
    assert_eq!(executed.len(), 1, "{executed:?}");
    assert_eq!(executed[0]["actor"], format!("schedule:{}", nightly["id"]));
    let history = a
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/history"),
            None,
        )
        .await;
    let deploys_of_102 = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["bundle_version"] == "1.0.2")
        .count();
    assert_eq!(deploys_of_102, 1, "{history}");
    let listed = schedules(&a).await;
    let state_of = |id: &Value| {
        listed
            .iter()
            .find(|s| s["id"] == *id)
            .map(|s| (s["state"].clone(), s["error"].clone()))
            .unwrap()
    };
    assert_eq!(state_of(&nightly["id"]).0, "executed");
    assert_eq!(state_of(&cancelled["id"]).0, "cancelled");
    let (state, error) = state_of(&revoked_later["id"]);
    assert_eq!(state, "failed");
    assert!(error.as_str().unwrap().contains("revoked"), "{error}");
    assert_eq!(changes_of(&a, "deploy.failed").await.len(), 1);
    let beta = a
        .ok("GET", &format!("/apps/{APP}/channels/beta"), None)
        .await;
    assert_eq!(
        beta["bundle_version"], "builtin",
        "the cancelled one never ran"
    );

    // A rollout started at a time.
    let start = a
        .ok(
            "POST",
            &path,
            Some(
                json!({"channel": "production", "action": "start_rollout", "bundle": "1.0.1",
                "at_ms": MONDAY + 200 * MIN,
                "plan": {"steps": [{"percent": 10}, {"percent": 100}], "auto_advance": false}}),
            ),
        )
        .await;
    a.ok(
        "POST",
        &path,
        Some(json!({"channel": "production", "action": "advance_rollout", "at_ms": MONDAY + 300 * MIN})),
    )
    .await;
    clock.set(MONDAY + 201 * MIN);
    a.gates_evaluated().await;
    b.gates_evaluated().await;
    let r = a
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(
        (
            r["rollout"]["state"].as_str(),
            r["rollout"]["step"].as_i64()
        ),
        (Some("running"), Some(0)),
        "{r}"
    );
    clock.set(MONDAY + 301 * MIN);
    a.gates_evaluated().await;
    b.gates_evaluated().await;
    let r = b
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(r["rollout"]["step"], 1, "advanced once: {r}");
    assert_eq!(changes_of(&a, "rollout.advanced").await.len(), 1);
    assert!(
        schedules(&a).await.iter().all(|s| s["state"] != "pending"),
        "{start}"
    );
}

#[tokio::test]
async fn bad_schedules_are_refused_and_nothing_is_stored() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    let path = format!("/apps/{APP}/schedules");
    for (body, code, says) in [
        (
            json!({"channel": "production", "action": "deploy"}),
            "invalid_schedule",
            "needs the bundle",
        ),
        (
            json!({"channel": "production", "action": "advance_rollout", "bundle": "1.0.1"}),
            "invalid_schedule",
            "takes no bundle",
        ),
        (
            json!({"channel": "production", "action": "deploy", "bundle": "1.0.1", "plan": {"steps": [{"percent": 5}]}}),
            "invalid_schedule",
            "only start_rollout",
        ),
        (
            json!({"channel": "production", "action": "deploy", "bundle": "1.0.1",
            "window": {"days": ["mon"], "start": "02:00", "end": "05:00", "time_zone": "Europe/Pariss"}}),
            "invalid_schedule",
            "IANA",
        ),
        (
            json!({"channel": "production", "action": "deploy", "bundle": "1.0.1",
            "window": {"days": ["someday"], "start": "02:00", "end": "05:00", "time_zone": "UTC"}}),
            "invalid_schedule",
            "not one of mon",
        ),
        (
            json!({"channel": "production", "action": "deploy", "bundle": "9.9.9"}),
            "unknown_bundle",
            "9.9.9",
        ),
        (
            json!({"channel": "nope", "action": "deploy", "bundle": "1.0.1"}),
            "unknown_channel",
            "nope",
        ),
        (
            json!({"channel": "production", "action": "deploy", "bundle": "1.0.1", "at_ms": 99_999_999_999_999_i64}),
            "invalid_schedule",
            "two years",
        ),
    ] {
        let (st, v) = s.api("POST", &path, Some(body.clone())).await;
        assert_eq!((st, v["error"].as_str()), (400, Some(code)), "{body}: {v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    assert_eq!(s.ok("GET", &path, None).await, json!([]));
    let (st, v) = s.api("POST", &format!("{path}/99/cancel"), None).await;
    assert_eq!(st, 404, "{v}");
}
