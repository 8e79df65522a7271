//! Capgo's public `/device` API, which Updraft also answers for backends that
//! already call it: putting a device on a channel, and refusing deletes for
//! unknown apps or malformed device ids without writing anything.

use serde_json::{json, Value};
use updraft_test_support::*;

#[tokio::test]
async fn capgo_device_delete_refuses_an_unknown_app_or_device_id_and_writes_nothing() {
    use updraft_store::prelude::*;
    let s = Server::start().await;
    s.with_app().await;
    let store = updraft_store_sqlite::SqliteStore::connect(s.config.database.url.expose())
        .await
        .unwrap();
    let before = store.last_change_id().await.unwrap();
    let delete = |body: Value| {
        s.http
            .delete(s.url("/device"))
            .header("capgkey", ADMIN)
            .json(&body)
            .send()
    };
    let r = delete(json!({"app_id": "com.not.there", "device_id": DEV}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404, "an app that does not exist");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "not_found", "the error envelope: {v}");
    let r = delete(json!({"app_id": APP, "device_id": "x".repeat(311)}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_device_id");
    let r = delete(json!({"app_id": APP, "device_id": DEV}))
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "no override to remove is still ok"
    );
    assert_eq!(
        store.last_change_id().await.unwrap(),
        before,
        "nothing was recorded"
    );
    assert!(
        store
            .get_device(APP, &"x".repeat(311))
            .await
            .unwrap()
            .is_none(),
        "no row for a made-up device id"
    );
}

#[tokio::test]
async fn capgo_device_api_puts_a_device_on_a_channel() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.add_channel(json!({"name": "beta", "bundle": "1.0.1"}))
        .await;
    let post = |body: Value| {
        s.http
            .post(s.url("/device"))
            .header("authorization", ADMIN)
            .json(&body)
            .send()
    };
    let r = post(json!({"app_id": APP, "device_id": DEV.to_uppercase(), "channel": "beta"}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(s.check(json!({})).await["version"], "1.0.1");
    let r = post(json!({"app_id": APP, "device_id": DEV, "channel": "production"}))
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.json::<Value>().await.unwrap()["error"].clone()
        ),
        (400, json!("public_channel_override"))
    );
    let r = post(json!({"app_id": APP, "device_id": DEV, "channel": "nope"}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = post(json!({"app_id": APP, "device_id": DEV, "version_id": 1}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = s
        .http
        .get(s.url(&format!("/device?app_id={APP}&device_id={DEV}")))
        .header("capgkey", ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["channel"], "beta");
    let r = s
        .http
        .delete(s.url("/device"))
        .header("capgkey", ADMIN)
        .json(&json!({"app_id": APP, "device_id": DEV}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(s.check(json!({})).await["error"], "already_on_builtin");
    let r = s
        .http
        .post(s.url("/device"))
        .json(&json!({"app_id": APP}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
