//! Staged rollouts through the API and `/updates`: starting one (and what is
//! refused), who gets the candidate (10,000 devices at 10 %, raising the
//! percentage only adds devices), stickiness, pause, revert and promote,
//! and two nodes on one PostgreSQL database agreeing on every device.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use updraft_test_support::*;

/// The device id of fleet member `i`.
fn device(i: u64) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// An app whose public `production` channel serves 1.0.0, with a candidate
/// 1.1.0 uploaded beside it.
async fn stable_and_candidate(server: &Server) {
    server.with_app().await;
    server.bundle("1.0.1").await;
    server.bundle("1.1.0").await;
    server
        .set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
}

/// A plan of fixed steps, no gates, advanced only by hand.
fn manual_plan(percents: &[f64]) -> Value {
    json!({
        "steps": percents.iter().map(|p| json!({"percent": p})).collect::<Vec<_>>(),
        "auto_advance": false,
        "auto_promote": false,
    })
}

async fn start(server: &Server, body: Value) -> (u16, Value) {
    server
        .api(
            "POST",
            &format!("/apps/{APP}/channels/production/rollout"),
            Some(body),
        )
        .await
}

async fn act(server: &Server, action: &str) -> (u16, Value) {
    server
        .api(
            "POST",
            &format!("/apps/{APP}/channels/production/rollout/{action}"),
            Some(json!({"reason": format!("test {action}")})),
        )
        .await
}

/// The version `/updates` offers device `id` running `running`, or the
/// reply's error code.
async fn offered(server: &Server, id: &str, running: &str) -> String {
    let v = server
        .check(json!({"device_id": id, "version_name": running}))
        .await;
    match v["version"].as_str() {
        Some(version) if v.get("url").is_some() => version.to_string(),
        _ => v["error"].as_str().unwrap_or("?").to_string(),
    }
}

