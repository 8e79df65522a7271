//! The audit trail (`GET /apps/{app}/audit`): newest first, each write with
//! the fields it changed, filtered by kind, actor and time, paged, and the
//! key named only for a caller allowed to list keys.

use serde_json::{json, Value};
use updraft_test_support::*;

async fn key(s: &Server, name: &str, mode: &str) -> (String, i64) {
    let k = s
        .ok("POST", "/keys", Some(json!({"name": name, "mode": mode})))
        .await;
    (
        k["secret"].as_str().unwrap().to_string(),
        k["id"].as_i64().unwrap(),
    )
}

async fn audit(s: &Server, as_key: &str, query: &str) -> Value {
    let (st, v) = s
        .api_as(as_key, "GET", &format!("/apps/{APP}/audit{query}"), None)
        .await;
    assert_eq!(st, 200, "{v}");
    v
}

#[tokio::test]
async fn the_audit_trail_says_who_changed_which_field() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    let (ops, ops_id) = key(&s, "ops team", "all").await;
    let (viewer, _) = key(&s, "dashboard", "read").await;
    let (st, _) = s
        .api_as(
            &ops,
            "PATCH",
            &format!("/apps/{APP}/channels/production"),
            Some(json!({"bundle": "1.0.1", "allow_emulator": false})),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = s
        .api_as(
            &ops,
            "PUT",
            &format!("/apps/{APP}/devices/{DEV}/override"),
            Some(json!({"channel": "production"})),
        )
        .await;
    assert_eq!(st, 200);

    let all = audit(&s, ADMIN, "").await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(
        items[0]["kind"], "device.override_set",
        "newest first: {all}"
    );
    assert_eq!(items[0]["payload"]["after"]["channel"], "production");
    assert_eq!(items[0]["payload"]["before"], Value::Null);
    let update = items
        .iter()
        .find(|c| c["kind"] == "channel.updated")
        .unwrap();
    assert_eq!(update["actor"], format!("key:{ops_id}"));
    assert_eq!(update["actor_name"], "ops team", "an `all` key sees names");
    let fields: Vec<&str> = update["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["allow_emulator", "bundle_version"], "{update}");
    assert_eq!(update["changes"][0]["before"], true);
    assert_eq!(update["changes"][0]["after"], false);

    let seen_by_viewer = audit(&s, &viewer, "?kind=channel.updated").await;
    assert_eq!(
        seen_by_viewer["items"][0]["actor_name"],
        Value::Null,
        "a read key sees ids only"
    );

    // Filters and pages.
    let only = audit(&s, ADMIN, "?kind=channel.").await;
    assert!(only["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["kind"].as_str().unwrap().starts_with("channel.")));
    let by_ops = audit(&s, ADMIN, &format!("?actor=key:{ops_id}")).await;
    assert_eq!(by_ops["items"].as_array().unwrap().len(), 2, "{by_ops}");
    let future = audit(&s, ADMIN, &format!("?since={}", now_ms() + 3_600_000)).await;
    assert_eq!(future["items"], json!([]));
    let first = audit(&s, ADMIN, "?limit=1").await;
    let next = first["next_before"].as_i64().expect("more pages");
    let second = audit(&s, ADMIN, &format!("?limit=1&before={next}")).await;
    assert!(second["items"][0]["id"].as_i64().unwrap() < next);
    assert_eq!(second["items"][0]["id"], items[1]["id"]);
    // A webhook URL's path and query (a receiver's credentials)
    // never reach the log, which any read key may read.
    let hooks = format!("/apps/{APP}/webhooks");
    let w = s
        .ok(
            "POST",
            &hooks,
            Some(json!({"url": "https://hooks.example.com/T0KEN/x?sig=S3CRET"})),
        )
        .await;
    let id = w["id"].as_i64().unwrap();
    s.ok(
        "PATCH",
        &format!("{hooks}/{id}"),
        Some(json!({"url": "https://hooks.example.com/NEWT0KEN", "description": "ops"})),
    )
    .await;
    let text = audit(&s, &viewer, "?kind=webhook.").await.to_string();
    for secret in ["T0KEN", "S3CRET"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("hooks.example.com"), "{text}");
    for bad in ["kind=DROP%20TABLE", "actor=", "actor=key:", "actor=root"] {
        let (st, v) = s
            .api("GET", &format!("/apps/{APP}/audit?{bad}"), None)
            .await;
        assert_eq!(
            (st, v["error"].as_str()),
            (400, Some("invalid_query_parameters")),
            "{bad}: {v}"
        );
    }
}
