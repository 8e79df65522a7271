//! Revoking a bundle through the API: devices running it go back at their
//! next check (explain says why), nothing may deploy it again, and bad
//! requests change nothing.

use serde_json::json;
use updraft_test_support::*;

/// `production` (public) served 1.0.1, then 1.0.2.
async fn released_twice(s: &Server) {
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.bundle("1.0.2").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    s.set_channel("production", json!({"bundle": "1.0.2"}))
        .await;
}

fn revoke_path(version: &str) -> String {
    format!("/apps/{APP}/bundles/{version}/revoke")
}

#[tokio::test]
async fn a_revoked_bundle_is_taken_back_and_never_deployed_again() {
    let s = Server::start().await;
    released_twice(&s).await;
    let on_it = s.check(json!({"version_name": "1.0.2"})).await;
    assert_eq!(on_it["error"], "no_new_version_available", "{on_it}");

    let done = s
        .ok(
            "POST",
            &revoke_path("1.0.2"),
            Some(json!({"reason": "white screen on Android 14"})),
        )
        .await;
    assert_eq!(done["changed"], true);
    assert_eq!(
        done["bundle"]["revoked_reason"],
        "white screen on Android 14"
    );
    assert!(done["bundle"]["revoked_at"].is_i64(), "{done}");
    assert_eq!(
        done["channels"],
        json!([{"channel": "production", "bundle": "1.0.1"}])
    );

    // The next check moves the device back; explain says why.
    let back = s.check(json!({"version_name": "1.0.2"})).await;
    assert_eq!(back["version"], "1.0.1", "{back}");
    let why = s
        .ok(
            "POST",
            &format!("/apps/{APP}/explain"),
            Some(info(json!({"version_name": "1.0.2"}))),
        )
        .await;
    let trace: Vec<&str> = why["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        trace.contains(
            &"the device runs bundle 1.0.2, which was revoked (white screen on Android 14)"
        ),
        "{trace:?}"
    );

    // Nothing may take it again: 409 bundle_revoked, and nothing moved.
    for (method, path, body) in [
        (
            "PATCH",
            format!("/apps/{APP}/channels/production"),
            json!({"bundle": "1.0.2"}),
        ),
        (
            "POST",
            format!("/apps/{APP}/channels/production/rollout"),
            json!({"bundle": "1.0.2"}),
        ),
        (
            "PUT",
            format!("/apps/{APP}/devices/{DEV}/override"),
            json!({"bundle": "1.0.2"}),
        ),
    ] {
        let (st, v) = s.api(method, &path, Some(body)).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (409, Some("bundle_revoked")),
            "{method} {path}: {v}"
        );
    }
    let c = s
        .ok("GET", &format!("/apps/{APP}/channels/production"), None)
        .await;
    assert_eq!(c["bundle_version"], "1.0.1");

    // Again: a no-op that says so.
    let again = s.ok("POST", &revoke_path("1.0.2"), None).await;
    assert_eq!(again["changed"], false);
    assert_eq!(
        again["bundle"]["revoked_reason"],
        "white screen on Android 14"
    );
    let listed = s.ok("GET", &format!("/apps/{APP}/bundles"), None).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["version"] == "1.0.2" && b["revoked_at"].is_i64()),
        "{listed}"
    );
}

#[tokio::test]
async fn revoking_the_only_bundle_sends_devices_back_to_builtin() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let done = s.ok("POST", &revoke_path("1.0.1"), None).await;
    assert_eq!(
        done["channels"],
        json!([{"channel": "production", "bundle": "builtin"}])
    );
    let back = s.check(json!({"version_name": "1.0.1"})).await;
    assert_eq!(back, json!({"version": "builtin"}));
}

#[tokio::test]
async fn bad_revocations_are_refused_and_change_nothing() {
    let s = Server::start().await;
    released_twice(&s).await;
    let before = s.ok("GET", &format!("/apps/{APP}/changes"), None).await;

    let (st, v) = s
        .api(
            "POST",
            &revoke_path("1.0.2"),
            Some(json!({"reason": "x".repeat(501)})),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_reason")),
        "{v}"
    );
    let (st, v) = s
        .api("POST", &revoke_path("1.0.2"), Some(json!({"reason": 5})))
        .await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = s
        .api("POST", &revoke_path("1.0.2"), Some(json!({"why": "typo"})))
        .await;
    assert_eq!(st, 400, "unknown fields are refused: {v}");
    let (st, v) = s.api("POST", &revoke_path("9.9.9"), None).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not_found")), "{v}");

    // An upload key (CI's) may deploy but not revoke.
    let ci = s
        .ok(
            "POST",
            "/keys",
            Some(json!({"name": "ci", "mode": "upload", "apps": [APP]})),
        )
        .await;
    let (st, v) = s
        .api_as(
            ci["secret"].as_str().unwrap(),
            "POST",
            &revoke_path("1.0.2"),
            None,
        )
        .await;
    assert_eq!(st, 403, "{v}");

    let after = s.ok("GET", &format!("/apps/{APP}/changes"), None).await;
    let kinds = |v: &serde_json::Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap().to_string())
            .filter(|k| k != "key.created")
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&before), kinds(&after));
    let c = s
        .ok("GET", &format!("/apps/{APP}/channels/production"), None)
        .await;
    assert_eq!(c["bundle_version"], "1.0.2");
    assert_eq!(
        s.check(json!({"version_name": "1.0.2"})).await["error"],
        "no_new_version_available"
    );
}
