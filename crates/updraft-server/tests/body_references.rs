//! Requests that name another object in their body or query (a channel's
//! bundle, a pin, an upload's channel): one that does not exist is a bad
//! request (400, with a code saying which kind), never a missing resource of
//! the URL (404), and changes nothing. A request the stored state cannot
//! serve is a conflict (409).

use serde_json::json;
use updraft_test_support::*;

/// A body naming a bundle or channel that does not exist is a bad request
/// (400, saying which), not a missing resource of the URL (404), and changes
/// nothing; a missing resource of the URL is still 404.
#[tokio::test]
async fn a_body_naming_what_does_not_exist_is_a_bad_request() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let channel = format!("/apps/{APP}/channels/production");
    let (st, v) = s
        .api(
            "PATCH",
            &channel,
            Some(json!({"bundle": "9.9.9", "public": false})),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("unknown_bundle")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("9.9.9"), "{v}");
    let after = s.ok("GET", &channel, None).await;
    assert_eq!(
        (after["bundle_version"].as_str(), after["public"].as_bool()),
        (Some("1.0.1"), Some(true)),
        "unchanged: {after}"
    );
    let (st, v) = s
        .api(
            "POST",
            &format!("/apps/{APP}/channels"),
            Some(json!({"name": "beta", "bundle": "9.9.9"})),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("unknown_bundle")),
        "{v}"
    );
    assert_eq!(
        s.api("GET", &format!("/apps/{APP}/channels/beta"), None)
            .await
            .0,
        404,
        "nothing created"
    );
    let over = format!("/apps/{APP}/devices/{DEV}/override");
    let (st, v) = s.api("PUT", &over, Some(json!({"bundle": "9.9.9"}))).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("unknown_bundle")),
        "{v}"
    );
    let (st, v) = s.api("PUT", &over, Some(json!({"channel": "nope"}))).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("unknown_channel")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("nope"), "{v}");
    let (st, _) = s
        .api(
            "PATCH",
            &format!("/apps/{APP}/channels/missing"),
            Some(json!({"bundle": "1.0.1"})),
        )
        .await;
    assert_eq!(st, 404, "the URL's channel is missing");
    // An upload onto a channel that does not exist is refused before the
    // bundle is stored, so the same upload can be retried once it exists.
    let zip = zip_of(&[("index.html", b"2.0.0")]);
    let (st, v) = s.upload("2.0.0", "&channel=nope", zip.clone()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("unknown_channel")),
        "{v}"
    );
    assert_eq!(
        s.api("GET", &format!("/apps/{APP}/bundles/2.0.0"), None)
            .await
            .0,
        404,
        "nothing stored"
    );
    assert_eq!(s.upload("2.0.0", "&channel=production", zip).await.0, 201);
}

/// A device known only from an admin override never sent a check: explaining
/// it is a conflict with what is stored (409), not a bad request.
#[tokio::test]
async fn explaining_a_device_that_never_checked_in_is_a_conflict() {
    let s = Server::start().await;
    s.with_app().await;
    let unseen = "00000000-0000-4000-8000-0000000000aa";
    s.ok(
        "PUT",
        &format!("/apps/{APP}/devices/{unseen}/override"),
        Some(json!({"channel": "production"})),
    )
    .await;
    let (st, v) = s
        .api(
            "GET",
            &format!("/apps/{APP}/devices/{unseen}/explain"),
            None,
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (409, Some("nothing_to_replay")),
        "{v}"
    );
    // Once it checks in, its check is replayed.
    s.device("POST", "/updates", &info(json!({"device_id": unseen})))
        .await;
    s.settle().await;
    let (st, v) = s
        .api(
            "GET",
            &format!("/apps/{APP}/devices/{unseen}/explain"),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
}
