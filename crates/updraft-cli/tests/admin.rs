//! `updraft api-key` and `updraft app`: managing API keys and apps from the
//! terminal against the real server, with the documented exit codes.

use serde_json::Value;
use updraft_test_support::*;

const APP: &str = "com.example.admin";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_created_listed_and_revoked() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();

    // Created with a mode, an app, an expiry: the secret is printed once.
    let ci = cli
        .run(
            p,
            &[
                "api-key",
                "create",
                "github-ci",
                "--mode",
                "upload",
                "--app",
                APP,
                "--expires",
                "30d",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(ci["name"], "github-ci");
    assert_eq!(ci["mode"], "upload");
    assert_eq!(ci["apps"], serde_json::json!([APP]));
    let in_30d = now_ms() + 30 * 86_400_000;
    let expires = ci["expires_at"].as_i64().unwrap();
    assert!((in_30d - expires).abs() < 60_000, "{ci}");
    let ci_secret = ci["secret"].as_str().unwrap().to_string();
    let ci_id = ci["id"].as_i64().unwrap();

    // The secret works, with exactly the mode it was given.
    let as_ci = Cli::new(&server).with_env("UPDRAFT_API_KEY", &ci_secret);
    as_ci.run(p, &["deploy"]).ok();
    let r = as_ci.run(p, &["api-key", "list"]).fails(3, "mode upload");
    assert!(r.stderr.contains("mode all"), "says what is needed: {r:?}");

    // Text: the secret, and that it is shown once; --quiet prints only the secret.
    let text = cli
        .run(
            p,
            &[
                "api-key",
                "create",
                "reader",
                "--mode",
                "read",
                "--expires",
                "2099-01-01",
            ],
        )
        .ok();
    assert!(text.stdout.contains("shown this once"), "{text:?}");
    assert!(text.stdout.contains("2099-01-01 00:00"), "{text:?}");
    let reader_secret = text
        .stdout
        .lines()
        .find(|l| l.starts_with("upd_"))
        .unwrap_or_else(|| panic!("{text:?}"))
        .to_string();
    let quiet = cli
        .run(
            p,
            &["api-key", "create", "quiet", "--mode", "read", "--quiet"],
        )
        .ok();
    let quiet_secret = quiet.stdout.trim().to_string();
    assert!(
        quiet_secret.starts_with("upd_") && !quiet_secret.contains(' '),
        "{quiet:?}"
    );
    Cli::new(&server)
        .with_env("UPDRAFT_API_KEY", &quiet_secret)
        .run(p, &["bundle", "list"])
        .ok();

    // Listed with id, name, mode, apps and expiry; never a secret.
    let list = cli.run(p, &["api-key", "list", "--json"]).ok();
    let keys = list.json();
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    for n in ["github-ci", "reader", "quiet"] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(keys
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k.get("secret").is_none()));
    let text = cli.run(p, &["api-key", "list"]).ok().stdout;
    for s in [&ci_secret, &reader_secret, &quiet_secret] {
        assert!(!list.stdout.contains(s.as_str()) && !text.contains(s.as_str()));
    }
    let ci_row = text.lines().find(|l| l.contains("github-ci")).unwrap();
    assert!(
        ci_row.starts_with(&ci_id.to_string()) && ci_row.contains("upload") && ci_row.contains(APP),
        "{text}"
    );
    assert!(text.contains("(this key)"), "{text}");

    // Revoked: the key stops working.
    cli.run(p, &["api-key", "revoke", &ci_id.to_string()]).ok();
    as_ci.run(p, &["bundle", "list"]).fails(3, "not valid");
    cli.run(p, &["api-key", "revoke", &ci_id.to_string()])
        .fails(4, "not found");

    // The last permanent admin key is not revoked, and the way out is shown.
    let admin_id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["mode"] == "all" && k["apps"] == serde_json::json!([]))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = cli
        .run(p, &["api-key", "revoke", &admin_id.to_string()])
        .fails(4, "last");
    assert!(r.stderr.contains("api-key create"), "{r:?}");
    cli.run(p, &["bundle", "list"]).ok();

    // Bad arguments are usage errors, and create nothing.
    cli.run(
        p,
        &[
            "api-key",
            "create",
            "x",
            "--mode",
            "upload",
            "--expires",
            "2001-01-01",
        ],
    )
    .fails(2, "in the past");
    cli.run(
        p,
        &[
            "api-key",
            "create",
            "x",
            "--mode",
            "upload",
            "--expires",
            "soon",
        ],
    )
    .fails(2, "RFC 3339");
    cli.run(p, &["api-key", "create", "x", "--mode", "root"])
        .fails(2, "invalid value");
    cli.run(p, &["api-key", "create", "x"]).fails(2, "--mode");
    cli.run(p, &["api-key", "create", " ", "--mode", "read"])
        .fails(2, "name");
    let after = cli.run(p, &["api-key", "list", "--json"]).ok().json();
    assert!(
        !after.as_array().unwrap().iter().any(|k| k["name"] == "x"),
        "{after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_key_refused_is_told_why_not_to_get_an_admin_key() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    let secret = |args: &[&str]| {
        let mut all = vec!["api-key", "create"];
        all.extend_from_slice(args);
        all.push("--json");
        cli.run(p, &all).ok().json()["secret"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // An admin key that expires cannot make one that outlives it: the message
    // names the CLI's --expires, and does not ask for a key of mode all.
    let expiring = secret(&["temp-admin", "--mode", "all", "--expires", "1d"]);
    let as_expiring = Cli::new(&server).with_env("UPDRAFT_API_KEY", &expiring);
    let r = as_expiring
        .run(
            p,
            &[
                "api-key",
                "create",
                "long",
                "--mode",
                "read",
                "--expires",
                "30d",
            ],
        )
        .fails(3, "outlives");
    assert!(r.stderr.contains("--expires"), "{r:?}");
    assert!(!r.stderr.contains("expires_at"), "{r:?}");
    assert!(r.stderr.contains("this key expires"), "{r:?}");
    assert!(!r.stderr.contains("needs a key of mode all"), "{r:?}");
    as_expiring
        .run(
            p,
            &[
                "api-key",
                "create",
                "short",
                "--mode",
                "read",
                "--expires",
                "1h",
            ],
        )
        .ok();

    // An admin key limited to an app cannot make one for every app: --app.
    let scoped = cli.run(
        p,
        &[
            "api-key",
            "create",
            "app-admin",
            "--mode",
            "all",
            "--app",
            APP,
            "--json",
        ],
    );
    let scoped = scoped.ok().json()["secret"].as_str().unwrap().to_string();
    let r = Cli::new(&server)
        .with_env("UPDRAFT_API_KEY", &scoped)
        .run(p, &["api-key", "create", "wide", "--mode", "read"])
        .fails(3, "limited to some apps");
    assert!(r.stderr.contains("--app"), "{r:?}");
    assert!(!r.stderr.contains("needs a key of mode all"), "{r:?}");

    // A key below mode all is told it needs one.
    let writer = secret(&["writer", "--mode", "write"]);
    let r = Cli::new(&server)
        .with_env("UPDRAFT_API_KEY", &writer)
        .run(p, &["api-key", "create", "x", "--mode", "read"])
        .fails(3, "mode write");
    assert!(r.stderr.contains("needs a key of mode all"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_are_created_listed_and_deleted_with_confirmation() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();

    // From the project (appId, appName), or by id.
    let a = cli.run(p, &["app", "create", "--json"]).ok().json();
    assert_eq!(a["app_id"], APP);
    assert_eq!(a["name"], "Test App");
    let empty = tempfile::tempdir().unwrap();
    let e = empty.path();
    cli.run(
        e,
        &["app", "create", "com.example.other", "--name", "Other"],
    )
    .ok();
    cli.run(e, &["app", "create", "com.example.other"])
        .fails(4, "");
    cli.run(e, &["app", "create", "not-an-id"])
        .fails(2, "reverse-domain");

    let list = cli.run(e, &["app", "list", "--json"]).ok().json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["app_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(ids.contains(&APP) && ids.contains(&"com.example.other"));
    let text = cli.run(e, &["app", "list"]).ok().stdout;
    assert!(
        text.contains("Other") && text.contains("Test App"),
        "{text}"
    );

    // Delete: not without confirmation when nobody can be asked.
    cli.run(p, &["init"]).ok();
    cli.run(p, &["deploy"]).ok();
    cli.run(e, &["app", "delete", APP]).fails(2, "--yes");
    let (status, _) = server.api("GET", &format!("/apps/{APP}"), None).await;
    assert_eq!(status, 200, "still there");
    let d = cli
        .run(e, &["app", "delete", APP, "--yes", "--json"])
        .ok()
        .json();
    assert_eq!(d["deleted"], APP);
    let (status, _) = server.api("GET", &format!("/apps/{APP}"), None).await;
    assert_eq!(status, 404);
    cli.run(e, &["app", "delete", APP, "--yes"])
        .fails(4, "not found");

    // Deleting needs mode write.
    let (_, k) = server
        .api(
            "POST",
            "/keys",
            Some(serde_json::json!({"name": "ro", "mode": "read"})),
        )
        .await;
    Cli::new(&server)
        .with_env("UPDRAFT_API_KEY", k["secret"].as_str().unwrap())
        .run(e, &["app", "delete", "com.example.other", "--yes"])
        .fails(3, "mode read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_api_key_create_takes_several_apps() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cli.run(d, &["app", "create", "com.example.a"]).ok();
    cli.run(d, &["app", "create", "com.example.b"]).ok();
    cli.run(
        d,
        &[
            "--app",
            "com.example.a",
            "--app",
            "com.example.b",
            "bundle",
            "list",
        ],
    )
    .fails(2, "one app");
    let k: Value = cli
        .run(
            d,
            &[
                "api-key",
                "create",
                "two",
                "--mode",
                "read",
                "--app",
                "com.example.a",
                "--app",
                "com.example.b",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(
        k["apps"],
        serde_json::json!(["com.example.a", "com.example.b"])
    );
}
