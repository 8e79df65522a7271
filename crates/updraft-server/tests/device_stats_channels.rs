//! Story tests for `/stats` and `/channel_self`, for current and legacy plugins
//! and Capgo's Electron updater.

use serde_json::{json, Value};
use updraft_test_support::*;

#[tokio::test]
async fn stats_single_and_batch_with_a_bad_slot() {
    let s = Server::start().await;
    s.with_app().await;
    let ev = |action: &str| {
        info(
            json!({"action": action, "version_name": "1.0.0", "old_version_name": "", "timestamp": 1}),
        )
    };
    let (st, v) = s
        .device("POST", "/stats", &ev("app_moved_to_foreground"))
        .await;
    assert_eq!((st, v), (200, json!({"status": "ok"})));
    let batch = json!([ev("set"), ev("brand_new_action"), {"app_id": APP, "device_id": "bad"}, ev("download_complete")]);
    let (st, v) = s.device("POST", "/stats", &batch).await;
    assert_eq!(st, 200);
    let statuses: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "ok", "error", "ok"]);
    assert_eq!(v["results"][2]["index"], 2);
    assert_eq!(v["results"][2]["error"], "invalid_json_body");
    let (st, v) = s.device("POST", "/stats", &json!([])).await;
    assert_eq!((st, v), (200, json!({"status": "ok", "results": []})));
    s.settle().await;
    let events = s
        .ok("GET", &format!("/apps/{APP}/events?device_id={DEV}"), None)
        .await;
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "download_complete",
            "brand_new_action",
            "set",
            "app_moved_to_foreground"
        ]
    );
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["version_name"], "1.0.0");
    // A single bad event is a 400; an unknown app is Capgo's 429.
    let (st, _) = s.device("POST", "/stats", &json!({"app_id": APP})).await;
    assert_eq!(st, 400);
    let (st, v) = s
        .device(
            "POST",
            "/stats",
            &info(json!({"app_id": "com.other.app", "action": "set"})),
        )
        .await;
    assert_eq!((st, v["error"].as_str().unwrap()), (429, "on_premise_app"));
}

#[tokio::test]
async fn failure_actions_do_not_move_the_device_row() {
    let s = Server::start().await;
    s.with_app().await;
    let (st, _) = s
        .device(
            "POST",
            "/stats",
            &json!([info(json!({"action": "set", "version_name": "1.0.0"}))]),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = s
        .device(
            "POST",
            "/stats",
            &json!([info(
                json!({"action": "checksum_fail", "version_name": "9.9.9"})
            )]),
        )
        .await;
    assert_eq!(st, 200);
    s.settle().await;
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["version_name"], "1.0.0");
}