/// Device indexes `0..n` that `/updates` offers the candidate, 16 at a time.
async fn candidates(server: &Server, n: u64) -> BTreeSet<u64> {
    stream::iter(0..n)
        .map(|i| async move { (i, offered(server, &device(i), "builtin").await) })
        .buffer_unordered(16)
        .filter_map(|(i, v)| async move {
            assert!(v == "1.1.0" || v == "1.0.1", "device {i} got {v}");
            (v == "1.1.0").then_some(i)
        })
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_a_rollout_checks_its_input_and_allows_one_per_channel() {
    let server = Server::start().await;
    stable_and_candidate(&server).await;

    let (status, v) = start(&server, json!({"bundle": "1.0.1"})).await;
    assert_eq!(status, 400, "the channel's own bundle is no candidate: {v}");
    let (status, v) = start(&server, json!({"bundle": "9.9.9"})).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unknown_bundle")),
        "{v}"
    );
    let (status, v) = start(
        &server,
        json!({"bundle": "1.1.0", "plan": {"steps": [{"percent": 50}, {"percent": 10}]}}),
    )
    .await;
    assert_eq!(status, 400, "a plan may not take devices back: {v}");
    assert_eq!(v["error"], "invalid_plan", "{v}");
    let (status, v) = start(
        &server,
        json!({"bundle": "1.1.0", "plan": {"steps": [{"percent": 150}]}}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = server
        .api(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(status, 404, "nothing was started by a refused call: {v}");

    // A read key may watch, not start.
    let read = server
        .ok(
            "POST",
            "/keys",
            Some(json!({"name": "watcher", "mode": "read"})),
        )
        .await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = server
        .api_as(
            &read,
            "POST",
            &format!("/apps/{APP}/channels/production/rollout"),
            Some(json!({"bundle": "1.1.0"})),
        )
        .await;
    assert_eq!(status, 403);

    let (status, r) = start(&server, json!({"bundle": "1.1.0"})).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["state"], "running");
    assert_eq!(r["step"], 0);
    assert_eq!(
        r["plan"]["steps"].as_array().unwrap().len(),
        4,
        "the default plan: {r}"
    );
    let (status, v) = start(&server, json!({"bundle": "1.1.0"})).await;
    assert_eq!(status, 409, "one active rollout per channel: {v}");

    let (status, s) = server
        .api_as(
            &read,
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["percent_now"], 1.0, "{s}");
    assert_eq!(s["stable_version"], "1.0.1", "{s}");
    let list = server
        .ok("GET", &format!("/apps/{APP}/rollouts"), None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let kinds: Vec<String> = server
        .ok("GET", &format!("/apps/{APP}/changes"), None)
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "rollout.started").count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_of_ten_thousand_devices_and_raising_it_only_adds_devices() {
    let server = Server::start().await;
    stable_and_candidate(&server).await;
    let (status, r) = start(
        &server,
        json!({"bundle": "1.1.0", "plan": manual_plan(&[10.0, 20.0])}),
    )
    .await;
    assert_eq!(status, 201, "{r}");

    let first = candidates(&server, 10_000).await;
    assert!(
        (900..=1100).contains(&first.len()),
        "{} of 10,000 devices got the candidate at 10 %",
        first.len()
    );

    let (status, r) = act(&server, "advance").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["step"], 1);
    let second = candidates(&server, 10_000).await;
    assert!(
        (1800..=2200).contains(&second.len()),
        "{} of 10,000 devices got the candidate at 20 %",
        second.len()
    );
    let lost: Vec<_> = first.difference(&second).collect();
    assert!(
        lost.is_empty(),
        "raising to 20 % took the candidate from {} devices",
        lost.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_on_the_candidate_keeps_it_through_a_pause_and_goes_back_on_revert() {
    let server = Server::start().await;
    stable_and_candidate(&server).await;
    start(
        &server,
        json!({"bundle": "1.1.0", "plan": manual_plan(&[50.0, 100.0])}),
    )
    .await;
    let chosen = candidates(&server, 200).await;
    let inside = device(*chosen.iter().next().expect("some device at 50 %"));
    let outside = device((0..200).find(|i| !chosen.contains(i)).unwrap());

    let (status, r) = act(&server, "pause").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["state"], "paused");
    assert_eq!(r["reason"], "test pause");
    let (status, _) = act(&server, "pause").await;
    assert_eq!(status, 409, "already paused");
    // Paused: a device in the bucket that is not on the candidate yet gets
    // the stable bundle; a device running the candidate stays on it.
    assert_eq!(offered(&server, &inside, "builtin").await, "1.0.1");
    assert_eq!(
        offered(&server, &inside, "1.1.0").await,
        "no_new_version_available"
    );
    assert_eq!(
        offered(&server, &outside, "1.0.1").await,
        "no_new_version_available"
    );

    let (status, r) = act(&server, "resume").await;
    assert_eq!((status, r["state"].as_str()), (200, Some("running")), "{r}");
    assert_eq!(offered(&server, &inside, "builtin").await, "1.1.0");

    let (status, r) = act(&server, "revert").await;
    assert_eq!(
        (status, r["state"].as_str()),
        (200, Some("reverted")),
        "{r}"
    );
    assert_eq!(
        offered(&server, &inside, "1.1.0").await,
        "1.0.1",
        "reverted: the device goes back to stable"
    );
    let (status, v) = act(&server, "resume").await;
    assert_eq!(status, 409, "an ended rollout takes no action: {v}");
    assert!(v["message"].as_str().unwrap().contains("reverted"), "{v}");
    let (status, r) = start(&server, json!({"bundle": "1.1.0"})).await;
    assert_eq!(status, 201, "a new rollout may start after one ended: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promoting_makes_the_candidate_the_channels_bundle_in_its_history() {
    let server = Server::start().await;
    stable_and_candidate(&server).await;
    start(
        &server,
        json!({"bundle": "1.1.0", "plan": manual_plan(&[5.0])}),
    )
    .await;
    let (status, r) = act(&server, "promote").await;
    assert_eq!(
        (status, r["state"].as_str()),
        (200, Some("promoted")),
        "{r}"
    );
    let channel = server
        .ok("GET", &format!("/apps/{APP}/channels/production"), None)
        .await;
    assert_eq!(channel["bundle_version"], "1.1.0", "{channel}");
    let history = server
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/history"),
            None,
        )
        .await;
    assert_eq!(history[0]["bundle_version"], "1.1.0", "{history}");
    assert_eq!(offered(&server, &device(7), "1.0.1").await, "1.1.0");
    let s = server
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(s["rollout"]["state"], "promoted", "{s}");
    assert_eq!(s["percent_now"], 100.0, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cohort_gets_the_candidate_before_any_percentage() {
    let server = Server::start().await;
    stable_and_candidate(&server).await;
    let qa = device(424_242);
    start(
        &server,
        json!({"bundle": "1.1.0", "plan": {"steps": [
            {"percent": 0, "cohort": {"name": "qa", "device_ids": [qa.to_uppercase()], "custom_ids": ["tester-1"]}},
            {"percent": 10}
        ], "auto_advance": false}}),
    )
    .await;
    assert_eq!(offered(&server, &qa, "builtin").await, "1.1.0");
    let by_custom = server
        .check(json!({"device_id": device(5), "custom_id": "tester-1"}))
        .await;
    assert_eq!(by_custom["version"], "1.1.0", "{by_custom}");
    assert!(
        candidates(&server, 300).await.is_empty(),
        "0 % outside the cohort"
    );
}

async fn status_on(s: &Server) -> (u16, Value) {
    s.api(
        "GET",
        &format!("/apps/{APP}/channels/production/rollout"),
        None,
    )
    .await
}

/// Two nodes on one PostgreSQL database answer every device alike, evaluate
/// each rollout's gates once per interval between them, and a rollout paused
/// on one is paused on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_database_agree_and_evaluate_gates_once() {
    use std::time::Duration;
    let storage = Storage::new(Backend::Postgres).await;
    let clock = updraft_server::clock::TestClock::now();
    let mut a = Server::start_clocked_over(&storage, &clock).await;
    let b = Server::start_clocked_over(&storage, &clock).await;
    stable_and_candidate(&a).await;
    let plan = json!({"steps": [
        {"percent": 30, "min_duration_secs": 3600,
         "failure_gates": [{"metric": "crash_rate", "threshold": 0.05, "action": "pause"}]},
        {"percent": 60}
    ]});
    let (status, r) = start(&a, json!({"bundle": "1.1.0", "plan": plan})).await;
    assert_eq!(status, 201, "{r}");
    let from_a = candidates(&a, 400).await;
    assert!(!from_a.is_empty());
    // Node b learns of the rollout from the change log (NOTIFY, or its poll).
    let from_b = poll_until(
        Duration::from_secs(10),
        || candidates(&b, 400),
        |c| *c == from_a,
    )
    .await;
    assert_eq!(
        from_a, from_b,
        "both nodes put the same devices on the candidate"
    );

    // The clock stands still: however many passes both runners make, the
    // rollout is evaluated once; each step of the clock allows one more.
    for expected in 1..=3 {
        a.gates_evaluated().await;
        b.gates_evaluated().await;
        a.gates_evaluated().await;
        let (_, s) = status_on(&a).await;
        assert_eq!(
            s["checks"].as_array().unwrap().len(),
            expected,
            "one evaluation per interval across both nodes: {s}"
        );
        clock.advance(1_000);
    }

    act(&a, "pause").await;
    let inside = device(*from_a.iter().next().unwrap());
    let after = poll_until(
        Duration::from_secs(10),
        || offered(&b, &inside, "builtin"),
        |v| v == "1.0.1",
    )
    .await;
    assert_eq!(after, "1.0.1", "node b learnt of the pause");
    a.keep(storage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_continues_a_rollout_where_it_was() {
    let mut server = Server::start().await;
    stable_and_candidate(&server).await;
    start(
        &server,
        json!({"bundle": "1.1.0", "plan": manual_plan(&[10.0, 40.0, 100.0])}),
    )
    .await;
    act(&server, "advance").await;
    let before = candidates(&server, 300).await;
    let status_before = server
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    server.restart().await;
    let status_after = server
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(status_after["rollout"], status_before["rollout"]);
    assert_eq!(candidates(&server, 300).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_refuse_a_bad_window_or_release_with_a_precise_error() {
    let server = Server::start().await;
    stable_and_candidate(&server).await;
    for (query, code) in [
        ("", "invalid_query_parameters"),
        (
            "bundle=1.0.1&channel=production",
            "invalid_query_parameters",
        ),
        (
            "bundle=1.0.1&since=-9223372036854775808&until=0",
            "invalid_window",
        ),
        ("bundle=1.0.1&since=10&until=10", "invalid_window"),
        (
            "bundle=1.0.1&since=0&until=9223372036854775807",
            "invalid_window",
        ),
    ] {
        let (status, v) = server
            .api("GET", &format!("/apps/{APP}/metrics?{query}"), None)
            .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (400, Some(code)),
            "{query}: {v}"
        );
    }
    let (status, v) = server
        .api("GET", &format!("/apps/{APP}/metrics?bundle=9.9.9"), None)
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unknown_bundle")),
        "{v}"
    );
    let (status, v) = server
        .api("GET", &format!("/apps/{APP}/metrics?channel=nope"), None)
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unknown_channel")),
        "{v}"
    );
    let m = server
        .ok(
            "GET",
            &format!("/apps/{APP}/metrics?channel=production"),
            None,
        )
        .await;
    assert_eq!(
        (m["bundle"].as_str(), m["total"].as_u64()),
        (Some("1.0.1"), Some(0)),
        "{m}"
    );
}
