//! The client against the real server (SQLite in a temporary directory): every
//! operation of the OpenAPI document has a client method, and the methods
//! added for the last uncovered ones send and read the protocol's types.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use updraft_client::Client;
use updraft_protocol::api::*;
use updraft_protocol::device::{InfoObject, UpdatesReply};

use updraft_test_support::{Server, ADMIN, APP, DEV};
const CHECKSUM: &str = "ceb92f8cad1a9ab3b92c191c31b5c2f2e27b1a484a2e4faaba615f855977db0e";

/// Every operation of the document and the client method that calls it.
const COVERED: &[(&str, &str, &str)] = &[
    ("get", "/apps", "list_apps"),
    ("post", "/apps", "create_app"),
    ("get", "/apps/{app_id}", "get_app"),
    ("patch", "/apps/{app_id}", "update_app"),
    ("delete", "/apps/{app_id}", "delete_app"),
    ("get", "/apps/{app_id}/bundles", "list_bundles"),
    ("post", "/apps/{app_id}/bundles", "upload_bundle"),
    (
        "post",
        "/apps/{app_id}/bundles/external",
        "register_external",
    ),
    ("get", "/apps/{app_id}/bundles/{version}", "get_bundle"),
    ("patch", "/apps/{app_id}/bundles/{version}", "update_bundle"),
    (
        "delete",
        "/apps/{app_id}/bundles/{version}",
        "delete_bundle",
    ),
    (
        "post",
        "/apps/{app_id}/bundles/{version}/revoke",
        "revoke_bundle",
    ),
    (
        "put",
        "/apps/{app_id}/bundles/{version}/manifest",
        "set_manifest",
    ),
    ("post", "/apps/{app_id}/files/missing", "missing_files"),
    ("put", "/apps/{app_id}/files/{sha256}", "upload_file"),
    ("get", "/apps/{app_id}/channels", "list_channels"),
    ("post", "/apps/{app_id}/channels", "create_channel"),
    ("get", "/apps/{app_id}/channels/{name}", "get_channel"),
    ("patch", "/apps/{app_id}/channels/{name}", "update_channel"),
    ("delete", "/apps/{app_id}/channels/{name}", "delete_channel"),
    (
        "get",
        "/apps/{app_id}/channels/{name}/history",
        "channel_history",
    ),
    (
        "post",
        "/apps/{app_id}/channels/{name}/rollback",
        "rollback_channel",
    ),
    (
        "post",
        "/apps/{app_id}/channels/{name}/rollout",
        "start_rollout",
    ),
    (
        "get",
        "/apps/{app_id}/channels/{name}/rollout",
        "rollout_status",
    ),
    (
        "post",
        "/apps/{app_id}/channels/{name}/rollout/{action}",
        "rollout_action",
    ),
    ("get", "/apps/{app_id}/rollouts", "list_rollouts"),
    ("get", "/apps/{app_id}/audit", "audit"),
    ("get", "/apps/{app_id}/schedules", "list_schedules"),
    ("post", "/apps/{app_id}/schedules", "create_schedule"),
    (
        "post",
        "/apps/{app_id}/schedules/{id}/cancel",
        "cancel_schedule",
    ),
    ("get", "/apps/{app_id}/cohorts", "list_cohorts"),
    ("put", "/apps/{app_id}/cohorts/{name}", "put_cohort"),
    ("delete", "/apps/{app_id}/cohorts/{name}", "delete_cohort"),
    ("get", "/apps/{app_id}/hooks", "list_hooks"),
    ("post", "/apps/{app_id}/hooks", "create_hook"),
    ("delete", "/apps/{app_id}/hooks/{id}", "delete_hook"),
    ("get", "/apps/{app_id}/webhooks", "list_webhooks"),
    ("post", "/apps/{app_id}/webhooks", "create_webhook"),
    ("get", "/apps/{app_id}/webhooks/{id}", "get_webhook"),
    ("patch", "/apps/{app_id}/webhooks/{id}", "update_webhook"),
    ("delete", "/apps/{app_id}/webhooks/{id}", "delete_webhook"),
    (
        "post",
        "/apps/{app_id}/webhooks/{id}/rotate",
        "rotate_secret",
    ),
    ("post", "/apps/{app_id}/webhooks/{id}/test", "test_webhook"),
    (
        "get",
        "/apps/{app_id}/webhooks/{id}/deliveries",
        "list_deliveries",
    ),
    ("get", "/apps/{app_id}/metrics", "release_metrics"),
    (
        "get",
        "/apps/{app_id}/devices/{device_id}/explain",
        "explain_device",
    ),
    ("get", "/apps/{app_id}/devices", "list_devices"),
    ("get", "/apps/{app_id}/devices/{device_id}", "get_device"),
    (
        "delete",
        "/apps/{app_id}/devices/{device_id}/blocks",
        "clear_blocks",
    ),
    (
        "put",
        "/apps/{app_id}/devices/{device_id}/override",
        "set_override",
    ),
    (
        "delete",
        "/apps/{app_id}/devices/{device_id}/override",
        "remove_override",
    ),
    ("get", "/apps/{app_id}/events", "list_events"),
    ("get", "/apps/{app_id}/changes", "list_changes"),
    ("post", "/apps/{app_id}/explain", "explain"),
    ("get", "/apps/{app_id}/offers", "list_offers"),
    ("get", "/apps/{app_id}/checks", "check_counts"),
    ("get", "/keys", "list_keys"),
    ("post", "/keys", "create_key"),
    ("delete", "/keys/{id}", "delete_key"),
    ("get", "/me", "me"),
    ("get", "/openapi.json", "openapi"),
];