/// Repeated identical checks are filtered before the database (single-node
/// SQLite); the stored row must still follow every change, also back to an
/// earlier value, and come back after the app is deleted and created again.
#[tokio::test]
async fn device_rows_follow_every_change_through_the_seen_filter() {
    let s = Server::start().await;
    s.with_app().await;
    let stored = || async {
        s.settle().await;
        let d = s
            .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
            .await;
        (
            d["version_name"].as_str().unwrap_or_default().to_string(),
            d["custom_id"].clone(),
        )
    };
    for (version, custom) in [
        ("1.0.1", ""),
        ("1.0.1", ""),
        ("1.0.2", ""),
        ("1.0.1", ""),
        ("1.0.1", "user-7"),
        ("1.0.1", "user-7"),
    ] {
        s.check(json!({"version_name": version, "custom_id": custom}))
            .await;
        let (v, c) = stored().await;
        assert_eq!(v, version);
        if !custom.is_empty() {
            assert_eq!(c, custom);
        }
    }
    // Stats other than failures move the row too, through the same filter.
    let (st, _) = s
        .device(
            "POST",
            "/stats",
            &info(json!({"action": "set", "version_name": "1.0.3"})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(stored().await.0, "1.0.3");
    s.check(json!({"version_name": "1.0.1"})).await;
    assert_eq!(stored().await.0, "1.0.1");

    let (st, _) = s.api("DELETE", &format!("/apps/{APP}"), None).await;
    assert_eq!(st, 204);
    s.with_app().await;
    s.check(json!({"version_name": "1.0.1"})).await;
    assert_eq!(
        stored().await.0,
        "1.0.1",
        "the same check after the app was re-created is written again"
    );
}

async fn channels(s: &Server) {
    s.with_app().await;
    s.add_channel(json!({"name": "beta", "allow_device_self_set": true}))
        .await;
    s.add_channel(json!({"name": "internal"})).await;
    s.add_channel(json!({"name": "ios-only", "allow_device_self_set": true, "android": false}))
        .await;
}

#[tokio::test]
async fn channel_self_for_current_plugins_keeps_nothing_on_the_server() {
    let s = Server::start().await;
    channels(&s).await;
    let (st, v) = s
        .device("POST", "/channel_self", &info(json!({"channel": "beta"})))
        .await;
    assert_eq!((st, v), (200, json!({"status": "ok", "allowSet": true})));
    let (_, v) = s
        .device(
            "POST",
            "/channel_self",
            &info(json!({"channel": "internal"})),
        )
        .await;
    assert_eq!(v["error"], "channel_self_set_not_allowed");
    let (_, v) = s
        .device(
            "POST",
            "/channel_self",
            &info(json!({"channel": "production"})),
        )
        .await;
    assert_eq!(v["error"], "public_channel_self_set_not_allowed");
    let (_, v) = s
        .device("POST", "/channel_self", &info(json!({"channel": "nope"})))
        .await;
    assert_eq!(
        (v["error"].clone(), v["channel"].clone()),
        (json!("channel_not_found"), json!("nope"))
    );
    let (_, v) = s.device("POST", "/channel_self", &info(json!({}))).await;
    assert_eq!(v["error"], "missing_channel");
    let d = s
        .api("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d.0, 404, "nothing stored server-side for new plugins");

    // PUT: the channel the device is actually served from.
    let (_, v) = s.device("PUT", "/channel_self", &info(json!({}))).await;
    assert_eq!(
        v,
        json!({"channel": "production", "status": "default", "allowSet": false})
    );
    let (_, v) = s
        .device(
            "PUT",
            "/channel_self",
            &info(json!({"defaultChannel": "beta"})),
        )
        .await;
    assert_eq!(v["channel"], "beta");
    s.ok(
        "PUT",
        &format!("/apps/{APP}/devices/{DEV}/override"),
        Some(json!({"channel": "internal"})),
    )
    .await;
    // The plugin persists what PUT answers as its own channel: an admin's
    // override is not it (it would stick after the admin removes it).
    let (_, v) = s.device("PUT", "/channel_self", &info(json!({}))).await;
    assert_eq!(
        (v["channel"].clone(), v["status"].clone()),
        (json!("production"), json!("default"))
    );
    let (_, v) = s
        .device(
            "PUT",
            "/channel_self",
            &info(json!({"defaultChannel": "beta"})),
        )
        .await;
    assert_eq!(v["channel"], "beta");

    // GET lists self-assignable or public channels for this platform, ids as numbers.
    let q = format!("/channel_self?app_id={APP}&device_id={DEV}&platform=android&is_emulator=false&is_prod=true&plugin_version=8.51.14");
    let v = s.get_json(&q).await;
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["beta", "production"]);
    assert!(v[0]["id"].is_i64());
    assert_eq!(v[0]["allow_self_set"], true);
    let v = s.get_json(&q.replace("android", "ios")).await;
    assert_eq!(v.as_array().unwrap().len(), 3);

    // DELETE from a new plugin changes nothing.
    let (st, v) = s.device("DELETE", "/channel_self", &info(json!({}))).await;
    assert_eq!((st, v), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn channel_self_for_old_plugins_stores_the_choice_server_side() {
    let s = Server::start().await;
    channels(&s).await;
    s.bundle("1.0.1").await;
    s.set_channel("beta", json!({"bundle": "1.0.1"})).await;
    let old = json!({"plugin_version": "6.25.8"});
    let with = |extra: Value| {
        let mut v = info(old.clone());
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let (_, v) = s
        .device("POST", "/channel_self", &with(json!({"channel": "beta"})))
        .await;
    assert_eq!(v, json!({"status": "ok"}));
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["override"], json!({"type": "channel", "channel": "beta"}));
    // The server-side choice is served without any defaultChannel.
    assert_eq!(s.check(old.clone()).await["version"], "1.0.1");
    let (_, v) = s.device("PUT", "/channel_self", &with(json!({}))).await;
    assert_eq!(
        (v["channel"].clone(), v["status"].clone()),
        (json!("beta"), json!("override"))
    );
    // Legacy DELETE sends a JSON body.
    let (_, v) = s.device("DELETE", "/channel_self", &with(json!({}))).await;
    assert_eq!(v, json!({"status": "ok"}));
    let (_, v) = s.device("DELETE", "/channel_self", &with(json!({}))).await;
    assert_eq!(v["error"], "cannot_override");
    assert_eq!(s.check(old.clone()).await["error"], "already_on_builtin");
    // Choosing the public channel removes the override.
    s.device("POST", "/channel_self", &with(json!({"channel": "beta"})))
        .await;
    s.set_channel("production", json!({"allow_device_self_set": true}))
        .await;
    let (_, v) = s
        .device(
            "POST",
            "/channel_self",
            &with(json!({"channel": "production"})),
        )
        .await;
    assert_eq!(v, json!({"status": "ok"}));
    s.settle().await; // the device row comes from its queued /updates writes
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["override"], Value::Null);
}

#[tokio::test]
async fn electron_channel_calls() {
    let s = Server::start().await;
    channels(&s).await;
    let e = |extra: Value| {
        let mut v =
            info(json!({"platform": "electron", "plugin_version": "0.0.1", "custom_id": null}));
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let (_, v) = s
        .device(
            "POST",
            "/channel_self",
            &e(json!({"action": "set", "channel": "beta"})),
        )
        .await;
    assert_eq!(v["status"], "ok");
    let (_, v) = s
        .device("POST", "/channel_self", &e(json!({"action": "unset"})))
        .await;
    assert_eq!(v, json!({"status": "ok"}));
    let base = format!("/channel_self?app_id={APP}&device_id={DEV}&platform=electron&plugin_version=0.0.1&version_build=1.0.0&version_name=1.0.0&is_prod=true&is_emulator=false&defaultChannel=");
    let v = s.get_json(&format!("{base}&action=list")).await;
    assert_eq!(v["channels"].as_array().unwrap().len(), 3);
    let v = s.get_json(&base).await;
    assert_eq!(
        (v["channel"].clone(), v["allow_set"].clone()),
        (json!("production"), json!(false))
    );
}

#[tokio::test]
async fn a_full_write_queue_answers_429_with_retry_after_and_keeps_nothing_half_done() {
    let s = Server::start_tweaked(Backend::Sqlite, |c| {
        c.telemetry.write_queue = 4;
        c.telemetry.flush_interval_ms = 60_000; // the writer holds what it took; the queue stays full
    })
    .await;
    s.with_app().await;
    let ev = |n: usize| {
        json!((0..n)
            .map(|_| info(json!({"action": "set"})))
            .collect::<Vec<_>>())
    };
    let (st, _) = s.device("POST", "/stats", &ev(1)).await; // taken by the writer
    assert_eq!(st, 200);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let res = s
        .http
        .post(s.url("/stats"))
        .json(&ev(5))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"], "too_many_requests");
    // /updates is still answered from memory.
    assert_eq!(s.check(json!({})).await["error"], "already_on_builtin");
}

#[tokio::test]
async fn channel_self_is_limited_per_device_with_a_retry_hint() {
    let s = Server::start().await;
    s.with_app().await;
    let body = info(json!({}));
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..7 {
        let res = s
            .http
            .put(s.url("/channel_self"))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            retry_after = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["error"], "too_many_requests");
        }
    }
    assert_eq!(&statuses[..5], &[200; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|&c| c == 429), "{statuses:?}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Another device is not affected; the same one may call again a second later.
    let other = info(json!({"device_id": "00000000-0000-4000-8000-0000000000bb"}));
    assert_eq!(s.device("PUT", "/channel_self", &other).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(s.device("PUT", "/channel_self", &body).await.0, 200);
}

/// An admin's override or pin wins over an old plugin's own channel calls.
#[tokio::test]
async fn old_plugins_cannot_replace_or_remove_an_admin_override() {
    let s = Server::start().await;
    channels(&s).await;
    let old = |extra: Value| {
        let mut v = info(json!({"plugin_version": "6.25.8"}));
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let path = format!("/apps/{APP}/devices/{DEV}/override");
    let admin = |body: Value| s.ok("PUT", &path, Some(body));
    admin(json!({"channel": "internal"})).await;
    for (method, body) in [
        ("POST", old(json!({"channel": "beta"}))),
        ("DELETE", old(json!({}))),
    ] {
        let (st, v) = s.device(method, "/channel_self", &body).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (200, Some("cannot_override")),
            "{method}"
        );
    }
    // Choosing the public channel would remove the override: refused too.
    s.set_channel("production", json!({"allow_device_self_set": true}))
        .await;
    let (_, v) = s
        .device(
            "POST",
            "/channel_self",
            &old(json!({"channel": "production"})),
        )
        .await;
    assert_eq!(v["error"], "cannot_override");
    s.settle().await;
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(
        d["override"],
        json!({"type": "channel", "channel": "internal"})
    );
    // A pin as well.
    s.bundle("1.0.1").await;
    admin(json!({"bundle": "1.0.1"})).await;
    let (_, v) = s
        .device("POST", "/channel_self", &old(json!({"channel": "beta"})))
        .await;
    assert_eq!(v["error"], "cannot_override");
    assert_eq!(
        s.check(json!({"plugin_version": "6.25.8"})).await["version"],
        "1.0.1"
    );
}

/// Random device ids cannot create self-assigned channels without bound.
#[tokio::test]
async fn self_assigned_channels_per_app_are_capped() {
    let s =
        Server::start_tweaked(Backend::Sqlite, |c| c.limits.max_self_assigned_devices = 2).await;
    channels(&s).await;
    for i in 0..3 {
        let dev = format!("00000000-0000-4000-8000-00000000010{i}");
        let (_, v) = s
            .device(
                "POST",
                "/channel_self",
                &info(json!({"plugin_version": "6.25.8", "device_id": dev, "channel": "beta"})),
            )
            .await;
        if i < 2 {
            assert_eq!(v, json!({"status": "ok"}), "device {i}");
        } else {
            assert_eq!(v["error"], "override_not_allowed", "device {i}");
        }
    }
}
