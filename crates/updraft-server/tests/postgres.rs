//! The same server on PostgreSQL: the basic flow, and two nodes sharing one
//! database (a write on one node reaches the other's snapshot through the
//! change log, announced by NOTIFY or found by the poll). Needs PostgreSQL at
//! `UPDRAFT_TEST_POSTGRES_URL`; fails, never skips.

use std::time::Duration;

use serde_json::json;
use updraft_test_support::*;

/// How long another node may take to learn of a write (NOTIFY, or at worst
/// the one-second poll).
const FOUR_SECONDS: Duration = Duration::from_secs(4);

/// Two nodes on one fresh PostgreSQL database, and that database's storage.
async fn two_nodes() -> (Server, Server, Storage) {
    let storage = Storage::new(Backend::Postgres).await;
    let a = Server::start_with(storage.config()).await;
    let b = Server::start_with(storage.config()).await;
    (a, b, storage)
}

#[tokio::test]
async fn two_nodes_share_one_postgres_database() {
    let (a, b, _storage) = two_nodes().await;
    // B is asked about the app before it exists (and remembers that briefly).
    let (st, v) = b.device("POST", "/updates", &info(json!({}))).await;
    assert_eq!((st, v["error"].as_str().unwrap()), (429, "on_premise_app"));
    a.with_app().await;
    a.bundle("1.0.1").await;
    a.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    // B learns of the new app through the change log, well before its
    // "unknown app" memory would expire.
    let mut first = json!(null);
    for _ in 0..30 {
        let (st, v) = b.device("POST", "/updates", &info(json!({}))).await;
        first = v;
        if st == 200 && first["version"] == "1.0.1" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(first["version"], "1.0.1", "{first}");
    // Node B has a snapshot now; a change made through node A reaches it.
    a.set_channel("production", json!({"bundle": "builtin"}))
        .await;
    let seen = poll_until(
        Duration::from_secs(3),
        || b.check(json!({"version_name": "1.0.1"})),
        |v| *v == json!({"version": "builtin"}),
    )
    .await;
    assert_eq!(
        seen,
        json!({"version": "builtin"}),
        "node B must pick up node A's write"
    );
    // Stats written through B are visible through A.
    let (st, _) = b
        .device(
            "POST",
            "/stats",
            &json!([info(json!({"action": "set", "version_name": "1.0.1"}))]),
        )
        .await;
    assert_eq!(st, 200);
    b.settle().await;
    let d = a
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["version_name"], "1.0.1");
}

/// The app's revision as the database has it.
async fn revision(storage: &Storage) -> i64 {
    let store =
        updraft_store_postgres::PostgresStore::connect(storage.config().database.url.expose())
            .await
            .unwrap();
    let snap = updraft_store::SnapshotStore::load_snapshot(&store, APP)
        .await
        .unwrap();
    snap.expect("the app exists").revision
}

/// An old plugin's own channel choice made through node A reaches node B
/// without an app-wide change: the app's revision does not move, so no node
/// reloads the app's snapshot for it.
#[tokio::test]
async fn a_devices_own_channel_reaches_other_nodes_without_an_app_reload() {
    let (a, b, storage) = two_nodes().await;
    a.with_app().await;
    a.add_channel(json!({"name": "beta", "allow_device_self_set": true}))
        .await;
    a.bundle("1.0.1").await;
    a.set_channel("beta", json!({"bundle": "1.0.1"})).await;
    let old = json!({"plugin_version": "6.25.8"});
    // B has the app cached (no update from production).
    let v = poll_until(
        FOUR_SECONDS,
        || b.check(old.clone()),
        |v| v["kind"] == "up_to_date",
    )
    .await;
    assert_eq!(v["kind"], "up_to_date", "{v}");
    let before = revision(&storage).await;
    let mut body = info(old.clone());
    body["channel"] = json!("beta");
    let (_, r) = a.device("POST", "/channel_self", &body).await;
    assert_eq!(r, json!({"status": "ok"}));
    // Node A serves it at once; node B within its poll.
    assert_eq!(a.check(old.clone()).await["version"], "1.0.1");
    let seen = poll_until(
        FOUR_SECONDS,
        || b.check(old.clone()),
        |v| v["version"] == "1.0.1",
    )
    .await;
    assert_eq!(
        seen["version"], "1.0.1",
        "node B learns the device's choice: {seen}"
    );
    assert_eq!(revision(&storage).await, before, "no app-wide change");
}

