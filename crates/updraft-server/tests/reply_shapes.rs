//! The bytes on the wire of every device-protocol reply shape, snapshotted:
//! `/updates` (every shape the decision cases reach, the error envelopes),
//! `/stats`, `/channel_self`, `/files`, Capgo's `/device`, `/health` and the
//! liveness answers. Each snapshot is one shape, named after it, and holds the
//! status, the headers a client reads and the body; the server's address is
//! written `{base}`. The plugin reads these replies key by key, so a changed
//! snapshot is a changed protocol: review it as one.

mod decide_seed;
mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use decide_seed::{app_of, seed, server_cases};
use serde_json::{json, Value};
use updraft_test_support::*;
use wire::{redact, replace_text, reply, send, Call, FILE_HEADERS};

/// A device id of its own per call, so the per-device limit of `/channel_self` never bites.
fn device(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A query string of the default device request with `extra` merged in.
fn query(extra: Value) -> String {
    let v = info(extra);
    let mut parts = Vec::new();
    for (k, val) in v.as_object().unwrap() {
        let text = match val {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        parts.push(format!("{k}={text}"));
    }
    parts.join("&")
}

/// The name of an `/updates` reply's shape: the soft error code, the revert,
/// or the update with the optional parts it carries.
fn updates_shape(body: &Value) -> String {
    if let Some(code) = body.get("error").and_then(Value::as_str) {
        return format!("updates_no_update_{code}");
    }
    if body.get("url").is_none() {
        return "updates_revert_to_builtin".into();
    }
    let mut name = String::from("updates_update");
    if body["session_key"] != "" {
        name += "_session_key";
    }
    if body.get("sessionKey").is_some() {
        name += "_electron_checksum";
    }
    if body.get("manifest").is_some() {
        name += "_manifest";
    }
    if body.get("link").is_some() || body.get("comment").is_some() {
        name += "_metadata";
    }
    if name == "updates_update" {
        name += "_plain";
    }
    name
}

#[tokio::test]
async fn updates_reply_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let all = server_cases();
    {
        let store = updraft_server::open_store(&config).await.unwrap();
        for (i, (file, case)) in all.iter().enumerate() {
            seed(&*store, &app_of(i), case)
                .await
                .unwrap_or_else(|e| panic!("{file} / {}: {e}", case.name));
        }
    }
    let s = Server::start_with(config).await;
    // The first case (in file order) that answers each shape.
    let mut shapes: BTreeMap<String, String> = BTreeMap::new();
    for (i, (file, case)) in all.iter().enumerate() {
        let mut body = case.request.clone();
        body["app_id"] = app_of(i).into();
        let r = reply(&s, Call::new("POST", "/updates").json(&body)).await;
        assert_eq!(r["status"], 200, "{file} / {}: {r}", case.name);
        let shape = updates_shape(&r["body"]);
        if shapes.contains_key(&shape) {
            continue;
        }
        let from = format!("{file} / {}", case.name);
        insta::with_settings!({description => from.as_str()}, {
            insta::assert_json_snapshot!(shape.as_str(), r);
        });
        shapes.insert(shape, from);
    }
    for want in [
        "updates_update_plain",
        "updates_update_manifest",
        "updates_update_session_key",
        "updates_update_session_key_electron_checksum",
        "updates_update_metadata",
        "updates_revert_to_builtin",
    ] {
        assert!(shapes.contains_key(want), "no decision case answers {want}");
    }
    // Every soft error the decision can answer from a state the store can hold:
    // a private channel is only reached through an override, which the rule
    // lets through, and only a race leaves a channel on a missing bundle.
    for (code, _) in updraft_core::decide::CODES {
        if ["cannot_update_via_private_channel", "no_bundle"].contains(code) {
            continue;
        }
        let shape = format!("updates_no_update_{code}");
        assert!(
            shapes.contains_key(&shape),
            "no decision case answers {code}"
        );
    }

    let app = app_of(0);
    let shapes = [
        (
            "updates_error_invalid_json",
            Call::new("POST", "/updates").raw("{"),
        ),
        (
            "updates_error_wrong_type",
            Call::new("POST", "/updates").json(&info(json!({"app_id": app, "is_prod": "yes"}))),
        ),
        (
            "updates_error_invalid_field",
            Call::new("POST", "/updates").json(&info(json!({"app_id": app, "device_id": "x"}))),
        ),
        (
            "updates_error_unknown_app",
            Call::new("POST", "/updates").json(&info(json!({"app_id": "com.unknown.app"}))),
        ),
        ("updates_get_liveness", Call::new("GET", "/updates")),
    ];
    for (name, call) in shapes {
        insta::assert_json_snapshot!(name, reply(&s, call).await);
    }
}

#[tokio::test]
async fn stats_reply_shapes() {
    let s = Server::start().await;
    s.with_app().await;
    let event = |action: &str| info(json!({"action": action, "version_name": "1.0.1"}));
    let bad = info(json!({"action": "set", "device_id": "not-a-uuid"}));
    let too_many = format!("[{}]", vec!["{}"; 1001].join(","));
    let shapes = [
        (
            "stats_single_event",
            Call::new("POST", "/stats").json(&event("set")),
        ),
        (
            "stats_batch",
            Call::new("POST", "/stats").json(&json!([event("download_complete"), event("set")])),
        ),
        (
            "stats_batch_with_bad_event",
            Call::new("POST", "/stats").json(&json!([event("set"), bad.clone()])),
        ),
        (
            "stats_error_single_bad_event",
            Call::new("POST", "/stats").json(&bad),
        ),
        (
            "stats_error_invalid_json",
            Call::new("POST", "/stats").raw("[{"),
        ),
        (
            "stats_error_unknown_app",
            Call::new("POST", "/stats")
                .json(&info(json!({"app_id": "com.unknown.app", "action": "set"}))),
        ),
        (
            "stats_error_too_many_events",
            Call::new("POST", "/stats").raw(&too_many),
        ),
        ("stats_get_liveness", Call::new("GET", "/stats")),
        ("ok_post_liveness", Call::new("POST", "/ok")),
    ];
    for (name, call) in shapes {
        insta::assert_json_snapshot!(name, reply(&s, call).await);
    }
}

#[tokio::test]
async fn channel_self_reply_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // One self-assigned device per app: the second one is refused.
    c.limits.max_self_assigned_devices = 1;
    let s = Server::start_with(c).await;
    s.with_app().await;
    for patch in [
        json!({"name": "beta", "allow_device_self_set": true}),
        json!({"name": "locked"}),
    ] {
        s.ok("POST", &format!("/apps/{APP}/channels"), Some(patch))
            .await;
    }
    s.ok(
        "POST",
        "/apps",
        Some(json!({"app_id": "com.example.empty"})),
    )
    .await;
    const OLD: &str = "6.14.0";
    // Devices an admin put on `locked`.
    for n in [90, 91] {
        s.ok(
            "PUT",
            &format!("/apps/{APP}/devices/{}/override", device(n)),
            Some(json!({"channel": "locked"})),
        )
        .await;
    }
    let body = |n: u32, extra: Value| {
        let mut v = info(extra);
        v["device_id"] = device(n).into();
        v
    };
    let shapes = [
        // GET lists the channels a device may choose.
        (
            "channel_self_list",
            Call::new("GET", format!("/channel_self?{}", query(json!({})))),
        ),
        (
            "channel_self_list_electron",
            Call::new(
                "GET",
                format!(
                    "/channel_self?{}",
                    query(json!({"platform": "electron", "action": "list"}))
                ),
            ),
        ),
        (
            "channel_self_list_error_missing_app_id",
            Call::new("GET", "/channel_self?platform=android"),
        ),
        (
            "channel_self_list_error_invalid_platform",
            Call::new(
                "GET",
                format!("/channel_self?app_id={APP}&platform=windows"),
            ),
        ),
        // PUT (and Electron's GET) answer the device's channel.
        (
            "channel_self_get",
            Call::new("PUT", "/channel_self").json(&body(1, json!({}))),
        ),
        (
            "channel_self_get_asked_channel",
            Call::new("PUT", "/channel_self").json(&body(2, json!({"channel": "beta"}))),
        ),
        (
            "channel_self_get_electron",
            Call::new(
                "GET",
                format!(
                    "/channel_self?{}",
                    query(json!({"platform": "electron", "device_id": device(3)}))
                ),
            ),
        ),
        (
            "channel_self_get_old_plugin_override",
            Call::new("PUT", "/channel_self").json(&body(90, json!({"plugin_version": OLD}))),
        ),
        (
            "channel_self_get_error_no_channel",
            Call::new("PUT", "/channel_self")
                .json(&body(4, json!({"app_id": "com.example.empty"}))),
        ),
        // POST sets it.
        (
            "channel_self_set",
            Call::new("POST", "/channel_self").json(&body(5, json!({"channel": "beta"}))),
        ),
        (
            "channel_self_set_old_plugin",
            Call::new("POST", "/channel_self")
                .json(&body(6, json!({"channel": "beta", "plugin_version": OLD}))),
        ),
        (
            "channel_self_set_soft_missing_channel",
            Call::new("POST", "/channel_self").json(&body(7, json!({}))),
        ),
        (
            "channel_self_set_soft_channel_not_found",
            Call::new("POST", "/channel_self").json(&body(8, json!({"channel": "nope"}))),
        ),
        (
            "channel_self_set_soft_public_channel_self_set_not_allowed",
            Call::new("POST", "/channel_self").json(&body(9, json!({"channel": "production"}))),
        ),
        (
            "channel_self_set_soft_channel_self_set_not_allowed",
            Call::new("POST", "/channel_self").json(&body(10, json!({"channel": "locked"}))),
        ),
        (
            "channel_self_set_soft_cannot_override",
            Call::new("POST", "/channel_self")
                .json(&body(91, json!({"channel": "beta", "plugin_version": OLD}))),
        ),
        (
            "channel_self_set_soft_override_not_allowed",
            Call::new("POST", "/channel_self")
                .json(&body(11, json!({"channel": "beta", "plugin_version": OLD}))),
        ),
        // DELETE (and Electron's POST `unset`) unset it.
        (
            "channel_self_unset",
            Call::new("DELETE", "/channel_self").json(&body(12, json!({}))),
        ),
        (
            "channel_self_unset_old_plugin",
            Call::new("DELETE", "/channel_self").json(&body(6, json!({"plugin_version": OLD}))),
        ),
        (
            "channel_self_unset_soft_cannot_override",
            Call::new("DELETE", "/channel_self").json(&body(13, json!({"plugin_version": OLD}))),
        ),
        (
            "channel_self_unset_electron",
            Call::new("POST", "/channel_self").json(&body(
                14,
                json!({"platform": "electron", "action": "unset"}),
            )),
        ),
        // Errors every call can get.
        (
            "channel_self_error_invalid_json",
            Call::new("PUT", "/channel_self").raw("{"),
        ),
        (
            "channel_self_error_invalid_field",
            Call::new("PUT", "/channel_self").json(&info(json!({"device_id": "not-a-uuid"}))),
        ),
        (
            "channel_self_error_unknown_app",
            Call::new("PUT", "/channel_self").json(&body(16, json!({"app_id": "com.unknown.app"}))),
        ),
        (
            "channel_self_error_method_not_allowed",
            Call::new("PATCH", "/channel_self").json(&body(17, json!({}))),
        ),
    ];
    for (name, call) in shapes {
        insta::assert_json_snapshot!(name, reply(&s, call).await);
    }
    // The per-device limit: calls past it within one second get 429.
    let mut limited = None;
    for _ in 0..100 {
        let r = reply(
            &s,
            Call::new("PUT", "/channel_self").json(&body(18, json!({}))),
        )
        .await;
        if r["status"] == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("100 calls in a row never reached the per-device limit");
    insta::assert_json_snapshot!("channel_self_error_rate_limited", limited);
}

#[tokio::test]
async fn files_reply_shapes() {
    let s = Server::start().await;
    s.with_app().await;
    let b = s.bundle("1.0.1").await;
    let sha = b["blob_sha256"].as_str().unwrap().to_string();
    let path = format!("/files/{sha}.zip");
    let etag = format!("\"{sha}\"");
    let shapes = [
        ("files_200", Call::new("GET", path.as_str())),
        ("files_200_head", Call::new("HEAD", path.as_str())),
        (
            "files_206_range",
            Call::new("GET", path.as_str()).header("range", "bytes=0-9"),
        ),
        (
            "files_304_etag_matches",
            Call::new("GET", path.as_str()).header("if-none-match", etag.as_str()),
        ),
        (
            "files_416_range_not_satisfiable",
            Call::new("GET", path.as_str()).header("range", "bytes=999999-"),
        ),
        (
            "files_404",
            Call::new("GET", format!("/files/{}.zip", "0".repeat(64))),
        ),
    ];
    for (name, call) in shapes {
        let r = send(&s, call, FILE_HEADERS).await;
        insta::assert_json_snapshot!(name, replace_text(r, &sha, "<sha256>"));
    }
}

#[tokio::test]
async fn capgo_device_reply_shapes() {
    let s = Server::start().await;
    s.with_app().await;
    s.ok(
        "POST",
        &format!("/apps/{APP}/channels"),
        Some(json!({"name": "beta"})),
    )
    .await;
    // Two devices the server has seen (their rows are written in the background).
    for n in [1, 2] {
        s.check(json!({"device_id": device(n)})).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = s.api("GET", &format!("/apps/{APP}/devices"), None).await;
        if page["items"].as_array().is_some_and(|d| d.len() == 2) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "devices never written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let one = device(1);
    let key = |c: Call<'static>| c.header("authorization", ADMIN);
    let post = |b: Value| key(Call::new("POST", "/device").json(&b));
    let shapes = [
        (
            "capgo_device_post_channel",
            post(json!({"app_id": APP, "device_id": one, "channel": "beta"})),
        ),
        (
            "capgo_device_post_without_channel",
            post(json!({"app_id": APP, "device_id": one})),
        ),
        (
            "capgo_device_get_one",
            key(Call::new(
                "GET",
                format!("/device?app_id={APP}&device_id={one}"),
            )),
        ),
        (
            "capgo_device_get_page",
            key(Call::new("GET", format!("/device?app_id={APP}&limit=1"))),
        ),
        (
            "capgo_device_get_last_page",
            key(Call::new("GET", format!("/device?app_id={APP}"))),
        ),
        (
            "capgo_device_delete",
            key(Call::new("DELETE", "/device").json(&json!({"app_id": APP, "device_id": one}))),
        ),
        (
            "capgo_device_error_invalid_json",
            key(Call::new("POST", "/device").raw("{")),
        ),
        (
            "capgo_device_error_missing_app_id",
            post(json!({"device_id": one})),
        ),
        (
            "capgo_device_error_invalid_device_id",
            post(json!({"app_id": APP, "device_id": "x"})),
        ),
        (
            "capgo_device_error_version_id",
            post(json!({"app_id": APP, "device_id": one, "version_id": 3})),
        ),
        (
            "capgo_device_error_channel_not_found",
            post(json!({"app_id": APP, "device_id": one, "channel": "nope"})),
        ),
        (
            "capgo_device_error_public_channel",
            post(json!({"app_id": APP, "device_id": one, "channel": "production"})),
        ),
        (
            "capgo_device_error_device_not_found",
            key(Call::new(
                "GET",
                format!("/device?app_id={APP}&device_id={}", device(99)),
            )),
        ),
        (
            "capgo_device_error_no_key",
            Call::new("GET", format!("/device?app_id={APP}")),
        ),
    ];
    for (name, call) in shapes {
        let r = redact(
            reply(&s, call).await,
            &[
                "/body/updated_at",
                "/body/data/0/updated_at",
                "/body/data/1/updated_at",
            ],
            "<epoch ms>",
        );
        insta::assert_json_snapshot!(name, r);
    }
}

#[tokio::test]
async fn server_reply_shapes() {
    let s = Server::start().await;
    let shapes = [
        ("health_ok", Call::new("GET", "/health")),
        ("not_found", Call::new("GET", "/nope")),
    ];
    for (name, call) in shapes {
        insta::assert_json_snapshot!(name, reply(&s, call).await);
    }
}

#[tokio::test]
async fn manifest_size_reply_shapes() {
    let s = Server::start().await;
    s.with_app().await;
    let body = b"<html>1.0.1</html>".to_vec();
    let sha = updraft_core::crypto::sha256_hex(&body);
    s.uploaded(
        "1.0.1",
        "&channel=production",
        zip_of(&[("index.html", &body)]),
    )
    .await;
    let res = s
        .http
        .put(s.url(&format!("/api/v1/apps/{APP}/files/{sha}")))
        .bearer_auth(ADMIN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let manifest = json!({"files": [{"file_name": "index.html", "file_hash": sha, "sha256": sha}]});
    s.ok(
        "PUT",
        &format!("/apps/{APP}/bundles/1.0.1/manifest"),
        Some(manifest),
    )
    .await;
    let asked = json!([
        {"file_name": "index.html", "file_hash": sha, "download_url": format!("https://updates.example.com/files/{sha}")},
        {"file_name": "ext.js", "file_hash": "cd".repeat(32), "download_url": "https://cdn.example.com/ext.js"},
    ]);
    let shapes = [
        (
            "manifest_size_known_and_unknown",
            Call::new("POST", "/updates/manifest_size")
                .json(&info(json!({"version": "1.0.1", "manifest": asked}))),
        ),
        (
            "manifest_size_error_invalid_json",
            Call::new("POST", "/updates/manifest_size").raw("{"),
        ),
        (
            "manifest_size_error_unknown_app",
            Call::new("POST", "/updates/manifest_size")
                .json(&info(json!({"app_id": "com.unknown.app", "manifest": []}))),
        ),
    ];
    for (name, call) in shapes {
        insta::assert_json_snapshot!(name, reply(&s, call).await);
    }
}
