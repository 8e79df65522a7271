//! Runs every decision case of `cases/decide/` through `decide`: the exact
//! reply, the channel, the rollout arm, the trace lines, and the same answer with the trace off
//! (the hot path). Also checks the cases reach every reply code.

use std::collections::BTreeSet;

use serde_json::Value;
use updraft_core::cases::{self, Case, DeviceAction};
use updraft_core::decide::{decide, DeviceFacts, CODES};
use updraft_protocol::device::UpdatesReply;

const BASE: &str = "https://updates.example.com";

/// Every case file, by file name.
fn case_files() -> Vec<(String, cases::CaseFile)> {
    let mut paths: Vec<_> = std::fs::read_dir(cases::DIR)
        .unwrap_or_else(|e| panic!("{}: {e}", cases::DIR))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let file = cases::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, file)
        })
        .collect()
}

/// Runs one case; the first difference from what it expects.
fn run(case: &Case) -> Result<(), String> {
    let req = case.device_request()?;
    let seeded = case.seeded()?;
    let base = || BASE.to_string();
    let explained = decide(
        &seeded.view,
        &req,
        &DeviceFacts {
            forced: seeded.forced,
            failed: &seeded.failed,
            explain: true,
            now_ms: seeded.now_ms,
        },
        &base,
    );
    let got = serde_json::to_value(&explained.reply).unwrap();
    let want = case.expected_reply(BASE);
    if got != want {
        return Err(format!("reply\n  got  {got}\n  want {want}"));
    }
    if let Some(channel) = &case.channel {
        if &explained.channel != channel {
            return Err(format!(
                "channel: got {:?}, want {channel:?}",
                explained.channel
            ));
        }
    }
    if let Some(arm) = &case.arm {
        let got = explained.rollout.map(|(_, a)| a);
        if &got != arm {
            return Err(format!("arm: got {got:?}, want {arm:?}"));
        }
    }
    cases::trace_has(&explained.trace, &case.trace)?;
    // The bundle counted as offered is the one in an update reply, and only then.
    match (&explained.reply, explained.offered) {
        (UpdatesReply::Update(u), Some(id)) if seeded.view.bundles[&id].version == u.version => {}
        (UpdatesReply::Update(_), offered) => {
            return Err(format!("an update reply offers bundle id {offered:?}"))
        }
        (_, Some(id)) => return Err(format!("no update, yet bundle id {id} is counted")),
        (_, None) => {}
    }
    let quiet = decide(
        &seeded.view,
        &req,
        &DeviceFacts {
            forced: seeded.forced,
            failed: &seeded.failed,
            explain: false,
            now_ms: seeded.now_ms,
        },
        &base,
    );
    if quiet.reply != explained.reply
        || quiet.offered != explained.offered
        || quiet.channel != explained.channel
        || quiet.rollout != explained.rollout
    {
        return Err("the hot path (no trace) decides differently from explain".into());
    }
    if !quiet.trace.is_empty() {
        return Err("the hot path built a trace".into());
    }
    Ok(())
}

#[test]
fn every_decision_case_gets_its_reply_through_decide() {
    let files = case_files();
    assert!(!files.is_empty(), "no case files in {}", cases::DIR);
    let mut failures = Vec::new();
    let mut count = 0;
    for (file, cases) in &files {
        for case in &cases.cases {
            count += 1;
            if let Err(e) = run(case) {
                failures.push(format!("{file} / {}: {e}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Codes no state can lead to, and why.
const UNREACHABLE: &[(&str, &str)] = &[(
    "cannot_update_via_private_channel",
    "channel resolution only picks a private channel through an override, and an override passes this rule",
)];

#[test]
fn the_cases_reach_every_reply_code_and_device_action() {
    let mut codes = BTreeSet::new();
    let mut actions = Vec::new();
    for (_, file) in case_files() {
        for case in &file.cases {
            if let Some(Value::String(code)) = case.reply.get("error") {
                codes.insert(code.clone());
            }
            if !actions.contains(&case.device_action) {
                actions.push(case.device_action);
            }
        }
    }
    let missing: Vec<_> = CODES
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !codes.contains(*c) && !UNREACHABLE.iter().any(|(u, _)| u == c))
        .collect();
    assert!(missing.is_empty(), "no case answers {missing:?}");
    for action in [
        DeviceAction::Update,
        DeviceAction::Revert,
        DeviceAction::UpToDate,
        DeviceAction::Blocked,
        DeviceAction::Failed,
    ] {
        assert!(actions.contains(&action), "no case ends in {action:?}");
    }
}
