//! Staged rollouts from the command line, end to end: the built `updraft`
//! binary against the real server, with a simulated device (updraft-device)
//! in the rollout's first cohort. Start, status, pause, resume, advance,
//! promote and revert; release metrics; a device's explained decision; and
//! refused input that changes nothing.

use std::time::Duration;

use serde_json::{json, Value};
use updraft_device::{Cycle, Device, DeviceConfig};
use updraft_test_support::*;

/// A project of [`APP`] with 1.0.1 deployed on `production` and `uploads`
/// uploaded beside it.
fn project_with(cli: &Cli, uploads: &[&str]) -> tempfile::TempDir {
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    write_build(p, "1.0.1");
    cli.run(p, &["deploy"]).ok();
    for v in uploads {
        write_build(p, v);
        cli.run(p, &["bundle", "upload", "--bundle", v]).ok();
    }
    project
}

fn device(server: &Server, dir: &std::path::Path) -> Device {
    let mut cfg = DeviceConfig::new(dir, &server.base, APP);
    cfg.app_ready_timeout = Duration::from_secs(30);
    Device::open(cfg).unwrap()
}

/// One app start: update to `version`, confirm it, send the stats.
async fn updates_to(d: &mut Device, version: &str) {
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Installed(version.into())
    );
    d.notify_app_ready().unwrap();
    d.flush_stats().await;
}

