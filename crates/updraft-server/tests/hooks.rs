//! Inbound deploy hooks: a GitHub-signed release event promotes, a Standard
//! Webhooks-signed alert pauses a rollout; bad signatures, replays, stale
//! timestamps and calls meant for another app are refused with clear errors
//! and change nothing. Calls are signed here with independent
//! implementations: Python's `hmac` (GitHub's scheme) and the Standard
//! Webhooks reference library.

use serde_json::{json, Value};
use updraft_test_support::*;

/// Runs `script` in Python with `args`, `input` on stdin; its stdout, trimmed.
fn py(script: &str, args: &[&str], input: &[u8]) -> String {
    let out = python(script, args, input, "standardwebhooks");
    String::from_utf8(out).unwrap().trim().to_string()
}

fn github_signature(secret: &str, body: &[u8]) -> String {
    let hex = py(
        "import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
        &[secret],
        body,
    );
    format!("sha256={hex}")
}

fn standard_signature(secret: &str, id: &str, ts: i64, body: &str) -> String {
    py(
        "import sys, datetime\nfrom standardwebhooks import Webhook\nts = datetime.datetime.fromtimestamp(int(sys.argv[3]), tz=datetime.timezone.utc)\nprint(Webhook(sys.argv[1]).sign(sys.argv[2], ts, sys.stdin.read()))",
        &[secret, id, &ts.to_string()],
        body.as_bytes(),
    )
}

