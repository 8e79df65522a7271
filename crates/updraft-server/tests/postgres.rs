//! The same server on PostgreSQL: the basic flow, and two nodes sharing one
//! database (a write on one node reaches the other's snapshot through the
//! revision poll). Needs PostgreSQL at `UPDRAFT_TEST_POSTGRES_URL`; fails, never skips.

mod common;

use common::*;
use serde_json::json;

async fn fresh_database() -> updraft_store_postgres::testing::TestDatabase {
    updraft_store_postgres::testing::TestDatabase::create()
        .await
        .expect("PostgreSQL must be reachable at UPDRAFT_TEST_POSTGRES_URL")
}

fn pg_config(dir: &std::path::Path, url: &str) -> updraft_server::config::Config {
    let mut c = config(dir);
    c.database_url = url.to_string();
    c
}

#[tokio::test]
async fn two_nodes_share_one_postgres_database() {
    let db = fresh_database().await;
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start_with(pg_config(dir.path(), &url)).await;
    let b = Server::start_with(pg_config(dir.path(), &url)).await;
    // B is asked about the app before it exists (and remembers that briefly).
    let (st, v) = b.device("POST", "/updates", &info(json!({}))).await;
    assert_eq!((st, v["error"].as_str().unwrap()), (429, "on_premise_app"));
    a.with_app().await;
    a.bundle("1.0.1").await;
    a.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    // B learns of the new app through the revision poll, well before its
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
    let mut seen = json!(null);
    for _ in 0..30 {
        seen = b.check(json!({"version_name": "1.0.1"})).await;
        if seen == json!({"version": "builtin"}) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
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

/// Asks `ask` up to 40 times, 100 ms apart, until `done` holds for its answer
/// (the other node polls every second); returns the last answer.
async fn poll_until<F, Fut>(
    mut ask: F,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = serde_json::Value>,
{
    let mut last = serde_json::Value::Null;
    for _ in 0..40 {
        last = ask().await;
        if done(&last) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}

/// The app's revision as the database has it.
async fn revision(url: &str) -> i64 {
    let store = updraft_store_postgres::PostgresStore::connect(url)
        .await
        .unwrap();
    let revs = updraft_store::SnapshotStore::app_revisions(&store)
        .await
        .unwrap();
    revs.into_iter().find(|(app, _)| app == APP).unwrap().1
}

/// An old plugin's own channel choice made through node A reaches node B
/// without an app-wide change: the app's revision does not move, so no node
/// reloads the app's snapshot for it.
#[tokio::test]
async fn a_devices_own_channel_reaches_other_nodes_without_an_app_reload() {
    let db = fresh_database().await;
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start_with(pg_config(dir.path(), &url)).await;
    let b = Server::start_with(pg_config(dir.path(), &url)).await;
    a.with_app().await;
    a.ok(
        "POST",
        &format!("/apps/{APP}/channels"),
        Some(json!({"name": "beta", "allow_device_self_set": true})),
    )
    .await;
    a.bundle("1.0.1").await;
    a.set_channel("beta", json!({"bundle": "1.0.1"})).await;
    let old = json!({"plugin_version": "6.25.8"});
    // B has the app cached (no update from production).
    let v = poll_until(|| b.check(old.clone()), |v| v["kind"] == "up_to_date").await;
    assert_eq!(v["kind"], "up_to_date", "{v}");
    let before = revision(&url).await;
    let mut body = info(old.clone());
    body["channel"] = json!("beta");
    let (_, r) = a.device("POST", "/channel_self", &body).await;
    assert_eq!(r, json!({"status": "ok"}));
    // Node A serves it at once; node B within its poll.
    assert_eq!(a.check(old.clone()).await["version"], "1.0.1");
    let seen = poll_until(|| b.check(old.clone()), |v| v["version"] == "1.0.1").await;
    assert_eq!(
        seen["version"], "1.0.1",
        "node B learns the device's choice: {seen}"
    );
    assert_eq!(revision(&url).await, before, "no app-wide change");
}

/// A rollback reported through node B stops node A from offering that bundle
/// to the device, without an app-wide change.
#[tokio::test]
async fn a_rollback_block_reaches_other_nodes_without_an_app_reload() {
    let db = fresh_database().await;
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start_with(pg_config(dir.path(), &url)).await;
    let b = Server::start_with(pg_config(dir.path(), &url)).await;
    a.with_app().await;
    a.bundle("1.0.1").await;
    a.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    // Both nodes have the app cached and offer 1.0.1.
    for node in [&a, &b] {
        let v = poll_until(|| node.check(json!({})), |v| v["version"] == "1.0.1").await;
        assert_eq!(v["version"], "1.0.1", "{v}");
    }
    let before = revision(&url).await;
    let fail = info(json!({"action": "update_fail", "version_name": "1.0.1"}));
    let (st, _) = b.device("POST", "/stats", &json!([fail])).await;
    assert_eq!(st, 200);
    let seen = poll_until(
        || a.check(json!({})),
        |v| v["error"] == "bundle_failed_on_device",
    )
    .await;
    assert_eq!(
        seen["error"], "bundle_failed_on_device",
        "node A learns the block: {seen}"
    );
    assert_eq!(revision(&url).await, before, "no app-wide change");
}