/// The funnel's final states, which add up to the total.
fn final_states(m: &Value) -> u64 {
    m["funnel"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_goes_from_its_cohort_to_promoted() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = project_with(&cli, &["1.0.2"]);
    let p = project.path();
    let dir = tempfile::tempdir().unwrap();
    let mut d = device(&server, dir.path());
    updates_to(&mut d, "1.0.1").await;
    let dev = d.device_id().to_string();

    // Start: the device's cohort first, then 10 %, 50 %, 100 %.
    let r = cli
        .run(
            p,
            &[
                "rollout",
                "start",
                "--bundle",
                "1.0.2",
                "--steps",
                "10,50,100",
                "--step-duration",
                "1h",
                "--max-error-rate",
                "0.5%",
                "--cohort-devices",
                &dev,
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(r["state"], "running", "{r}");
    assert_eq!(r["step"], 0);
    assert_eq!(r["channel"], "production");
    assert_eq!(r["candidate_version"], "1.0.2");
    let steps = r["plan"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "{r}");
    assert_eq!(steps[0]["cohort"]["device_ids"], json!([dev]));
    assert_eq!(steps[1]["percent"], 10.0);
    assert_eq!(steps[1]["min_duration_secs"], 3600);
    let gates: Vec<(&str, f64)> = steps[1]["failure_gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["metric"].as_str().unwrap(),
                g["threshold"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        gates,
        [
            ("failure_rate", 0.02),
            ("crash_rate", 0.02),
            ("error_rate", 0.005)
        ]
    );
    // One active rollout per channel.
    cli.run(p, &["rollout", "start", "--bundle", "1.0.2"])
        .fails(4, "rollout status --channel production");

    // The cohort's device gets the candidate; the channel still serves 1.0.1.
    updates_to(&mut d, "1.0.2").await;
    let other = server.check_app(APP, json!({})).await;
    assert_eq!(other["version"], "1.0.1", "{other}");
    server.settle().await;

    let st = cli.run(p, &["rollout", "status", "--json"]).ok().json();
    assert_eq!(st["rollout"]["id"], r["id"]);
    assert_eq!(st["stable_version"], "1.0.1");
    assert_eq!(st["percent_now"], 0.0, "the cohort's step adds no share");
    // Text, and --watch off a terminal: printed once, then the command ends.
    for args in [
        &["rollout", "status"][..],
        &["rollout", "status", "--watch"],
    ] {
        let text = cli.run(p, args).ok().stdout;
        assert!(text.contains("Rollout") && text.contains("1.0.2"), "{text}");
        assert!(text.contains(">  1"), "the current step is marked: {text}");
        assert_eq!(text.matches("Arms").count(), 1, "{text}");
    }

    // Why the device got what it got.
    let e = cli
        .run(p, &["device", "explain", &dev, "--json"])
        .ok()
        .json();
    assert_eq!(e["channel"], "production", "{e}");
    let trace = e["trace"].as_array().unwrap();
    assert!(
        trace
            .iter()
            .any(|l| l.as_str().unwrap().to_lowercase().contains("rollout")),
        "the trace names the rollout: {e}"
    );
    let text = cli.run(p, &["device", "explain", &dev]).ok().stdout;
    assert!(
        text.contains("channel  production") && text.contains("1. "),
        "{text}"
    );
    cli.run(
        p,
        &["device", "explain", "00000000-0000-4000-8000-00000000beef"],
    )
    .fails(4, "has not checked in");

    // The candidate's release, by bundle and by channel.
    let m = cli
        .run(p, &["metrics", "--bundle", "1.0.2", "--json"])
        .ok()
        .json();
    assert_eq!(m["bundle"], "1.0.2");
    assert!(m["total"].as_u64().unwrap() >= 1, "{m}");
    assert_eq!(final_states(&m), m["total"].as_u64().unwrap(), "{m}");
    assert!(m["stages"]["installed"].as_u64().unwrap() >= 1, "{m}");
    let by_channel = cli
        .run(
            p,
            &[
                "metrics",
                "--channel",
                "production",
                "--last",
                "24h",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(by_channel["bundle"], "1.0.2", "the rollout's candidate");
    assert_eq!(by_channel["channel"], "production");
    let text = cli.run(p, &["metrics", "--bundle", "1.0.2"]).ok().stdout;
    assert!(text.contains("WHERE DEVICES ENDED UP"), "{text}");

    // Pause (with a reason), not twice; resume; advance to 10 %.
    let paused = cli
        .run(p, &["rollout", "pause", "--reason", "looking", "--json"])
        .ok()
        .json();
    assert_eq!(
        (paused["state"].clone(), paused["reason"].clone()),
        (json!("paused"), json!("looking"))
    );
    cli.run(p, &["rollout", "pause"])
        .fails(4, "shows what state");
    let resumed = cli.run(p, &["rollout", "resume", "--json"]).ok().json();
    assert_eq!(resumed["state"], "running");
    let advanced = cli.run(p, &["rollout", "advance", "--json"]).ok().json();
    assert_eq!(advanced["step"], 1);
    let st = cli.run(p, &["rollout", "status", "--json"]).ok().json();
    assert_eq!(st["percent_now"], 10.0, "{st}");

    // Promote: the channel serves the candidate; the rollout is over.
    let promoted = cli.run(p, &["rollout", "promote", "--json"]).ok().json();
    assert_eq!(promoted["state"], "promoted");
    assert!(promoted["ended_at"].is_i64(), "{promoted}");
    let channels = cli.run(p, &["channel", "list", "--json"]).ok().json();
    let production = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "production")
        .unwrap();
    assert_eq!(production["bundle_version"], "1.0.2");
    cli.run(p, &["rollout", "revert"])
        .fails(4, "shows what state");
    let list = cli.run(p, &["rollout", "list", "--json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["state"], "promoted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_input_changes_nothing_and_a_revert_ends_the_rollout() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = project_with(&cli, &["1.0.2", "1.0.3"]);
    let p = project.path();
    let start = |extra: &[&str]| {
        let mut args = vec!["rollout", "start"];
        args.extend_from_slice(extra);
        cli.run(p, &args)
    };

    // Refused by the CLI before any request: usage errors (exit 2).
    start(&["--bundle", "1.0.2", "--max-failure-rate", "2"]).fails(2, "% sign");
    start(&["--bundle", "1.0.2", "--steps", "10,5"]).fails(2, "must not go down");
    start(&["--bundle", "1.0.2", "--steps", "150"]).fails(2, "from 0 to 100");
    start(&["--bundle", "1.0.2", "--step-duration", "1y"]).fails(2, "not a duration");
    start(&["--bundle", "1.0.2", "--plan", "plan.json", "--steps", "1"])
        .fails(2, "cannot be used with");
    write(p, "bad-plan.json", r#"{"stages": []}"#);
    start(&["--bundle", "1.0.2", "--plan", "bad-plan.json"]).fails(2, "is not a rollout plan");
    cli.run(
        p,
        &["metrics", "--channel", "production", "--bundle", "1.0.2"],
    )
    .fails(2, "cannot be used with");
    cli.run(p, &["metrics"]).fails(2, "required");
    cli.run(
        p,
        &[
            "metrics",
            "--bundle",
            "1.0.2",
            "--since",
            "2026-01-02",
            "--until",
            "2026-01-01",
        ],
    )
    .fails(2, "--since must be before --until");

    // Refused by the server: the channel's own bundle (400, exit 1); a
    // bundle or channel that does not exist, no rollout to show or act on
    // (exit 4, not found).
    start(&["--bundle", "1.0.1"]).fails(1, "");
    start(&["--bundle", "9.9.9"]).fails(4, "not an uploaded bundle");
    start(&["--channel", "nope", "--bundle", "1.0.2"]).fails(4, "");
    cli.run(p, &["rollout", "status"])
        .fails(4, "rollout start --channel production");
    cli.run(p, &["rollout", "pause"]).fails(4, "");
    let none = cli.run(p, &["rollout", "list", "--json"]).ok().json();
    assert_eq!(none, json!([]), "nothing was started");

    // Revert: every device goes back; the rollout is over and stays so.
    let r = start(&["--bundle", "1.0.2", "--on-failure", "revert", "--json"])
        .ok()
        .json();
    let actions: Vec<&str> = r["plan"]["steps"][0]["failure_gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["revert", "revert"]);
    let reverted = cli
        .run(p, &["rollout", "revert", "--reason", "bad build", "--json"])
        .ok()
        .json();
    assert_eq!(reverted["state"], "reverted");
    assert_eq!(reverted["reason"], "bad build");
    cli.run(p, &["rollout", "resume"]).fails(4, "");
    let offer = server.check_app(APP, json!({})).await;
    assert_eq!(
        offer["version"], "1.0.1",
        "the channel kept its bundle: {offer}"
    );

    // A new rollout after it, from a plan file; the list is newest first.
    write(
        p,
        "plan.json",
        r#"{"steps": [{"percent": 25, "min_duration_secs": 60}], "auto_promote": false}"#,
    );
    let second = start(&["--bundle", "1.0.3", "--plan", "plan.json", "--json"])
        .ok()
        .json();
    assert_eq!(second["plan"]["steps"][0]["percent"], 25.0);
    assert_eq!(second["plan"]["auto_promote"], false);
    let list = cli.run(p, &["rollout", "list", "--json"]).ok().json();
    let versions: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["candidate_version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.0.3", "1.0.2"]);
    let text = cli.run(p, &["rollout", "list"]).ok().stdout;
    assert!(
        text.contains("reverted") && text.contains("bad build"),
        "{text}"
    );
}