/// A rollback reported through node B stops node A from offering that bundle
/// to the device, without an app-wide change.
#[tokio::test]
async fn a_rollback_block_reaches_other_nodes_without_an_app_reload() {
    let (a, b, storage) = two_nodes().await;
    a.with_app().await;
    a.bundle("1.0.1").await;
    a.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    // Both nodes have the app cached and offer 1.0.1.
    for node in [&a, &b] {
        let v = poll_until(
            FOUR_SECONDS,
            || node.check(json!({})),
            |v| v["version"] == "1.0.1",
        )
        .await;
        assert_eq!(v["version"], "1.0.1", "{v}");
    }
    let before = revision(&storage).await;
    let fail = info(json!({"action": "update_fail", "version_name": "1.0.1"}));
    let (st, _) = b.device("POST", "/stats", &json!([fail])).await;
    assert_eq!(st, 200);
    let seen = poll_until(
        FOUR_SECONDS,
        || a.check(json!({})),
        |v| v["error"] == "bundle_failed_on_device",
    )
    .await;
    assert_eq!(
        seen["error"], "bundle_failed_on_device",
        "node A learns the block: {seen}"
    );
    assert_eq!(revision(&storage).await, before, "no app-wide change");
}

/// How long node B takes to answer differently after a deploy through node
/// A, over `writes` deploys alternating two bundles: (median, max) in ms.
/// A measurement, not a timed assertion: it asserts only that B converges.
async fn write_to_other_node(b_runtime: updraft_server::Runtime, writes: usize) -> (f64, f64) {
    let storage = Storage::new(Backend::Postgres).await;
    let a = Server::start_with(storage.config()).await;
    let b = Server::start_runtime(storage.config(), b_runtime).await;
    a.with_app().await;
    a.bundle("1.0.1").await;
    a.bundle("1.0.2").await;
    a.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let v = poll_until(
        FOUR_SECONDS,
        || b.check(json!({})),
        |v| v["version"] == "1.0.1",
    )
    .await;
    assert_eq!(v["version"], "1.0.1", "{v}");
    let mut delays = Vec::new();
    for i in 0..writes {
        let to = if i % 2 == 0 { "1.0.2" } else { "1.0.1" };
        let started = std::time::Instant::now();
        a.set_channel("production", json!({"bundle": to})).await;
        loop {
            if b.check(json!({})).await["version"] == to {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "node B never answered {to}"
            );
            // Measurement resolution: one check plus this pause.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        delays.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    delays.sort_by(f64::total_cmp);
    (delays[delays.len() / 2], delays[delays.len() - 1])
}

/// A write on node A changes node B's `/updates` answer promptly: at once
/// with NOTIFY, within the poll interval without it. Prints both figures.
#[tokio::test]
async fn a_write_on_one_node_changes_another_nodes_answer() {
    let (median, max) = write_to_other_node(updraft_server::Runtime::default(), 20).await;
    eprintln!("write on A -> changed answer on B, NOTIFY: median {median:.1} ms, max {max:.1} ms (20 writes)");
    let poll_only = updraft_server::Runtime {
        change_notify: false,
        ..Default::default()
    };
    let (median, max) = write_to_other_node(poll_only, 20).await;
    eprintln!("write on A -> changed answer on B, poll only (1 s): median {median:.1} ms, max {max:.1} ms (20 writes)");
}
