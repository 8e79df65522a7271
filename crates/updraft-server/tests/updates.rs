//! Story tests for `POST /updates`: one per behaviour of the decision list
//! (reference/capgo-backend.md §1.1, DESIGN compatibility decisions).

use serde_json::{json, Value};
use updraft_test_support::*;

fn assert_update(v: &Value, version: &str) {
    assert_eq!(v["version"], version, "{v}");
    let o = v.as_object().unwrap();
    for k in ["error", "kind", "message"] {
        assert!(
            !o.contains_key(k),
            "an update reply must not carry {k}: {v}"
        );
    }
    assert!(
        v["url"].as_str().unwrap().starts_with("http"),
        "absolute url: {v}"
    );
    assert!(o.contains_key("session_key"));
}

fn assert_no(v: &Value, code: &str, kind: &str) {
    assert_eq!(v["error"], code, "{v}");
    assert_eq!(v["kind"], kind, "{v}");
    assert!(v["message"].is_string());
}

#[tokio::test]
async fn new_device_gets_the_public_bundle_and_then_is_up_to_date() {
    let s = Server::start().await;
    s.with_app().await;
    let b = s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let v = s.check(json!({})).await;
    assert_update(&v, "1.0.1");
    assert_eq!(v["checksum"], b["checksum"]);
    assert_eq!(v["session_key"], "");
    // The URL serves exactly the uploaded zip.
    let zip = s.download(v["url"].as_str().unwrap()).await;
    assert_eq!(zip, zip_of(&[("index.html", b"1.0.1")]));
    let v = s.check(json!({"version_name": "1.0.1"})).await;
    assert_eq!(
        v,
        json!({"error": "no_new_version_available", "message": "No new version available", "kind": "up_to_date"})
    );
    s.settle().await;
    let offers = s.ok("GET", &format!("/apps/{APP}/offers"), None).await;
    assert_eq!(offers[0]["version"], "1.0.1");
    assert_eq!(offers[0]["count"], 1);
}

#[tokio::test]
async fn override_beats_default_channel_beats_public() {
    let s = Server::start().await;
    s.with_app().await;
    for v in ["1.0.1", "1.0.2", "1.0.3"] {
        s.bundle(v).await;
    }
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    s.add_channel(json!({"name": "beta", "bundle": "1.0.2", "allow_device_self_set": true}))
        .await;
    s.add_channel(json!({"name": "qa", "bundle": "1.0.3"}))
        .await;

    assert_update(&s.check(json!({})).await, "1.0.1");
    assert_update(&s.check(json!({"defaultChannel": "beta"})).await, "1.0.2");
    // A private, non-self-assignable defaultChannel falls back to the public channel.
    assert_update(&s.check(json!({"defaultChannel": "qa"})).await, "1.0.1");
    assert_update(
        &s.check(json!({"defaultChannel": "missing"})).await,
        "1.0.1",
    );
    // An admin override wins over defaultChannel, even to a private channel.
    s.ok(
        "PUT",
        &format!("/apps/{APP}/devices/{DEV}/override"),
        Some(json!({"channel": "qa"})),
    )
    .await;
    assert_update(&s.check(json!({"defaultChannel": "beta"})).await, "1.0.3");
    // A pin to a bundle beats every channel.
    s.ok(
        "PUT",
        &format!("/apps/{APP}/devices/{DEV}/override"),
        Some(json!({"bundle": "1.0.2"})),
    )
    .await;
    assert_update(&s.check(json!({})).await, "1.0.2");
    s.ok(
        "DELETE",
        &format!("/apps/{APP}/devices/{DEV}/override"),
        None,
    )
    .await;
    assert_update(&s.check(json!({})).await, "1.0.1");
    // The explain API says why.
    let e = s
        .ok(
            "POST",
            &format!("/apps/{APP}/explain"),
            Some(info(json!({"defaultChannel": "qa"}))),
        )
        .await;
    let trace = e["trace"].to_string();
    assert!(trace.contains("falling back to the public channel"), "{e}");
    assert_eq!(e["outcome"]["version"], "1.0.1");
}

