//! `updraft audit`: who changed what, each field before and after.

use updraft_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_shows_who_changed_what() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();
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
    cli.run(p, &["promote", "1.0.2"]).ok();
    let out = cli.run(p, &["audit"]).ok();
    let line = out
        .stdout
        .lines()
        .rev()
        .find(|l| l.contains("channel.updated"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        line.contains("key:") && line.contains("bundle_version: 1.0.1 -> 1.0.2"),
        "{line}"
    );
    let json = cli.run(p, &["audit", "--limit", "2", "--json"]).ok().json();
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 2, "newest first, as the API gives them");
    assert_eq!(items[0]["payload"]["before"]["bundle_version"], "1.0.1");
    assert_eq!(items[0]["payload"]["after"]["bundle_version"], "1.0.2");
    assert!(
        items[0]["actor_name"].is_string(),
        "the CLI's key is an admin key: {}",
        items[0]
    );

    // Filters: by kind (prefix), by time.
    let bundles = cli
        .run(p, &["audit", "--kind", "bundle.", "--json"])
        .ok()
        .json();
    let kinds: Vec<&str> = bundles
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["bundle.created", "bundle.created"]);
    let none = cli
        .run(p, &["audit", "--until", "1h", "--json"])
        .ok()
        .json();
    assert_eq!(none, serde_json::json!([]), "nothing is older than an hour");
    cli.run(p, &["audit", "--since", "last tuesday"])
        .fails(2, "duration");
}