/// The real server in `dir`, and a client with the admin key.
async fn start(dir: &std::path::Path) -> (Server, Client) {
    let server = Server::start_in(dir).await;
    let client = Client::new(&server.base, ADMIN).unwrap();
    (server, client)
}

/// An app with bundle 1.0.1 (hosted elsewhere) on its public `production` channel.
async fn app_with_bundle(c: &Client) {
    c.create_app(&NewApp {
        app_id: APP.into(),
        name: None,
    })
    .await
    .unwrap();
    c.register_external(
        APP,
        &NewExternalBundle {
            version: "1.0.1".into(),
            external_url: Some("https://cdn.example.com/b.zip".into()),
            checksum: CHECKSUM.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    c.create_channel(
        APP,
        &ChannelPatch {
            name: Some("production".into()),
            bundle: Some(Some("1.0.1".into())),
            public: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

/// The plugin's request body for `DEV` on Android, running builtin.
fn device_request() -> Value {
    json!({
        "app_id": APP, "device_id": DEV, "platform": "android", "version_name": "builtin",
        "version_build": "1.0.0", "plugin_version": "8.51.14", "is_emulator": false, "is_prod": true,
    })
}

/// POSTs a device call (`/updates`, `/stats`) and requires a 200.
async fn device_call(c: &Client, path: &str, body: &Value) {
    let res = reqwest::Client::new()
        .post(format!("{}{path}", c.base()))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}: {}", res.text().await.unwrap());
}

#[tokio::test]
async fn every_operation_of_the_document_has_a_client_method() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, c) = start(dir.path()).await;
    let doc = c.openapi().await.unwrap();
    let mut served = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            served.insert((method.clone(), path.clone()));
        }
    }
    let covered: BTreeSet<_> = COVERED
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = served.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "operations with no client method: {missing:?}"
    );
    let gone: Vec<_> = covered.difference(&served).collect();
    assert!(gone.is_empty(), "operations no longer served: {gone:?}");
    running.stop().await;
}

#[tokio::test]
async fn health_reads_as_the_typed_reply() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, c) = start(dir.path()).await;
    assert_eq!(c.health().await.unwrap(), Health::OK);
    running.stop().await;
}

#[tokio::test]
async fn update_bundle_changes_only_the_given_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, c) = start(dir.path()).await;
    app_with_bundle(&c).await;
    let meta = BundleMeta {
        link: Some("https://example.com/notes".into()),
        ..Default::default()
    };
    let b = c.update_bundle(APP, "1.0.1", &meta).await.unwrap();
    assert_eq!(b.link.as_deref(), Some("https://example.com/notes"));
    assert_eq!(b.comment, None);
    let meta = BundleMeta {
        comment: Some("Fixes".into()),
        ..Default::default()
    };
    let b = c.update_bundle(APP, "1.0.1", &meta).await.unwrap();
    assert_eq!(b.link.as_deref(), Some("https://example.com/notes"));
    assert_eq!(b.comment.as_deref(), Some("Fixes"));
    assert_eq!(c.get_bundle(APP, "1.0.1").await.unwrap(), b);
    let err = c.update_bundle(APP, "9.9.9", &meta).await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    running.stop().await;
}

#[tokio::test]
async fn explain_returns_the_decision_and_the_exact_reply() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, c) = start(dir.path()).await;
    app_with_bundle(&c).await;
    let request: InfoObject = serde_json::from_value(device_request()).unwrap();
    let e = c.explain(APP, &request).await.unwrap();
    assert_eq!(
        e.outcome,
        ExplainOutcome::Update {
            version: "1.0.1".into()
        }
    );
    assert_eq!(e.channel.as_deref(), Some("production"));
    assert!(!e.trace.is_empty());
    match &e.reply {
        UpdatesReply::Update(u) => {
            assert_eq!(u.version, "1.0.1");
            assert_eq!(u.url, "https://cdn.example.com/b.zip");
            assert_eq!(u.checksum, CHECKSUM);
        }
        other => panic!("explain's reply is not an update: {other:?}"),
    }
    // Up to date: the reply is the soft error, read as such.
    let mut on_latest = request.clone();
    on_latest.version_name = Some("1.0.1".into());
    let e = c.explain(APP, &on_latest).await.unwrap();
    match &e.reply {
        UpdatesReply::NoUpdate(n) => assert_eq!(n.error, "no_new_version_available"),
        other => panic!("explain's reply is not a no-update: {other:?}"),
    }
    let err = c.explain(APP, &InfoObject::default()).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    running.stop().await;
}

