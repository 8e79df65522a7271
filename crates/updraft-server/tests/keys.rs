//! API-key management never reaches beyond the calling key's scope, an admin
//! always remains, and the shell can always create a way back in.

use serde_json::{json, Value};
use updraft_test_support::*;

async fn create(s: &Server, as_key: &str, body: Value) -> (u16, Value) {
    s.api_as(as_key, "POST", "/keys", Some(body)).await
}

#[tokio::test]
async fn an_app_limited_key_only_sees_and_manages_keys_within_its_apps() {
    let s = Server::start().await;
    s.with_app().await;
    s.ok("POST", "/apps", Some(json!({"app_id": "com.other.app"})))
        .await;
    let (_, v) = create(
        &s,
        ADMIN,
        json!({"name": "team", "mode": "all", "apps": [APP]}),
    )
    .await;
    let team = v["secret"].as_str().unwrap().to_string();
    let (_, other) = create(
        &s,
        ADMIN,
        json!({"name": "other team", "mode": "read", "apps": ["com.other.app"]}),
    )
    .await;

    // Listing shows only keys within the app: not the admin key, not the other team's.
    let (st, list) = s.api_as(&team, "GET", "/keys", None).await;
    assert_eq!(st, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["team"], "{list}");

    // It cannot create an unscoped key, one for another app, or one that outlives it.
    for body in [
        json!({"name": "x", "mode": "all", "apps": []}),
        json!({"name": "x", "mode": "all"}),
        json!({"name": "x", "mode": "read", "apps": [APP, "com.other.app"]}),
    ] {
        let (st, v) = create(&s, &team, body.clone()).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (403, Some("forbidden")),
            "{body}"
        );
    }

    // It cannot delete the admin key or the other team's key: they are not there for it.
    let all = s.ok("GET", "/keys", None).await;
    let id_of = |name: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    for name in ["admin (first start)", "other team"] {
        let (st, v) = s
            .api_as(&team, "DELETE", &format!("/keys/{}", id_of(name)), None)
            .await;
        assert_eq!(
            (st, v["error"].as_str()),
            (404, Some("not_found")),
            "{name}"
        );
    }
    assert_eq!(
        s.ok("GET", "/keys", None).await.as_array().unwrap().len(),
        3
    );
    assert_eq!(other["name"], "other team");

    // Within its app it may create and delete.
    let (st, v) = create(
        &s,
        &team,
        json!({"name": "ci", "mode": "upload", "apps": [APP]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, _) = s
        .api_as(&team, "DELETE", &format!("/keys/{}", v["id"]), None)
        .await;
    assert_eq!(st, 204);
}

#[tokio::test]
async fn a_new_key_never_outlives_the_key_that_creates_it() {
    let s = Server::start().await;
    let soon = updraft_server::now_ms() + 3_600_000;
    let (_, v) = create(
        &s,
        ADMIN,
        json!({"name": "temp admin", "mode": "all", "expires_at": soon}),
    )
    .await;
    let temp = v["secret"].as_str().unwrap().to_string();
    let (st, v) = create(
        &s,
        &temp,
        json!({"name": "forever", "mode": "read", "expires_at": soon + 1}),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (403, Some("forbidden")), "{v}");
    // Without an expiry it inherits the creator's.
    let (st, v) = create(&s, &temp, json!({"name": "child", "mode": "read"})).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["expires_at"].as_i64(), Some(soon));
}

#[tokio::test]
async fn the_last_admin_key_cannot_be_deleted() {
    let s = Server::start().await;
    let keys = s.ok("GET", "/keys", None).await;
    let admin_id = keys[0]["id"].as_i64().unwrap();
    let (st, v) = s.api("DELETE", &format!("/keys/{admin_id}"), None).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("conflict")), "{v}");
    // An app-limited `all` key does not count as an admin.
    let (_, v) = create(
        &s,
        ADMIN,
        json!({"name": "scoped", "mode": "all", "apps": [APP]}),
    )
    .await;
    assert_eq!(v["apps"], json!([APP]));
    let (st, _) = s.api("DELETE", &format!("/keys/{admin_id}"), None).await;
    assert_eq!(st, 409);
    // With a second admin, the first may go; the admin still works throughout.
    let (_, v) = create(&s, ADMIN, json!({"name": "second", "mode": "all"})).await;
    let second = v["secret"].as_str().unwrap().to_string();
    let (st, _) = s
        .api_as(&second, "DELETE", &format!("/keys/{admin_id}"), None)
        .await;
    assert_eq!(st, 204);
    assert_eq!(s.api_as(&second, "GET", "/keys", None).await.0, 200);
}

/// An expiring admin key cannot remove the permanent one (it would leave no
/// admin once it expires), nor any key that outlives it.
#[tokio::test]
async fn an_expiring_admin_cannot_remove_the_permanent_one() {
    let s = Server::start().await;
    let soon = updraft_server::now_ms() + 3_600_000;
    let (_, v) = create(
        &s,
        ADMIN,
        json!({"name": "temp admin", "mode": "all", "expires_at": soon}),
    )
    .await;
    let temp = v["secret"].as_str().unwrap().to_string();
    let keys = s.ok("GET", "/keys", None).await;
    let admin_id = keys[0]["id"].as_i64().unwrap();
    let (st, v) = s
        .api_as(&temp, "DELETE", &format!("/keys/{admin_id}"), None)
        .await;
    assert_eq!((st, v["error"].as_str()), (403, Some("forbidden")), "{v}");
    // Nor can the permanent admin delete itself while it is the only one.
    let (st, v) = s.api("DELETE", &format!("/keys/{admin_id}"), None).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("conflict")), "{v}");
    // The expiring admin itself may go.
    let temp_id = keys[1]["id"].as_i64().unwrap();
    let (st, _) = s.api("DELETE", &format!("/keys/{temp_id}"), None).await;
    assert_eq!(st, 204);
}

/// `updraft-server admin create-key` writes a working key into the database,
/// even while the server runs.
#[tokio::test]
async fn the_shell_can_always_create_an_admin_key() {
    let s = Server::start().await;
    // tokio's process API: a blocking wait here would stall the server on this
    // test's runtime, maybe inside a write transaction, and the command would
    // wait out SQLite's busy timeout.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args(["admin", "create-key", "--name", "recovered", "--data-dir"])
        .arg(&s.dir)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        secret.starts_with("upd_"),
        "only the secret on stdout: {secret:?}"
    );
    let (st, list) = s.api_as(&secret, "GET", "/keys", None).await;
    assert_eq!(st, 200);
    assert!(list.to_string().contains("recovered"));
    // A bad mode is a clear error that creates nothing.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args(["admin", "create-key", "--mode", "root", "--data-dir"])
        .arg(&s.dir)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not one of read, upload, write, all"));
    assert_eq!(
        s.ok("GET", "/keys", None).await.as_array().unwrap().len(),
        2
    );
}