#[tokio::test]
async fn no_public_channel_for_platform_is_no_channel() {
    let s = Server::start().await;
    s.with_app().await;
    s.set_channel("production", json!({"android": false})).await;
    assert_no(&s.check(json!({})).await, "no_channel", "failed");
    assert_no(
        &s.check(json!({"platform": "ios"})).await,
        "already_on_builtin",
        "up_to_date",
    );
}

#[tokio::test]
async fn version_policies_compare_against_the_native_version() {
    let s = Server::start().await;
    s.with_app().await;
    for v in ["2.0.0", "1.1.0", "1.0.5", "0.9.0"] {
        s.bundle(v).await;
    }
    let native = json!({"version_build": "1.0.0", "version_name": "1.0.0"});
    let case =
        |bundle: &str, policy: &str| json!({"bundle": bundle, "disable_auto_update": policy});

    s.set_channel("production", case("2.0.0", "major")).await;
    let v = s.check(native.clone()).await;
    assert_no(&v, "disable_auto_update_to_major", "blocked");
    assert_eq!(v["major"], true);
    s.set_channel("production", case("1.1.0", "major")).await;
    assert_update(&s.check(native.clone()).await, "1.1.0");

    s.set_channel("production", case("1.1.0", "minor")).await;
    assert_no(
        &s.check(native.clone()).await,
        "disable_auto_update_to_minor",
        "blocked",
    );
    s.set_channel("production", case("1.0.5", "minor")).await;
    assert_update(&s.check(native.clone()).await, "1.0.5");

    s.set_channel("production", case("1.0.5", "patch")).await;
    assert_no(
        &s.check(native.clone()).await,
        "disable_auto_update_to_patch",
        "blocked",
    );
    // Compared with version_build, not with the running bundle.
    assert_update(
        &s.check(json!({"version_build": "1.0.5", "version_name": "1.0.4"}))
            .await,
        "1.0.5",
    );

    s.set_channel("production", case("1.1.0", "version_number"))
        .await;
    assert_no(
        &s.check(native.clone()).await,
        "misconfigured_channel",
        "failed",
    );
    s.ok(
        "PATCH",
        &format!("/apps/{APP}/bundles/1.1.0"),
        Some(json!({"min_update_version": "1.0.2"})),
    )
    .await;
    assert_no(
        &s.check(native.clone()).await,
        "disable_auto_update_to_metadata",
        "blocked",
    );
    assert_update(
        &s.check(json!({"version_build": "1.0.3", "version_name": "1.0.3"}))
            .await,
        "1.1.0",
    );

    s.set_channel("production", case("2.0.0", "none")).await;
    assert_update(&s.check(native.clone()).await, "2.0.0");
    // Under-native stays on with 'none' until its own flag is cleared (ERRATA 21).
    s.set_channel("production", case("0.9.0", "none")).await;
    assert_no(
        &s.check(native.clone()).await,
        "disable_auto_update_under_native",
        "blocked",
    );
    s.set_channel(
        "production",
        json!({"disable_auto_update_under_native": false}),
    )
    .await;
    assert_update(&s.check(native.clone()).await, "0.9.0");
}

#[tokio::test]
async fn build_device_and_platform_flags() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    s.ok(
        "PUT",
        &format!("/apps/{APP}/devices/{DEV}/override"),
        Some(json!({"channel": "production"})),
    )
    .await;
    let cases = [
        (
            json!({"allow_prod": false}),
            json!({}),
            "disable_prod_build",
        ),
        (
            json!({"allow_dev": false}),
            json!({"is_prod": false}),
            "disable_dev_build",
        ),
        (json!({"allow_device": false}), json!({}), "disable_device"),
        (
            json!({"allow_emulator": false}),
            json!({"is_emulator": true}),
            "disable_emulator",
        ),
        (
            json!({"ios": false}),
            json!({"platform": "ios"}),
            "disabled_platform_ios",
        ),
        (
            json!({"android": false}),
            json!({}),
            "disabled_platform_android",
        ),
    ];
    for (flags, device, code) in cases {
        s.set_channel("production", flags.clone()).await;
        assert_no(&s.check(device.clone()).await, code, "blocked");
        let mut reset = flags.as_object().unwrap().clone();
        for v in reset.values_mut() {
            *v = json!(true);
        }
        s.set_channel("production", Value::Object(reset)).await;
        assert_update(&s.check(device).await, "1.0.1");
    }
}

