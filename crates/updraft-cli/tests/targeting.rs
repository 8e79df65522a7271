//! `updraft cohort` and `updraft channel --target`: targeting from the terminal.

use serde_json::json;
use updraft_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohorts_and_channel_rules_from_the_terminal() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();

    let list = p.join("testers.txt");
    std::fs::write(&list, format!("# our phones\n{DEV}\n\n")).unwrap();
    let made = cli
        .run(
            p,
            &[
                "cohort",
                "set",
                "testers",
                "--devices-from",
                list.to_str().unwrap(),
                "--custom-id",
                "qa-1",
            ],
        )
        .ok();
    assert!(
        made.stdout
            .contains("holds 1 device id(s) and 1 custom id(s)"),
        "{}",
        made.stdout
    );
    let listed = cli.run(p, &["cohort", "list", "--json"]).ok().json();
    assert_eq!(listed[0]["device_ids"], json!([DEV]), "{listed}");

    cli.run(
        p,
        &[
            "bundle",
            "upload",
            "--bundle",
            "1.0.1",
            "--channel",
            "production",
        ],
    )
    .ok();
    cli.run(p, &["bundle", "upload", "--bundle", "1.0.2"]).ok();
    cli.run(
        p,
        &[
            "channel",
            "add",
            "insiders",
            "--bundle",
            "1.0.2",
            "--public",
            "--target",
            r#"{"cohort":"testers"}"#,
        ],
    )
    .ok();
    let shown = cli.run(p, &["channel", "list"]).ok();
    assert!(
        shown.stdout.contains("for cohort testers"),
        "{}",
        shown.stdout
    );
    assert_eq!(server.check(json!({})).await["version"], "1.0.2");
    assert_eq!(
        server
            .check(json!({"device_id": "00000000-0000-4000-8000-000000000002"}))
            .await["version"],
        "1.0.1"
    );

    // Refused before anything is sent, or by the server, with the reason.
    cli.run(
        p,
        &["channel", "set", "insiders", "--target", "{country: FR}"],
    )
    .fails(2, "not a targeting rule");
    cli.run(
        p,
        &[
            "channel",
            "set",
            "insiders",
            "--target",
            r#"{"country":["France"]}"#,
        ],
    )
    .fails(1, "two-letter");
    cli.run(p, &["cohort", "delete", "testers"])
        .fails(4, "channel insiders");

    let rule = p.join("rule.json");
    std::fs::write(
        &rule,
        r#"{"any":[{"country":["FR"]},{"cohort":"testers"}]}"#,
    )
    .unwrap();
    let at = format!("@{}", rule.display());
    cli.run(p, &["channel", "set", "insiders", "--target", &at])
        .ok();
    let insiders = server
        .ok("GET", &format!("/apps/{APP}/channels/insiders"), None)
        .await;
    assert_eq!(
        insiders["target"],
        json!({"any": [{"country": ["FR"]}, {"cohort": "testers"}]})
    );
    cli.run(p, &["channel", "set", "insiders", "--no-target"])
        .ok();
    cli.run(p, &["cohort", "delete", "testers"]).ok();
    assert_eq!(
        cli.run(p, &["cohort", "list", "--json"]).ok().json(),
        json!([])
    );
}
