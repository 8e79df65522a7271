//! `updraft webhook` and `updraft hook`: subscriptions and inbound hooks
//! from the terminal.

use serde_json::json;
use updraft_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_from_the_terminal() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();

    let added = cli
        .run(
            p,
            &[
                "webhook",
                "add",
                "https://hooks.example.com/updraft",
                "--event",
                "bundle.created",
                "--event",
                "bundle.revoked",
            ],
        )
        .ok();
    assert!(
        added.stdout.contains("Secret (shown this once"),
        "{}",
        added.stdout
    );
    assert!(added.stdout.contains("whsec_"), "{}", added.stdout);
    let listed = cli.run(p, &["webhook", "list", "--json"]).ok().json();
    let id = listed[0]["id"].as_i64().unwrap().to_string();
    assert_eq!(
        listed[0]["events"],
        json!(["bundle.created", "bundle.revoked"])
    );
    assert!(listed[0].get("secret").is_none());

    cli.run(p, &["bundle", "upload", "--bundle", "1.0.1"]).ok();
    let log = cli
        .run(p, &["webhook", "deliveries", &id, "--json"])
        .ok()
        .json();
    assert_eq!(log[0]["type"], "bundle.created", "{log}");

    cli.run(p, &["webhook", "disable", &id]).ok();
    let off = cli.run(p, &["webhook", "list"]).ok();
    assert!(off.stdout.contains("off (turned off)"), "{}", off.stdout);
    cli.run(p, &["webhook", "enable", &id]).ok();
    let rotated = cli
        .run(
            p,
            &["webhook", "rotate", &id, "--grace-seconds", "60", "--json"],
        )
        .ok()
        .json();
    assert!(rotated["secret"].as_str().unwrap().starts_with("whsec_"));
    assert!(rotated["previous_secret_until"].is_i64());

    cli.run(p, &["webhook", "add", "http://hooks.example.com/x"])
        .fails(1, "https://");
    cli.run(
        p,
        &["webhook", "add", "https://h.example.com", "--event", "nope"],
    )
    .fails(1, "not an event");
    cli.run(p, &["webhook", "delete", &id]).ok();
    cli.run(p, &["webhook", "delete", &id])
        .fails(4, "not found");
    assert_eq!(
        cli.run(p, &["webhook", "list", "--json"]).ok().json(),
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_from_the_terminal() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    let made = cli
        .run(
            p,
            &[
                "hook",
                "add",
                "--action",
                "start-rollout",
                "--version-pointer",
                "/release/tag_name",
                "--json",
            ],
        )
        .ok()
        .json();
    let url = made["url"].as_str().unwrap();
    assert!(url.starts_with(&server.url("/api/v1/hooks/hk_")), "{url}");
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"));
    let listed = cli.run(p, &["hook", "list"]).ok();
    assert!(
        listed.stdout.contains("start_rollout") && listed.stdout.contains("never"),
        "{}",
        listed.stdout
    );
    assert!(
        !listed.stdout.contains("hk_"),
        "the URL is not listed again"
    );
    cli.run(
        p,
        &["hook", "add", "--action", "promote", "--channel", "nope"],
    )
    .fails(4, "nope");
    let id = made["id"].to_string();
    cli.run(p, &["hook", "delete", &id]).ok();
    assert_eq!(
        cli.run(p, &["hook", "list", "--json"]).ok().json(),
        json!([])
    );
}
