//! `updraft schedule`: deploys at a time or inside a window, from the terminal.

use updraft_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_from_the_terminal() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    cli.run(p, &["bundle", "upload", "--bundle", "1.0.1"]).ok();

    let made = cli
        .run(
            p,
            &[
                "schedule",
                "add",
                "--channel",
                "production",
                "--bundle",
                "1.0.1",
                "--window",
                "weekdays 02:00-05:00 Europe/Paris",
                "--at",
                "2027-01-04T00:00:00Z",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(
        made["window"]["days"].as_array().unwrap().len(),
        5,
        "{made}"
    );
    assert_eq!(made["at_ms"], 1_799_020_800_000_i64, "{made}");
    // 2027-01-04 is a Monday: 02:00 in Paris (UTC+1) is 01:00 UTC.
    assert_eq!(made["next_run_at"], 1_799_024_400_000_i64, "{made}");
    let id = made["id"].as_i64().unwrap().to_string();
    let listed = cli.run(p, &["schedule", "list"]).ok();
    assert!(
        listed.stdout.contains("deploy 1.0.1 to production")
            && listed.stdout.contains("pending, next"),
        "{}",
        listed.stdout
    );
    cli.run(p, &["schedule", "cancel", &id]).ok();
    cli.run(p, &["schedule", "cancel", &id])
        .fails(4, "only a pending one");

    // Refused before anything is sent.
    let base = [
        "schedule",
        "add",
        "--channel",
        "production",
        "--bundle",
        "1.0.1",
    ];
    let with = |extra: &[&'static str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    cli.run(p, &with(&["--window", "weekdays 2am-5am Paris"]))
        .fails(2, "HH:MM");
    cli.run(p, &with(&["--at", "tomorrow"]))
        .fails(2, "RFC 3339");
    cli.run(p, &with(&[])).fails(2, "--at");
    cli.run(
        p,
        &[
            "schedule",
            "add",
            "--channel",
            "production",
            "--advance-rollout",
            "--bundle",
            "1.0.1",
            "--at",
            "2027-01-04T00:00:00Z",
        ],
    )
    .fails(2, "cannot be used with");
}
