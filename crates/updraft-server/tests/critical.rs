//! Critical deploys: a hotfix takes its channel at once even while a
//! rollout runs there (the rollout is reverted, superseded, and recorded),
//! every device checking gets it with `critical: true`, the webhook event
//! says so, and the next ordinary deploy clears the mark.

use serde_json::{json, Value};
use updraft_test_support::*;

async fn changes(s: &Server) -> Vec<Value> {
    s.ok("GET", &format!("/apps/{APP}/changes?limit=100"), None)
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_critical_deploy_supersedes_the_rollout_and_is_marked_until_the_next_deploy() {
    let s = Server::start().await;
    s.with_app().await;
    for v in ["1.0.1", "1.0.2", "1.0.3", "1.0.4"] {
        s.bundle(v).await;
    }
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    s.ok(
        "POST",
        &format!("/apps/{APP}/webhooks"),
        Some(json!({"url": "https://hooks.example.com/u", "events": ["channel.updated", "rollout.reverted"]})),
    )
    .await;
    s.ok(
        "POST",
        &format!("/apps/{APP}/channels/production/rollout"),
        Some(
            json!({"bundle": "1.0.2", "plan": {"steps": [{"percent": 0}], "auto_advance": false}}),
        ),
    )
    .await;

    // An ordinary deploy waits for the rollout; a critical one does not.
    let (st, v) = s
        .api(
            "PATCH",
            &format!("/apps/{APP}/channels/production"),
            Some(json!({"bundle": "1.0.3"})),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains("critical"), "{v}");
    let key = s
        .ok(
            "POST",
            "/keys",
            Some(json!({"name": "ci", "mode": "upload"})),
        )
        .await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, w) = s
        .api_as(
            &key,
            "PATCH",
            &format!("/apps/{APP}/channels/production"),
            Some(json!({"bundle": "1.0.3", "critical": true})),
        )
        .await;
    assert_eq!(st, 200, "an upload key may deploy critically: {w}");
    // Marking the current deploy without deploying is a setting: write only.
    let (st, v) = s
        .api_as(
            &key,
            "PATCH",
            &format!("/apps/{APP}/channels/production"),
            Some(json!({"bundle": "1.0.3", "critical": false})),
        )
        .await;
    assert_eq!(st, 403, "{v}");
    let (st, v) = s
        .api(
            "POST",
            &format!("/apps/{APP}/channels"),
            Some(json!({"name": "hotfix", "critical": true})),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_request")),
        "builtin is never critical: {v}"
    );
    assert_eq!(w["channel"]["critical"], true, "{w}");
    let r = s
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/rollout"),
            None,
        )
        .await;
    assert_eq!(r["rollout"]["state"], "reverted", "{r}");
    assert!(
        r["rollout"]["reason"]
            .as_str()
            .unwrap()
            .contains("superseded by a critical deploy"),
        "{r}"
    );

    // Every device gets it now, told it is critical.
    let reply = s.check(json!({})).await;
    assert_eq!(
        (reply["version"].as_str(), reply["critical"].as_bool()),
        (Some("1.0.3"), Some(true)),
        "{reply}"
    );
    let history = s
        .ok(
            "GET",
            &format!("/apps/{APP}/channels/production/history"),
            None,
        )
        .await;
    assert_eq!(history[0]["bundle_version"], "1.0.3", "{history}");
    assert_eq!(history[0]["critical"], true, "{history}");
    let log = changes(&s).await;
    let deploy = log
        .iter()
        .find(|c| c["kind"] == "channel.updated" && c["payload"]["bundle"] == "1.0.3")
        .expect("the deploy is in the change log");
    assert_eq!(deploy["payload"]["critical"], true, "{deploy}");
    assert!(
        log.iter().any(|c| c["kind"] == "rollout.reverted"),
        "{log:?}"
    );
    let hooks = s.ok("GET", &format!("/apps/{APP}/webhooks"), None).await;
    let id = hooks[0]["id"].as_i64().unwrap();
    let queued = s
        .ok(
            "GET",
            &format!("/apps/{APP}/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    let event = queued
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "channel.updated" && d["body"]["data"]["bundle"] == "1.0.3")
        .unwrap_or_else(|| panic!("no channel.updated delivery for 1.0.3: {queued}"));
    assert_eq!(event["body"]["data"]["critical"], true, "{event}");

    // The next ordinary deploy is not critical.
    s.set_channel("production", json!({"bundle": "1.0.4"}))
        .await;
    let reply = s.check(json!({})).await;
    assert_eq!(reply["version"], "1.0.4");
    assert!(reply.get("critical").is_none(), "{reply}");

    // `critical` is a deploy's, not an upload's: the upload refuses it.
    let zip = zip_of(&[("index.html", b"<html>1.0.5</html>".as_slice())]);
    let (st, v) = s
        .upload("1.0.5", "&channel=production&critical=true", zip)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_query")),
        "{v}"
    );
}