#[tokio::test]
async fn list_offers_counts_the_updates_offered() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, c) = start(dir.path()).await;
    app_with_bundle(&c).await;
    assert_eq!(c.list_offers(APP).await.unwrap(), vec![]);
    device_call(&c, "/updates", &device_request()).await;
    device_call(&c, "/updates", &device_request()).await;
    // Stopping drains the background writer; the counts are then stored.
    running.stop().await;
    let (mut running, c) = start(dir.path()).await;
    let offers = c.list_offers(APP).await.unwrap();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].version, "1.0.1");
    assert_eq!(offers[0].count, 2);
    running.stop().await;
}

#[tokio::test]
async fn check_counts_count_every_update_check_per_hour() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, c) = start(dir.path()).await;
    app_with_bundle(&c).await;
    let empty = c.check_counts(APP, &ChecksQuery::default()).await.unwrap();
    // 24 hours not starting on the hour touch 25 of them.
    assert!(
        (24..=25).contains(&empty.hours.len()),
        "every hour of the default day: {empty:?}"
    );
    assert!(empty.hours.iter().all(|h| h.checks == 0));
    for _ in 0..3 {
        device_call(&c, "/updates", &device_request()).await;
    }
    // Stopping drains the background writer; the counts are then stored.
    running.stop().await;
    let (mut running, c) = start(dir.path()).await;
    let counts = c.check_counts(APP, &ChecksQuery::default()).await.unwrap();
    assert_eq!(
        counts.hours.iter().map(|h| h.checks).sum::<i64>(),
        3,
        "{counts:?}"
    );
    let bad = c
        .check_counts(
            APP,
            &ChecksQuery {
                since: Some(10),
                until: Some(5),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(400), "{bad}");
    running.stop().await;
}

#[tokio::test]
async fn list_events_filters_and_clear_blocks_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, c) = start(dir.path()).await;
    app_with_bundle(&c).await;
    let mut set = device_request();
    set["action"] = "set".into();
    let mut failed = device_request();
    failed["action"] = "update_fail".into();
    failed["version_name"] = "1.0.1".into();
    device_call(&c, "/stats", &json!([set, failed])).await;
    running.stop().await;
    let (mut running, c) = start(dir.path()).await;
    let all = c
        .list_events(APP, &EventListQuery::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let only = EventListQuery {
        action: Some("update_fail".into()),
        ..Default::default()
    };
    let fails = c.list_events(APP, &only).await.unwrap();
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert_eq!(fails[0].action, "update_fail");
    assert_eq!(fails[0].version_name, "1.0.1");
    let one = EventListQuery {
        device_id: Some(DEV.into()),
        limit: Some(1),
        ..Default::default()
    };
    assert_eq!(c.list_events(APP, &one).await.unwrap().len(), 1);
    // The rollback made a block, which the typed reply counts.
    assert_eq!(c.clear_blocks(APP, DEV, None).await.unwrap(), 1);
    assert_eq!(c.clear_blocks(APP, DEV, None).await.unwrap(), 0);
    running.stop().await;
}

#[tokio::test]
async fn manifest_files_are_stored_once_and_named_by_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, c) = start(dir.path()).await;
    c.create_app(&NewApp {
        app_id: APP.into(),
        name: None,
    })
    .await
    .unwrap();
    let params = updraft_client::UploadParams {
        version: "1.0.1".into(),
        ..Default::default()
    };
    let body = bytes::Bytes::from_static(b"<html>1.0.1</html>");
    let zip = updraft_test_support::zip_of(&[("index.html", &body)]);
    c.upload_bundle(APP, &params, zip.into(), None)
        .await
        .unwrap();
    let sha = updraft_core::crypto::sha256_hex(&body);
    assert_eq!(
        c.missing_files(APP, std::slice::from_ref(&sha))
            .await
            .unwrap(),
        vec![sha.clone()]
    );
    let stored = c.upload_file(APP, &sha, body).await.unwrap();
    assert_eq!((stored.sha256.as_str(), stored.size), (sha.as_str(), 18));
    assert!(c
        .missing_files(APP, std::slice::from_ref(&sha))
        .await
        .unwrap()
        .is_empty());
    let m = NewManifest {
        files: vec![ManifestFileRef {
            file_name: "index.html".into(),
            file_hash: sha.clone(),
            sha256: sha.clone(),
        }],
    };
    let b = c.set_manifest(APP, "1.0.1", &m).await.unwrap();
    assert_eq!(b.manifest[0].download_url, format!("/files/{sha}"));
    running.stop().await;
}
