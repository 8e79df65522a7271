//! Feeds the expected reply of every decision case (`updraft-core`'s
//! `cases/decide/`) to the device core's reply handling and checks it takes
//! the action the case expects: the replies the server is held to are ones
//! the device understands as intended.

use updraft_core::cases::{self, DeviceAction};
use updraft_device::{classify, Latest};

/// Where bundle files would be served from (any absolute URL).
const BASE: &str = "http://127.0.0.1:8080";

fn action(latest: &Latest) -> DeviceAction {
    match latest {
        Latest::Update(_) => DeviceAction::Update,
        Latest::RevertToBuiltin => DeviceAction::Revert,
        Latest::NoUpdate { kind, .. } if kind == "blocked" => DeviceAction::Blocked,
        Latest::NoUpdate { .. } => DeviceAction::UpToDate,
        Latest::Failed { .. } => DeviceAction::Failed,
    }
}

#[test]
fn the_device_takes_each_cases_expected_action() {
    let mut paths: Vec<_> = std::fs::read_dir(cases::DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no case files in {}", cases::DIR);
    let mut failures = Vec::new();
    for path in paths {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let cases = cases::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for case in &cases.cases {
            // What the device sends as version_name: its native version on builtin.
            let r = &case.request;
            let running = match r["version_name"].as_str() {
                Some("builtin") | None => r["version_build"].as_str().unwrap_or_default(),
                Some(v) => v,
            };
            let latest = classify(200, &case.expected_reply(BASE), running);
            if action(&latest) != case.device_action {
                failures.push(format!(
                    "{file} / {}: the device makes {latest:?} of the reply, the case expects {:?}",
                    case.name, case.device_action
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
