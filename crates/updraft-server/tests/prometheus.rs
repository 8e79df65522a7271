//! `/metrics`: Prometheus text that an independent parser reads (the
//! official Python client's, `prometheus_client` from PyPI, which `.ci/run`
//! installs; without it this test fails), whose counters move with traffic,
//! and which a configured token guards.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use updraft_server::config::Secret;
use updraft_test_support::*;

/// Every sample of a scrape, parsed by `prometheus_client.parser`, as
/// `name{label="value",...}` → value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    let out = python(script, &[], text.as_bytes(), "prometheus_client");
    serde_json::from_slice(&out).unwrap()
}

async fn scrape(server: &Server, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(server.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ctype, res.text().await.unwrap())
}

fn get(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key).unwrap_or(&0.0)
}

fn moved(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, key: &str) -> f64 {
    get(after, key) - get(before, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_with_traffic() {
    let server = Server::start().await;
    server.with_app().await;
    server.publish("1.0.1").await;
    let (status, ctype, text) = scrape(&server, None).await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let before = parse(&text);

    for _ in 0..3 {
        let offer = server.check(json!({})).await;
        assert_eq!(offer["version"], "1.0.1", "{offer}");
    }
    let up_to_date = server.check(json!({ "version_name": "1.0.1" })).await;
    assert_eq!(up_to_date["kind"], "up_to_date", "{up_to_date}");
    let event = info(json!({ "action": "set", "version_name": "1.0.1" }));
    let (status, reply) = server.device("POST", "/stats", &event).await;
    assert_eq!(status, 200, "{reply}");
    server.ok("GET", &format!("/apps/{APP}"), None).await;
    let (status, _) = server.api("GET", "/apps/com.nope.app", None).await;
    assert_eq!(status, 404);

    // Whatever method or path a client sends, the labels stay few.
    let http = reqwest::Client::new();
    let long = "X".repeat(2_000);
    for method in ["BREW", "PROPFIND", long.as_str()] {
        for path in ["/nope", "/api/v1/apps"] {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let res = http.request(m, server.url(path)).send().await.unwrap();
            assert!(res.status().is_client_error(), "{method} {path}");
        }
    }

    let after_text = scrape(&server, None).await.2;
    assert!(
        !after_text.contains("BREW")
            && !after_text.contains("PROPFIND")
            && !after_text.contains(&long),
        "a client's method became a label"
    );
    let after = parse(&after_text);
    assert_eq!(
        moved(
            &before,
            &after,
            r#"updraft_api_requests_total{method="other",route="unmatched",status="4xx"}"#
        ),
        6.0
    );
    assert!(
        moved(
            &before,
            &after,
            r#"updraft_device_requests_total{endpoint="/metrics",status="2xx"}"#
        ) >= 1.0,
        "scrapes are counted with the device endpoints"
    );
    let moved = |k: &str| get(&after, k) - get(&before, k);
    assert_eq!(
        moved(r#"updraft_device_requests_total{endpoint="/updates",status="2xx"}"#),
        4.0
    );
    assert_eq!(
        moved(r#"updraft_device_request_duration_seconds_count{endpoint="/updates"}"#),
        4.0
    );
    assert_eq!(
        moved(r#"updraft_update_replies_total{reply="update"}"#),
        3.0
    );
    assert_eq!(
        moved(r#"updraft_update_replies_total{reply="up_to_date"}"#),
        1.0
    );
    assert_eq!(moved(r#"updraft_stats_events_total{action="set"}"#), 1.0);
    assert_eq!(
        moved(
            r#"updraft_api_requests_total{method="GET",route="/api/v1/apps/{app_id}",status="2xx"}"#
        ),
        1.0
    );
    assert_eq!(
        moved(
            r#"updraft_api_requests_total{method="GET",route="/api/v1/apps/{app_id}",status="4xx"}"#
        ),
        1.0,
        "by route template, not by app id"
    );
    for gauge in [
        "updraft_write_queue_writes{}",
        "updraft_write_queue_bytes{}",
        r#"updraft_rollouts{state="running"}"#,
        "updraft_snapshot_apps{}",
    ] {
        assert!(after.contains_key(gauge), "{gauge} in {after:?}");
    }
    assert!(get(&after, "updraft_snapshot_loads_total{}") >= 1.0);
    assert!(
        get(&after, "updraft_writes_queued_total{}")
            > get(&before, "updraft_writes_queued_total{}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_token_guards_metrics() {
    let token = "metrics-token-0123456789";
    let server = Server::start_tweaked(Backend::Sqlite, |c| {
        // As the config file gives it.
        c.metrics.token = Some(serde_json::from_value::<Secret<String>>(json!(token)).unwrap());
    })
    .await;
    for given in [None, Some("wrong-token-0123456789"), Some("")] {
        let (status, _, body) = scrape(&server, given).await;
        assert_eq!(status, 401, "{given:?}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], "invalid_metrics_token", "{v}");
    }
    let (status, _, body) = scrape(&server, Some(token)).await;
    assert_eq!(status, 200);
    parse(&body);
    // The scheme is case-insensitive.
    let res = reqwest::Client::new()
        .get(server.url("/metrics"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_asks_only_for_metrics_the_server_serves() {
    let server = Server::start().await;
    server.with_app().await;
    server.check(json!({})).await;
    let served: std::collections::BTreeSet<String> = parse(&scrape(&server, None).await.2)
        .keys()
        .map(|k| k.split('{').next().unwrap().to_string())
        .collect();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana-dashboard.json"
    );
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut asked = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("updraft_"))
            {
                asked += 1;
                assert!(
                    served.contains(name),
                    "{name} (panel {}) is not served: {served:?}",
                    panel["title"]
                );
            }
        }
    }
    assert!(asked >= 10, "{asked}");
}
