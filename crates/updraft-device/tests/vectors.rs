//! The plugin's own contract vectors (`native-contract-tests/core.json`,
//! kept in `updraft-core/vectors`): every `updateResponseKind` case through
//! the device's normalisation of `kind`, and through a real update check.

use serde_json::{json, Value};
use updraft_device::{normalize_kind, Device, Latest};
use updraft_test_support::fake::{Fake, Reply};

const CORE: &str = include_str!("../../updraft-core/vectors/capgo-plugin-core.json");

fn cases() -> Vec<Value> {
    let core: Value = serde_json::from_str(CORE).unwrap();
    let cases = core["updateResponseKind"].as_array().unwrap().clone();
    assert!(cases.len() >= 6, "{}", cases.len());
    cases
}

#[test]
fn every_update_response_kind_case_normalises_as_the_plugin() {
    for case in cases() {
        let expected = case["expect"]["kind"].as_str().unwrap();
        assert_eq!(
            normalize_kind(case["input"].get("kind")),
            expected,
            "{}",
            case["id"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_update_response_kind_case_classifies_a_reply() {
    let fake = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::open(fake.device_config(dir.path())).unwrap();
    for case in cases() {
        let id = case["id"].clone();
        let expected = case["expect"]["kind"].as_str().unwrap();
        // With an error code, and with `kind` alone (Android takes the error
        // path on a present `kind` key, even null).
        for base in [json!({"error": "some_error", "message": "m"}), json!({})] {
            let mut reply = base.clone();
            for (k, v) in case["input"].as_object().unwrap() {
                reply[k] = v.clone();
            }
            fake.set_updates(Reply::json(200, reply.clone()));
            let got = d.check().await;
            let code = base["error"].as_str().unwrap_or("");
            match (expected, &got) {
                ("failed", Latest::Failed { error, .. }) => assert_eq!(error, code, "{id}"),
                (k, Latest::NoUpdate { kind, .. }) => assert_eq!(kind, k, "{id}"),
                _ => panic!("{id} {reply}: expected {expected}, got {got:?}"),
            }
        }
    }
}
