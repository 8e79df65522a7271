//! Hostile strings from devices (issue #9 item 1), on SQLite and on
//! PostgreSQL: a NUL, an over-long value or a lone surrogate in any field of
//! `/updates`, `/stats` or `/channel_self` gets a precise error and writes
//! nothing, the rest of the fleet's telemetry still lands, and the server still
//! stops. PostgreSQL must be reachable at `UPDRAFT_TEST_POSTGRES_URL`; the
//! test fails, never skips, without it.

use std::time::Duration;

use serde_json::{json, Value};
use updraft_test_support::*;

/// The device whose requests are all hostile: it must leave no trace.
const EVIL: &str = "00000000-0000-4000-8000-0000000000ee";

/// Posts a raw body (for escapes `serde_json::json!` cannot produce).
async fn raw(s: &Server, method: &str, path: &str, body: String) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let res = s
        .http
        .request(m, s.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn evil(extra: Value) -> Value {
    merged(info(json!({"device_id": EVIL})), extra)
}

/// A request body with `field` set to a string holding a lone surrogate.
fn surrogate(field: &str, extra: Value) -> String {
    let mut v = evil(extra);
    v[field] = json!("@@");
    v.to_string().replace("\"@@\"", "\"x\\ud800y\"")
}

async fn scenario(s: &Server) {
    s.with_app().await;
    let long = "9".repeat(300);
    // /updates: each bad field is a 400 naming the field.
    for (field, value) in [
        (
            "device_id",
            json!("00000000-0000-4000-8000-00000000\u{0}0ee"),
        ),
        ("custom_id", json!("user\u{0}1")),
        ("version_name", json!("1.0.0\u{0}")),
        ("defaultChannel", json!("beta\u{0}")),
        ("version_os", json!("14\u{0}")),
        ("plugin_version", json!("8.0.0\u{0}")),
        ("version_name", json!(long)),
        ("custom_id", json!(long)),
    ] {
        let (st, v) = s
            .device("POST", "/updates", &evil(json!({ field: value })))
            .await;
        assert_eq!(st, 400, "/updates {field}: {v}");
        assert_eq!(v["error"], "invalid_json_body", "{v}");
        assert!(
            v["message"].as_str().unwrap().starts_with(field),
            "the message names {field}: {v}"
        );
    }
    let (st, v) = raw(s, "POST", "/updates", surrogate("version_name", json!({}))).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_json_parse_body")),
        "{v}"
    );

    // /stats, a batch: every bad event is refused in its own slot, the good
    // ones around it are kept.
    let good = |action: &str| info(json!({"action": action, "version_name": "1.0.0"}));
    let batch = format!(
        "[{}, {}, {}, {}, {}, {}, {}]",
        good("set"),
        evil(json!({"action": "x\u{0}y"})),
        evil(json!({"action": "set", "metadata": {"k": "v\u{0}"}})),
        surrogate("custom_id", json!({"action": "set"})),
        evil(json!({"action": long})),
        evil(json!({"action": "set", "old_version_name": "1\u{0}"})),
        good("app_moved_to_foreground"),
    );
    let (st, v) = raw(s, "POST", "/stats", batch).await;
    assert_eq!(st, 200, "{v}");
    let slots: Vec<(&str, &str)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap(),
                r["message"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(slots[0].0, "ok");
    assert!(slots[1].1.starts_with("action must not contain"), "{v}");
    assert!(slots[2].1.starts_with("metadata"), "{v}");
    assert_eq!(slots[3], ("error", "Cannot parse body"), "{v}");
    assert!(slots[4].1.starts_with("action must be at most"), "{v}");
    assert!(slots[5].1.starts_with("old_version_name"), "{v}");
    assert_eq!(slots[6].0, "ok");
    // A single bad event is a 400.
    let (st, v) = s
        .device("POST", "/stats", &evil(json!({"action": "x\u{0}y"})))
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_json_body")),
        "{v}"
    );

    // /channel_self, as an old plugin that stores its channel on the server.
    s.add_channel(json!({"name": "beta", "allow_device_self_set": true}))
        .await;
    let old = |extra: Value| {
        merged(
            evil(json!({"plugin_version": "6.25.8", "channel": "beta"})),
            extra,
        )
    };
    for (method, field, value) in [
        ("POST", "channel", json!("beta\u{0}")),
        ("POST", "defaultChannel", json!("beta\u{0}")),
        ("POST", "custom_id", json!(long)),
        ("PUT", "version_name", json!("1\u{0}")),
        (
            "DELETE",
            "device_id",
            json!("00000000-0000-4000-8000-00000000\u{0}0ee"),
        ),
    ] {
        let (st, v) = s
            .device(method, "/channel_self", &old(json!({ field: value })))
            .await;
        assert_eq!(st, 400, "{method} /channel_self {field}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with(field), "{v}");
    }
    let (st, v) = raw(
        s,
        "POST",
        "/channel_self",
        surrogate("channel", json!({"plugin_version": "6.25.8"})),
    )
    .await;
    assert_eq!(st, 400, "{v}");

    // The channel list reads its app id from the query string.
    let st = s
        .get_status("/channel_self?app_id=com.example%00app&platform=ios&device_id=x")
        .await;
    assert_eq!(st, 400);

    // The fleet's telemetry still lands, /stats still answers 200, and the
    // hostile device left nothing behind.
    s.check(json!({"version_name": "1.0.0"})).await;
    let (st, _) = s.device("POST", "/stats", &json!([good("set")])).await;
    assert_eq!(st, 200);
    let actions = poll_until(
        Duration::from_secs(5),
        || s.event_actions(DEV),
        |a| a.len() >= 3,
    )
    .await;
    assert_eq!(actions, ["set", "app_moved_to_foreground", "set"]);
    let (st, _) = s
        .api("GET", &format!("/apps/{APP}/devices/{EVIL}"), None)
        .await;
    assert_eq!(st, 404, "the hostile device has no row");
    let events = s
        .ok("GET", &format!("/apps/{APP}/events?device_id={EVIL}"), None)
        .await;
    assert_eq!(events, json!([]));
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["version_name"], "1.0.0");
}

async fn stops_in_time(mut s: Server) {
    tokio::time::timeout(Duration::from_secs(20), s.stop())
        .await
        .expect("the server must stop and drain in time");
}

#[tokio::test]
async fn hostile_strings_on_sqlite() {
    let s = Server::start_on(Backend::Sqlite).await;
    scenario(&s).await;
    stops_in_time(s).await;
}

#[tokio::test]
async fn hostile_strings_on_postgres() {
    let s = Server::start_on(Backend::Postgres).await;
    scenario(&s).await;
    stops_in_time(s).await;
}
