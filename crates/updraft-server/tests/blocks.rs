//! Rollback blocks are never lost (also on pinned bundles, across a restart)
//! and an admin can clear them.

use serde_json::json;
use updraft_test_support::*;

#[tokio::test]
async fn a_block_on_a_pinned_bundle_survives_a_restart_and_an_admin_can_clear_it() {
    let mut s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.bundle("1.0.2").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    s.ok(
        "PUT",
        &format!("/apps/{APP}/devices/{DEV}/override"),
        Some(json!({"bundle": "1.0.2"})),
    )
    .await;
    assert_eq!(s.check(json!({})).await["version"], "1.0.2");
    let fail = info(json!({"action": "update_fail", "version_name": "1.0.2"}));
    let (st, _) = s.device("POST", "/stats", &json!([fail])).await;
    assert_eq!(st, 200);
    assert_eq!(s.check(json!({})).await["error"], "bundle_failed_on_device");
    s.settle().await;

    // A fresh process loads its snapshot from the database only.
    s.restart().await;
    let v = s.check(json!({})).await;
    assert_eq!(v["error"], "bundle_failed_on_device", "{v}");
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["failed_bundles"], json!(["1.0.2"]));

    // Clearing one version that is not blocked clears nothing.
    let v = s
        .ok(
            "DELETE",
            &format!("/apps/{APP}/devices/{DEV}/blocks?version=1.0.1"),
            None,
        )
        .await;
    assert_eq!(v["cleared"], 0);
    assert_eq!(s.check(json!({})).await["error"], "bundle_failed_on_device");
    let v = s
        .ok("DELETE", &format!("/apps/{APP}/devices/{DEV}/blocks"), None)
        .await;
    assert_eq!(v["cleared"], 1);
    assert_eq!(s.check(json!({})).await["version"], "1.0.2");
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["failed_bundles"], json!([]));
}

#[tokio::test]
async fn a_block_received_moments_ago_can_be_cleared_at_once() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let fail = info(json!({"action": "update_fail", "version_name": "1.0.1"}));
    s.device("POST", "/stats", &json!([fail])).await;
    s.settle().await;
    assert_eq!(s.check(json!({})).await["error"], "bundle_failed_on_device");
    s.ok("DELETE", &format!("/apps/{APP}/devices/{DEV}/blocks"), None)
        .await;
    assert_eq!(s.check(json!({})).await["version"], "1.0.1");
    // Only admins with write access.
    let (st, _) = s
        .api_as(
            "upd_wrong",
            "DELETE",
            &format!("/apps/{APP}/devices/{DEV}/blocks"),
            None,
        )
        .await;
    assert_eq!(st, 401);
}