#[tokio::test]
async fn channel_on_builtin_makes_devices_revert() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    assert_update(&s.check(json!({})).await, "1.0.1");
    s.set_channel("production", json!({"bundle": "builtin"}))
        .await;
    // Only the bare reply makes the plugin revert.
    assert_eq!(
        s.check(json!({"version_name": "1.0.1"})).await,
        json!({"version": "builtin"})
    );
    assert_no(
        &s.check(json!({})).await,
        "already_on_builtin",
        "up_to_date",
    );
    // The previous bundle is one call away.
    let w = s
        .ok(
            "POST",
            &format!("/apps/{APP}/channels/production/rollback"),
            None,
        )
        .await;
    assert_eq!(w["channel"]["bundle_version"], "1.0.1");
}

#[tokio::test]
async fn a_bundle_the_device_rolled_back_is_not_offered_again() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.bundle("1.0.2").await;
    s.set_channel("production", json!({"bundle": "1.0.2"}))
        .await;
    assert_update(&s.check(json!({})).await, "1.0.2");
    let fail = info(
        json!({"action": "update_fail", "version_name": "1.0.2", "old_version_name": "builtin"}),
    );
    let (status, v) = s.device("POST", "/stats", &json!([fail])).await;
    assert_eq!(
        (status, v["results"][0]["status"].clone()),
        (200, json!("ok"))
    );
    let v = s.check(json!({})).await;
    assert_no(&v, "bundle_failed_on_device", "blocked");
    // Another device still gets it; the channel moving on lifts the block.
    assert_update(
        &s.check(json!({"device_id": "00000000-0000-4000-8000-000000000099"}))
            .await,
        "1.0.2",
    );
    s.settle().await;
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["failed_bundles"], json!(["1.0.2"]));
    let ev = s
        .ok(
            "GET",
            &format!("/apps/{APP}/events?action=update_fail"),
            None,
        )
        .await;
    assert_eq!(ev.as_array().unwrap().len(), 1);
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    assert_update(&s.check(json!({})).await, "1.0.1");
}

#[tokio::test]
async fn key_id_mismatch_blocks_new_plugins_only() {
    let s = Server::start().await;
    s.with_app().await;
    let sk = "AAAAAAAAAAAAAAAAAAAAAA==:BBBB";
    let body = json!({"version": "1.0.1", "external_url": "https://cdn.example.com/b.zip", "checksum": "a".repeat(512),
        "session_key": sk, "key_id": "MIIBCgKCAQEAqJikYizo"});
    s.ok("POST", &format!("/apps/{APP}/bundles/external"), Some(body))
        .await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let v = s.check(json!({"key_id": "MIIBCgKCAQEAother000"})).await;
    assert_no(&v, "key_id_mismatch", "blocked");
    let v = s
        .check(json!({"key_id": "MIIBCgKCAQEAother000", "plugin_version": "8.40.7"}))
        .await;
    assert_update(&v, "1.0.1");
    let v = s.check(json!({"key_id": "MIIBCgKCAQEAqJikYizo"})).await;
    assert_update(&v, "1.0.1");
    assert_eq!(v["url"], "https://cdn.example.com/b.zip");
    assert_eq!(v["session_key"], sk);
}

#[tokio::test]
async fn metadata_is_exposed_only_when_the_app_allows_it() {
    let s = Server::start().await;
    s.with_app().await;
    let (st, _) = s
        .upload(
            "1.0.1",
            "&link=https://example.com/notes&comment=Fixes",
            zip_of(&[("index.html", b"x")]),
        )
        .await;
    assert_eq!(st, 201);
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let v = s.check(json!({})).await;
    assert!(v.get("link").is_none());
    s.ok(
        "PATCH",
        &format!("/apps/{APP}"),
        Some(json!({"expose_metadata": true})),
    )
    .await;
    let v = s.check(json!({})).await;
    assert_eq!(
        (v["link"].clone(), v["comment"].clone()),
        (json!("https://example.com/notes"), json!("Fixes"))
    );
}

#[tokio::test]
async fn electron_gets_camel_case_session_key_and_native_does_not() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let v = s
        .check(json!({"platform": "electron", "plugin_version": "0.0.1", "custom_id": null}))
        .await;
    assert_update(&v, "1.0.1");
    assert_eq!(v["sessionKey"], "");
    assert!(s.check(json!({})).await.get("sessionKey").is_none());
}

