//! Story tests: from a Capacitor project to a device being offered the bundle,
//! through the built `updraft` binary and a real server on 127.0.0.1.

use serde_json::json;
use updraft_test_support::*;

const APP: &str = "com.example.cli";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_then_deploy_offers_the_bundle_to_devices() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.1");
    let p = project.path();

    let init = cli.run(p, &["init", "--json"]).ok().json();
    assert_eq!(init["app_created"], true);
    assert_eq!(init["channels_created"], json!(["production", "beta"]));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("capacitor.config.json")).unwrap())
            .unwrap();
    let updater = &config["plugins"]["CapacitorUpdater"];
    assert_eq!(updater["updateUrl"], format!("{}/updates", server.base));
    assert_eq!(updater["statsUrl"], format!("{}/stats", server.base));
    assert_eq!(
        updater["channelUrl"],
        format!("{}/channel_self", server.base)
    );
    assert_eq!(
        config["server"]["androidScheme"], "https",
        "other keys are kept"
    );
    let text = std::fs::read_to_string(p.join("capacitor.config.json")).unwrap();
    assert!(
        text.find("\"appId\"").unwrap() < text.find("\"plugins\"").unwrap(),
        "key order kept"
    );

    // Idempotent: nothing new the second time, and the file is unchanged.
    let again = cli.run(p, &["init", "--json"]).ok().json();
    assert_eq!(again["app_created"], false);
    assert_eq!(again["channels_created"], json!([]));
    assert_eq!(
        std::fs::read_to_string(p.join("capacitor.config.json")).unwrap(),
        text
    );
    let (_, channels) = server
        .api("GET", &format!("/apps/{APP}/channels"), None)
        .await;
    let beta = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "beta")
        .unwrap();
    assert_eq!(beta["allow_device_self_set"], true);
    assert_eq!(beta["public"], false);

    let up = cli.run(p, &["deploy", "--json"]).ok().json();
    assert_eq!(up["bundle"], "1.0.1");
    assert_eq!(up["channel"], "production");
    assert_eq!(up["encrypted"], false);

    let offer = server.check_app(APP, json!({})).await;
    assert_eq!(offer["version"], "1.0.1", "{offer}");
    assert_eq!(offer["checksum"], up["checksum"]);
    assert_eq!(offer["session_key"], "");
    let zip = server.download(offer["url"].as_str().unwrap()).await;
    assert_eq!(
        updraft_core::crypto::sha256_hex(&zip),
        up["checksum"].as_str().unwrap()
    );
    let mut names = zip_names(&zip);
    names.sort();
    assert_eq!(names, ["assets/", "assets/app.js", "index.html"]);

    // The same version again: exit 4 with a hint, or 0 with --version-exists-ok.
    cli.run(p, &["deploy"]).fails(4, "already exists");
    let skipped = cli
        .run(p, &["deploy", "--version-exists-ok", "--json"])
        .ok()
        .json();
    assert_eq!(skipped["skipped"], true);

    // The same build under a new version: refused (devices would download it for nothing).
    let same = cli
        .run(p, &["deploy", "--bundle", "1.0.9"])
        .fails(4, "identical to 1.0.1");
    assert!(same.stderr.contains("--ignore-checksum-check"), "{same:?}");

    // A second version, then promote and rollback.
    write_build(p, "v2");
    cli.run(p, &["deploy", "--bundle", "1.0.2", "--comment", "second"])
        .ok();
    assert_eq!(server.check_app(APP, json!({})).await["version"], "1.0.2");
    let rb = cli
        .run(p, &["rollback", "--channel", "production", "--json"])
        .ok()
        .json();
    assert_eq!(rb["channel"]["bundle_version"], "1.0.1");
    assert_eq!(server.check_app(APP, json!({})).await["version"], "1.0.1");
    cli.run(p, &["promote", "1.0.2", "--channel", "production"])
        .ok();
    assert_eq!(server.check_app(APP, json!({})).await["version"], "1.0.2");
    let history = cli
        .run(p, &["channel", "history", "production", "--json"])
        .ok()
        .json();
    let deployed: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["bundle_version"].as_str().unwrap())
        .collect();
    assert_eq!(
        deployed,
        ["1.0.2", "1.0.1", "1.0.2", "1.0.1", "builtin"],
        "newest first"
    );

    let list = cli.run(p, &["bundle", "list", "--json"]).ok().json();
    let versions: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["version"].as_str().unwrap())
        .collect();
    assert!(
        versions.contains(&"1.0.1") && versions.contains(&"1.0.2"),
        "{list}"
    );
    let text = cli.run(p, &["bundle", "list"]).ok().stdout;
    assert!(
        text.contains("VERSION") && text.contains("production"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_deploy_verifies_with_the_plugin_algorithm_in_node() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.1.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    let key = cli.run(p, &["key", "create", "--json"]).ok().json();
    assert_eq!(key["config_updated"], true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(p.join(".capgo_key_v2"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the private key is readable by its owner only"
        );
    }
    let config = std::fs::read_to_string(p.join("capacitor.config.json")).unwrap();
    assert!(
        config.contains("-----BEGIN RSA PUBLIC KEY-----"),
        "{config}"
    );
    // A second create refuses to overwrite.
    cli.run(p, &["key", "create"]).fails(4, "already exists");

    let up = cli.run(p, &["deploy", "--json"]).ok().json();
    assert_eq!(up["encrypted"], true);
    assert_eq!(up["checksum"].as_str().unwrap().len(), 512);
    assert_eq!(up["key_id"], key["key_id"]);

    let offer = server
        .check_app(APP, json!({"key_id": key["key_id"]}))
        .await;
    assert_eq!(offer["version"], "1.1.0", "{offer}");
    let session_key = offer["session_key"].as_str().unwrap();
    assert_eq!(session_key, up["session_key"].as_str().unwrap());
    let enc = server.download(offer["url"].as_str().unwrap()).await;
    let work = tempfile::tempdir().unwrap();
    let enc_path = write_bytes(work.path(), "bundle.zip", &enc);
    let out = work.path().join("plain.zip");
    let node = std::process::Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/node/verify_bundle.mjs"
        ))
        .arg(&enc_path)
        .arg(session_key)
        .arg(offer["checksum"].as_str().unwrap())
        .arg(p.join(".capgo_key_v2.pub"))
        .arg(&out)
        .output()
        .expect("node runs (the machine's Node.js)");
    assert!(
        node.status.success(),
        "node verification: {}",
        String::from_utf8_lossy(&node.stderr)
    );
    let verified: serde_json::Value = serde_json::from_slice(&node.stdout).unwrap();
    assert_eq!(verified["sha256"], up["sha256"]);
    let plain = std::fs::read(&out).unwrap();
    assert!(zip_names(&plain).contains(&"index.html".to_string()));

    // Our own decrypt agrees, and refuses a tampered file.
    let d = cli
        .run(
            p,
            &[
                "bundle",
                "decrypt",
                enc_path.to_str().unwrap(),
                session_key,
                "--checksum",
                offer["checksum"].as_str().unwrap(),
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(d["sha256"], up["sha256"]);
    let mut tampered = enc.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x55;
    let t = write_bytes(work.path(), "tampered.zip", &tampered);
    let r = cli.run(
        p,
        &[
            "bundle",
            "decrypt",
            t.to_str().unwrap(),
            session_key,
            "--checksum",
            offer["checksum"].as_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        !work.path().join("tampered.zip_decrypted.zip").exists(),
        "nothing written on failure"
    );

    // An unchanged build is recognised through the encrypted checksum too.
    cli.run(p, &["deploy", "--bundle", "1.1.5"])
        .fails(4, "identical to 1.1.0");

    // A private key that does not match the config's publicKey is refused before upload.
    let other = tempfile::tempdir().unwrap();
    cli.run(other.path(), &["key", "create"]).ok();
    cli.run(
        p,
        &[
            "deploy",
            "--bundle",
            "1.1.1",
            "--key",
            other.path().join(".capgo_key_v2").to_str().unwrap(),
        ],
    )
    .fails(1, "does not match publicKey");
    // The config has a publicKey but the private key is gone: refused, devices would reject it.
    std::fs::remove_file(p.join(".capgo_key_v2")).unwrap();
    cli.run(p, &["deploy", "--bundle", "1.1.1"])
        .fails(1, "private key");
    let (_, b) = server
        .api("GET", &format!("/apps/{APP}/bundles/1.1.1"), None)
        .await;
    assert_eq!(b["error"], "not_found", "nothing was uploaded");
}

fn write_bytes(dir: &std::path::Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_on_a_typescript_config_prints_the_block_and_changes_nothing() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = ts_project("com.example.ts");
    let p = project.path();
    let before = std::fs::read_to_string(p.join("capacitor.config.ts")).unwrap();
    let r = cli.run(p, &["init"]).ok();
    assert!(r.stdout.contains("CapacitorUpdater"), "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("updateUrl: \"{}/updates\"", server.base)),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read_to_string(p.join("capacitor.config.ts")).unwrap(),
        before
    );
    let (status, app) = server.api("GET", "/apps/com.example.ts", None).await;
    assert_eq!(status, 200);
    assert_eq!(app["name"], "TS App");
    let j = cli.run(p, &["init", "--json"]).ok().json();
    assert_eq!(j["app_created"], false);
    assert_eq!(j["config_written"], false);
    // appId and webDir come from the .ts file: deploy works from it.
    let up = cli.run(p, &["deploy", "--json"]).ok().json();
    assert_eq!(up["bundle"], "2.0.0");
    assert_eq!(
        server.check_app("com.example.ts", json!({})).await["version"],
        "2.0.0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_devices_from_the_terminal() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    cli.run(p, &["bundle", "upload", "--bundle", "1.0.5"]).ok();
    cli.run(
        p,
        &[
            "bundle",
            "upload",
            "--bundle",
            "1.0.6",
            "--channel",
            "canary",
        ],
    )
    .ok();

    let c = cli
        .run(
            p,
            &[
                "channel",
                "add",
                "qa",
                "--self-assign",
                "--no-ios",
                "--disable-auto-update",
                "none",
                "--downgrade",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(c["channel"]["allow_device_self_set"], true);
    assert_eq!(c["channel"]["ios"], false);
    assert_eq!(c["channel"]["disable_auto_update"], "none");
    assert_eq!(c["channel"]["disable_auto_update_under_native"], false);
    let s = cli
        .run(
            p,
            &[
                "channel", "set", "qa", "--bundle", "1.0.5", "--ios", "--no-dev", "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(s["channel"]["bundle_version"], "1.0.5");
    assert_eq!(s["channel"]["ios"], true);
    assert_eq!(s["channel"]["allow_dev"], false);
    assert_eq!(
        s["channel"]["allow_device_self_set"], true,
        "flags not given are unchanged"
    );
    cli.run(p, &["channel", "set", "qa"])
        .fails(2, "at least one flag");
    cli.run(p, &["channel", "set", "nope", "--public"])
        .fails(4, "not found");
    // Making qa public takes public from production, and says so.
    let r = cli.run(p, &["channel", "set", "qa", "--public"]).ok();
    assert!(r.stderr.contains("production is no longer public"), "{r:?}");
    cli.run(p, &["channel", "set", "production", "--public"])
        .ok();
    let list = cli.run(p, &["channel", "list", "--json"]).ok().json();
    assert_eq!(
        list.as_array().unwrap().len(),
        4,
        "production, beta, canary, qa: {list}"
    );

    // A device appears once it asks; then it is moved around.
    server.check_app(APP, json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let devices = cli.run(p, &["device", "list", "--json"]).ok().json();
    assert_eq!(devices["items"][0]["device_id"], DEV);
    cli.run(p, &["device", "set-channel", DEV, "canary"]).ok();
    assert_eq!(server.check_app(APP, json!({})).await["version"], "1.0.6");
    let d = cli
        .run(p, &["device", "pin", DEV, "1.0.5", "--json"])
        .ok()
        .json();
    assert_eq!(d["override"]["version"], "1.0.5");
    assert_eq!(server.check_app(APP, json!({})).await["version"], "1.0.5");
    let shown = cli.run(p, &["device", "get", DEV]).ok().stdout;
    assert!(shown.contains("pinned to 1.0.5"), "{shown}");
    cli.run(p, &["device", "unset", DEV]).ok();
    cli.run(p, &["device", "unset", DEV])
        .fails(4, "no override");
    // Naming a bundle or channel that does not exist: not found (exit 4).
    cli.run(p, &["device", "pin", DEV, "9.9.9"])
        .fails(4, "9.9.9");
    cli.run(p, &["device", "set-channel", DEV, "nope"])
        .fails(4, "nope");
    cli.run(
        p,
        &["device", "get", "00000000-0000-4000-8000-00000000ffff"],
    )
    .fails(4, "not found");

    // Cleanup keeps the newest N and anything on a channel.
    for v in ["1.0.7", "1.0.8", "1.0.9"] {
        cli.run(p, &["bundle", "upload", "--bundle", v]).ok();
    }
    cli.run(p, &["bundle", "cleanup", "--keep", "1"])
        .fails(2, "--yes");
    let dry = cli
        .run(
            p,
            &["bundle", "cleanup", "--keep", "1", "--dry-run", "--json"],
        )
        .ok()
        .json();
    assert_eq!(dry["would_delete"], json!(["1.0.8", "1.0.7"]));
    let done = cli
        .run(p, &["bundle", "cleanup", "--keep", "1", "--yes", "--json"])
        .ok()
        .json();
    assert_eq!(done["deleted"], json!(["1.0.8", "1.0.7"]));
    cli.run(p, &["bundle", "delete", "1.0.5"]).fails(4, "");
    cli.run(p, &["bundle", "delete", "1.0.9"]).ok();
    let left = cli.run(p, &["bundle", "list", "--json"]).ok().json();
    let left: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["version"].as_str().unwrap())
        .collect();
    assert_eq!(left.len(), 2, "1.0.5 (qa) and 1.0.6 (canary): {left:?}");

    // Revoking asks first, then moves canary (which only ever served 1.0.6)
    // back to builtin; nothing can deploy 1.0.6 again.
    cli.run(p, &["bundle", "revoke", "1.0.6"]).fails(2, "--yes");
    let revoked = cli
        .run(
            p,
            &[
                "bundle",
                "revoke",
                "1.0.6",
                "--yes",
                "--reason",
                "blank screen",
            ],
        )
        .ok();
    assert!(
        revoked.stdout.contains("channel canary now serves builtin"),
        "{}",
        revoked.stdout
    );
    let listed = cli.run(p, &["bundle", "list"]).ok();
    assert!(
        listed.stdout.contains("1.0.6 (revoked)"),
        "{}",
        listed.stdout
    );
    cli.run(p, &["channel", "set", "canary", "--bundle", "1.0.6"])
        .fails(4, "revoked");
    let again = cli
        .run(p, &["bundle", "revoke", "1.0.6", "--yes", "--json"])
        .ok()
        .json();
    assert_eq!(again["changed"], false);
    assert_eq!(again["bundle"]["revoked_reason"], "blank screen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_deploy_from_ci_reaches_devices_marked() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    cli.run(p, &["bundle", "upload", "--critical"])
        .fails(2, "--channel");
    let up = cli
        .run(
            p,
            &["deploy", "--critical", "--channel", "hotfix", "--json"],
        )
        .ok()
        .json();
    assert_eq!(
        (up["bundle"].as_str(), up["channel"].as_str()),
        (Some("1.0.1"), Some("hotfix")),
        "{up}"
    );
    let hotfix = server
        .ok("GET", &format!("/apps/{APP}/channels/hotfix"), None)
        .await;
    assert_eq!(hotfix["critical"], true, "{hotfix}");
    server
        .ok(
            "PATCH",
            &format!("/apps/{APP}/channels/hotfix"),
            Some(json!({"public": true})),
        )
        .await;
    let reply = server
        .check_app(APP, json!({"defaultChannel": "hotfix"}))
        .await;
    assert_eq!(reply["critical"], true, "{reply}");
}