/// POSTs `body` to the hook at `path` with `headers`; the status and JSON reply.
async fn call(s: &Server, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, Value) {
    let mut r = reqwest::Client::new().post(s.url(path)).body(body.to_vec());
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn hook(s: &Server, body: Value) -> (String, String, i64) {
    let h = s
        .ok("POST", &format!("/apps/{APP}/hooks"), Some(body))
        .await;
    (
        h["path"].as_str().unwrap().to_string(),
        h["secret"].as_str().unwrap().to_string(),
        h["id"].as_i64().unwrap(),
    )
}

async fn production(s: &Server) -> String {
    s.ok("GET", &format!("/apps/{APP}/channels/production"), None)
        .await["bundle_version"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn change_count(s: &Server) -> usize {
    s.ok("GET", &format!("/apps/{APP}/changes"), None).await["items"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_github_signed_release_promotes_and_bad_calls_change_nothing() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.bundle("1.0.2").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let (path, secret, id) = hook(
        &s,
        json!({"action": "promote", "channel": "production", "version_pointer": "/release/tag_name"}),
    )
    .await;
    let listed = s.ok("GET", &format!("/apps/{APP}/hooks"), None).await;
    assert!(
        listed[0].get("secret").is_none() && listed[0].get("path").is_none(),
        "{listed}"
    );
    let event = |action: &str, tag: &str| {
        json!({"action": action, "release": {"tag_name": tag}, "repository": {"full_name": "acme/app"}})
            .to_string()
            .into_bytes()
    };
    let github = |body: &[u8], delivery: &str, kind: &str| {
        vec![
            ("content-type", "application/json".to_string()),
            ("x-github-event", kind.to_string()),
            ("x-github-delivery", delivery.to_string()),
            ("x-hub-signature-256", github_signature(&secret, body)),
        ]
    };

    // Refused, and nothing changes: unsigned, wrongly signed, another app's, unknown hook.
    let body = event("published", "v1.0.2");
    let before = change_count(&s).await;
    let (st, v) = call(&s, &path, &[("x-github-delivery", "d-0".into())], &body).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("missing_signature")),
        "{v}"
    );
    let mut forged = github(&body, "d-1", "release");
    forged[3].1 = github_signature("not the secret", &body);
    let (st, v) = call(&s, &path, &forged, &body).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("invalid_signature")),
        "{v}"
    );
    let tampered = event("published", "v1.0.1");
    let (st, v) = call(&s, &path, &github(&body, "d-2", "release"), &tampered).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("invalid_signature")),
        "{v}"
    );
    let elsewhere = json!({"action": "published", "release": {"tag_name": "v1.0.2"}, "app_id": "com.other.app"})
        .to_string()
        .into_bytes();
    let (st, v) = call(&s, &path, &github(&elsewhere, "d-3", "release"), &elsewhere).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (403, Some("hook_app_mismatch")),
        "{v}"
    );
    let (st, _) = call(
        &s,
        "/api/v1/hooks/hk_0000",
        &github(&body, "d-4", "release"),
        &body,
    )
    .await;
    assert_eq!(st, 404);
    assert_eq!(production(&s).await, "1.0.1");
    assert_eq!(
        change_count(&s).await,
        before,
        "no refused call changed anything"
    );

    // GitHub's ping and a draft release act on nothing.
    let (st, v) = call(&s, &path, &github(b"{}", "d-5", "ping"), b"{}").await;
    assert_eq!((st, v["changed"].as_bool()), (200, Some(false)), "{v}");
    let draft = event("created", "v1.0.2");
    let (st, v) = call(&s, &path, &github(&draft, "d-6", "release"), &draft).await;
    assert_eq!((st, v["changed"].as_bool()), (200, Some(false)), "{v}");

    // A published release promotes, stamped with the hook.
    let (st, v) = call(&s, &path, &github(&body, "d-7", "release"), &body).await;
    assert_eq!((st, v["changed"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(production(&s).await, "1.0.2");
    let changes = s.ok("GET", &format!("/apps/{APP}/changes"), None).await;
    let last = changes["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["actor"].as_str()),
        (Some("channel.updated"), Some(format!("hook:{id}").as_str()))
    );

    // The same call again is a replay, under any delivery id: GitHub's
    // form signs the body alone.
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    for delivery in ["d-7", "d-70"] {
        let (st, v) = call(&s, &path, &github(&body, delivery, "release"), &body).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (409, Some("replayed")),
            "{delivery}: {v}"
        );
    }
    assert_eq!(production(&s).await, "1.0.1");

    // The signed body decides, not the (unsigned) event header: a retracted
    // release sent without it, or a pre-release, does not act.
    let retracted = event("unpublished", "v1.0.2");
    let mut bare = github(&retracted, "d-10", "release");
    bare.remove(1);
    let (st, v) = call(&s, &path, &bare, &retracted).await;
    assert_eq!((st, v["changed"].as_bool()), (200, Some(false)), "{v}");
    let pre = json!({"action": "published", "release": {"tag_name": "v1.0.2", "prerelease": true}})
        .to_string()
        .into_bytes();
    let (st, v) = call(&s, &path, &github(&pre, "d-11", "release"), &pre).await;
    assert_eq!((st, v["changed"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(production(&s).await, "1.0.1");

    // A call whose action fails may be sent again once it can succeed.
    let later = event("published", "v1.0.3");
    let (st, v) = call(&s, &path, &github(&later, "d-8", "release"), &later).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("unknown_bundle")),
        "{v}"
    );
    s.bundle("1.0.3").await;
    let (st, v) = call(&s, &path, &github(&later, "d-8", "release"), &later).await;
    assert_eq!((st, v["changed"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(production(&s).await, "1.0.3");

    // Deleted: the URL is gone.
    s.ok("DELETE", &format!("/apps/{APP}/hooks/{id}"), None)
        .await;
    let (st, _) = call(&s, &path, &github(&body, "d-9", "release"), &body).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn a_signed_alert_pauses_the_rollout_within_its_time_window() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.bundle("1.1.0").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    s.ok(
        "POST",
        &format!("/apps/{APP}/channels/production/rollout"),
        Some(json!({"bundle": "1.1.0"})),
    )
    .await;
    let (path, secret, id) = hook(
        &s,
        json!({"action": "pause_rollout", "channel": "production"}),
    )
    .await;
    let now = updraft_server::now_ms() / 1000;
    let alert = json!({"status": "firing", "title": "crash rate above 2% on 1.1.0"}).to_string();
    let signed = |id: &str, ts: i64, body: &str| {
        vec![
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", ts.to_string()),
            (
                "webhook-signature",
                standard_signature(&secret, id, ts, body),
            ),
        ]
    };
    let state = || async {
        s.ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await["rollout"]["state"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let (st, v) = call(
        &s,
        &path,
        &signed("msg_old", now - 600, &alert),
        alert.as_bytes(),
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("stale_timestamp")),
        "{v}"
    );
    let resolved = json!({"status": "resolved", "title": "ok"}).to_string();
    let (st, v) = call(
        &s,
        &path,
        &signed("msg_r", now, &resolved),
        resolved.as_bytes(),
    )
    .await;
    assert_eq!((st, v["changed"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(state().await, "running");

    let (st, v) = call(&s, &path, &signed("msg_1", now, &alert), alert.as_bytes()).await;
    assert_eq!((st, v["changed"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(state().await, "paused");
    let status = s
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(
        status["rollout"]["reason"],
        format!("paused by hook {id}: crash rate above 2% on 1.1.0")
    );
    assert!(
        v.get("rollout").is_none(),
        "a caller without a key sees a summary only: {v}"
    );
    let (st, v) = call(&s, &path, &signed("msg_1", now, &alert), alert.as_bytes()).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("replayed")), "{v}");
    let (st, v) = call(&s, &path, &signed("msg_2", now, &alert), alert.as_bytes()).await;
    assert_eq!(
        (st, v["changed"].as_bool()),
        (200, Some(false)),
        "already paused: {v}"
    );
}

#[tokio::test]
async fn hooks_are_made_by_write_keys_for_channels_that_exist() {
    let s = Server::start().await;
    s.with_app().await;
    let path = format!("/apps/{APP}/hooks");
    for (body, code) in [
        (
            json!({"action": "promote", "channel": "nope"}),
            "unknown_channel",
        ),
        (
            json!({"action": "promote", "channel": "production", "version_pointer": "release.tag"}),
            "invalid_hook",
        ),
        (
            json!({"action": "promote", "channel": "production", "plan": {"steps": [{"percent": 10}]}}),
            "invalid_hook",
        ),
        (
            json!({"action": "start_rollout", "channel": "production", "plan": {"steps": []}}),
            "invalid_plan",
        ),
        (
            json!({"action": "deploy", "channel": "production"}),
            "invalid_json_body",
        ),
    ] {
        let (st, v) = s.api("POST", &path, Some(body.clone())).await;
        assert_eq!((st, v["error"].as_str()), (400, Some(code)), "{body}: {v}");
    }
    let reader = s
        .ok(
            "POST",
            "/keys",
            Some(json!({"name": "r", "mode": "upload", "apps": [APP]})),
        )
        .await;
    let reader = reader["secret"].as_str().unwrap();
    let (st, _) = s
        .api_as(
            reader,
            "POST",
            &path,
            Some(json!({"action": "promote", "channel": "production"})),
        )
        .await;
    assert_eq!(st, 403, "an upload key cannot make a hook that promotes");
    let (st, v) = s.api_as(reader, "GET", &path, None).await;
    assert_eq!((st, v), (200, json!([])));
}

#[tokio::test]
async fn a_standard_webhooks_call_starts_a_rollout_of_the_bundle_it_names() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.bundle("1.1.0").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let (path, secret, _) = hook(
        &s,
        json!({"action": "start_rollout", "channel": "production"}),
    )
    .await;
    let now = updraft_server::now_ms() / 1000;
    let body = json!({"bundle": "v1.1.0", "run": "42-1"}).to_string();
    let headers = vec![
        ("webhook-id", "msg_run_42".to_string()),
        ("webhook-timestamp", now.to_string()),
        (
            "webhook-signature",
            standard_signature(&secret, "msg_run_42", now, &body),
        ),
    ];
    let (st, v) = call(&s, &path, &headers, body.as_bytes()).await;
    assert_eq!(
        (st, v["changed"].as_bool(), v["bundle"].as_str()),
        (200, Some(true), Some("1.1.0")),
        "{v}"
    );
    let status = s
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(
        (
            status["rollout"]["candidate_version"].as_str(),
            status["rollout"]["state"].as_str(),
            v["rollout_id"].as_i64()
        ),
        (
            Some("1.1.0"),
            Some("running"),
            status["rollout"]["id"].as_i64()
        )
    );
    // A body without the version at the pointer is refused and acts on nothing.
    let empty = json!({"run": "43-1"}).to_string();
    let headers = vec![
        ("webhook-id", "msg_run_43".to_string()),
        ("webhook-timestamp", now.to_string()),
        (
            "webhook-signature",
            standard_signature(&secret, "msg_run_43", now, &empty),
        ),
    ];
    let (st, v) = call(&s, &path, &headers, empty.as_bytes()).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("no_version")), "{v}");
}