#[tokio::test]
async fn bad_requests_are_400_with_capgo_codes_and_unknown_apps_429() {
    let s = Server::start().await;
    s.with_app().await;
    let raw = |body: &'static str| {
        let s = &s;
        async move {
            let r = s
                .http
                .post(s.url("/updates"))
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (st, v) = raw("{not json").await;
    assert_eq!(
        (st, v["error"].as_str().unwrap()),
        (400, "invalid_json_parse_body")
    );
    assert!(v["moreInfo"].is_object());
    let (st, v) = raw("{}").await;
    assert_eq!(
        (st, v["error"].as_str().unwrap()),
        (400, "invalid_json_body")
    );
    let (st, v) = s
        .device("POST", "/updates", &info(json!({"is_prod": "yes"})))
        .await;
    assert_eq!(
        (st, v["error"].as_str().unwrap()),
        (400, "invalid_json_body")
    );
    let (st, v) = s
        .device("POST", "/updates", &info(json!({"device_id": "nope"})))
        .await;
    assert_eq!(
        (st, v["error"].as_str().unwrap()),
        (400, "invalid_json_body")
    );
    let (st, v) = s
        .device("POST", "/updates", &info(json!({"version_build": "one"})))
        .await;
    assert_eq!((st, v["error"].as_str().unwrap()), (400, "semver_error"));
    let (st, v) = s
        .device(
            "POST",
            "/updates",
            &info(json!({"app_id": "com.unknown.app"})),
        )
        .await;
    assert_eq!((st, v["error"].as_str().unwrap()), (429, "on_premise_app"));
    // Created right after: devices are answered at once (the "unknown" memory is dropped).
    s.ok("POST", "/apps", Some(json!({"app_id": "com.unknown.app"})))
        .await;
    let (st, v) = s
        .device(
            "POST",
            "/updates",
            &info(json!({"app_id": "com.unknown.app"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_ne!(v["error"], "on_premise_app", "{v}");
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024));
    let r = s
        .http
        .post(s.url("/updates"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    // Upper-case device ids are lower-cased, as iOS sends them.
    let v = s.check(json!({"device_id": DEV.to_uppercase()})).await;
    assert_no(&v, "already_on_builtin", "up_to_date");
}

#[tokio::test]
async fn a_manifest_reply_keeps_a_valid_absolute_url() {
    let s = Server::start().await;
    s.with_app().await;
    let entry = |name: &str| json!({"file_name": name, "file_hash": "b".repeat(64), "download_url": format!("https://cdn.example.com/{name}")});
    let body = json!({"version": "1.0.1", "checksum": "c".repeat(64), "manifest": [entry("index.html"), entry("js/app.js.br")]});
    s.ok("POST", &format!("/apps/{APP}/bundles/external"), Some(body))
        .await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let v = s.check(json!({})).await;
    assert_update(&v, "1.0.1");
    assert_eq!(v["manifest"].as_array().unwrap().len(), 2);
    assert_eq!(v["manifest"][1]["file_name"], "js/app.js.br");
    assert!(v["url"].as_str().unwrap().starts_with(&s.base), "{v}");
    // Plugins too old for manifests get none.
    assert!(s
        .check(json!({"plugin_version": "6.24.0"}))
        .await
        .get("manifest")
        .is_none());
    // Unsafe or duplicate manifest paths are refused.
    for bad in [
        json!([entry("../x.js")]),
        json!([entry("a.js"), entry("a.js.br")]),
    ] {
        let body = json!({"version": "1.0.2", "checksum": "c".repeat(64), "manifest": bad});
        let (st, v) = s
            .api("POST", &format!("/apps/{APP}/bundles/external"), Some(body))
            .await;
        assert_eq!(
            (st, v["error"].as_str().unwrap()),
            (400, "invalid_manifest")
        );
    }
    let (st, _) = s
        .api(
            "POST",
            &format!("/apps/{APP}/bundles/external"),
            Some(json!({"version": "1.0.2", "checksum": "c".repeat(64)})),
        )
        .await;
    assert_eq!(st, 400);
}
