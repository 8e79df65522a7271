//! Interop with the real `@capgo/cli` from the npm registry, both ways:
//! artifacts Capgo makes (key, zip, encrypted zip) decrypt and verify with
//! `updraft`, register on a server and are offered to devices with their
//! session key; bundles `updraft` encrypts decrypt and verify with Capgo's CLI.
//!
//! Needs `npm` and the npm registry (both there on CI). If the install fails the
//! test fails: it never skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use updraft_test_support::*;

const CAPGO_CLI: &str = "@capgo/cli@8.68.1";
const UPDATER: &str = "@capgo/capacitor-updater@8.51.14";
const APP: &str = "com.example.capgo";

/// Installs the pinned Capgo CLI and plugin once, under the target dir.
fn capgo_install() -> PathBuf {
    common::npm_install(
        "capgo-npm",
        &[CAPGO_CLI, UPDATER],
        &[],
        &[
            "node_modules/.bin/capgo",
            "node_modules/@capgo/capacitor-updater/package.json",
        ],
    )
}

/// Runs Capgo's CLI in `project` (non-interactive, as in CI).
fn capgo(npm: &Path, project: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(npm.join("node_modules/.bin/capgo"))
        .args(args)
        .current_dir(project)
        .env("CI", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON document in Capgo's stdout (it may print banners around it).
fn capgo_json(stdout: &str) -> Value {
    let start = stdout
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {stdout}"));
    let end = stdout.rfind('}').unwrap();
    serde_json::from_str(&stdout[start..=end]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capgo_cli_artifacts_work_with_updraft_and_back() {
    let npm = capgo_install();
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    write(
        p,
        "capacitor.config.json",
        &format!(
            r#"{{"appId":"{APP}","appName":"Capgo","webDir":"dist","plugins":{{"CapacitorUpdater":{{}}}}}}"#
        ),
    );
    write(
        p,
        "package.json",
        r#"{"name":"capgo-app","version":"1.0.2","dependencies":{"@capgo/capacitor-updater":"8.51.14"}}"#,
    );
    write(
        p,
        "dist/index.html",
        "<html><script src=\"app.js\"></script></html>",
    );
    write(p, "dist/app.js", "CapacitorUpdater.notifyAppReady();");
    std::os::unix::fs::symlink(npm.join("node_modules"), p.join("node_modules")).unwrap();

    // Capgo makes the key, the zip, and the encrypted zip.
    let (ok, out, err) = capgo(&npm, p, &["key", "create"]);
    assert!(
        ok && p.join(".capgo_key_v2").exists(),
        "capgo key create: {out}\n{err}"
    );
    let (ok, out, err) = capgo(
        &npm,
        p,
        &["bundle", "zip", APP, "--bundle", "1.0.2", "--json"],
    );
    assert!(ok, "capgo bundle zip: {out}\n{err}");
    let zipped = capgo_json(&out);
    let zip_name = zipped["filename"].as_str().unwrap().to_string();
    let checksum = zipped["checksum"].as_str().unwrap().to_string();
    let (ok, out, err) = capgo(
        &npm,
        p,
        &["bundle", "encrypt", &zip_name, &checksum, "--json"],
    );
    assert!(ok, "capgo bundle encrypt: {out}\n{err}");
    let enc = capgo_json(&out);
    let enc_name = enc["filename"].as_str().unwrap().to_string();
    let iv_session_key = enc["ivSessionKey"].as_str().unwrap().to_string();
    let enc_checksum = enc["checksum"].as_str().unwrap().to_string();
    assert_eq!(enc_checksum.len(), 512, "V3 checksum for plugin 8");

    // The key Capgo wrote is one updraft reads, with the same key id the plugin computes.
    let shown = cli.run(p, &["key", "show", "--json"]).ok().json();
    assert_eq!(shown["private_key_matches"], true);
    assert_eq!(shown["config_matches"], true);
    let key_id = shown["key_id"].as_str().unwrap().to_string();
    assert!(key_id.starts_with("MIIBCgKCAQEA"), "{key_id}");

    // updraft decrypts and verifies Capgo's bundle.
    let d = cli
        .run(
            p,
            &[
                "bundle",
                "decrypt",
                &enc_name,
                &iv_session_key,
                "--checksum",
                &enc_checksum,
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(d["sha256"], checksum.as_str());
    assert_eq!(
        std::fs::read(p.join(&zip_name)).unwrap(),
        std::fs::read(p.join(format!("{enc_name}_decrypted.zip"))).unwrap()
    );
    // A wrong checksum is caught.
    cli.run(
        p,
        &[
            "bundle",
            "decrypt",
            &enc_name,
            &iv_session_key,
            "--checksum",
            &"ab".repeat(32),
        ],
    )
    .fails(1, "hashes to");

    // Registered as an external bundle, devices are offered it with its session key.
    cli.run(p, &["init"]).ok();
    let config = std::fs::read_to_string(p.join("capacitor.config.json")).unwrap();
    assert!(
        config.contains("BEGIN RSA PUBLIC KEY"),
        "init keeps Capgo's publicKey: {config}"
    );
    let url = "https://cdn.example.com/com.example.capgo_1.0.2.zip_encrypted.zip";
    let reg = cli
        .run(
            p,
            &[
                "bundle",
                "upload",
                "--external",
                url,
                "--iv-session-key",
                &iv_session_key,
                "--checksum",
                &enc_checksum,
                "--channel",
                "production",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(reg["key_id"], key_id.as_str());
    let offer = server.check_app(APP, json!({"key_id": key_id})).await;
    assert_eq!(offer["version"], "1.0.2", "{offer}");
    assert_eq!(offer["url"], url);
    assert_eq!(offer["session_key"], iv_session_key.as_str());
    assert_eq!(offer["checksum"], enc_checksum.as_str());
    // A session key from another key pair is refused before it reaches phones.
    let other = tempfile::tempdir().unwrap();
    cli.run(other.path(), &["key", "create"]).ok();
    let theirs = cli
        .run(
            other.path(),
            &[
                "--app",
                APP,
                "bundle",
                "zip",
                "--path",
                p.join("dist").to_str().unwrap(),
                "--bundle",
                "9.9.9",
                "--json",
            ],
        )
        .ok()
        .json();
    let theirs_enc = cli
        .run(
            other.path(),
            &[
                "bundle",
                "encrypt",
                theirs["filename"].as_str().unwrap(),
                "--json",
            ],
        )
        .ok()
        .json();
    cli.run(
        p,
        &[
            "bundle",
            "upload",
            "--bundle",
            "1.0.3",
            "--external",
            url,
            "--iv-session-key",
            theirs_enc["ivSessionKey"].as_str().unwrap(),
            "--checksum",
            theirs_enc["checksum"].as_str().unwrap(),
        ],
    )
    .fails(1, "publicKey");

    // The other way: updraft zips and encrypts with Capgo's key; Capgo's CLI decrypts and verifies.
    write(p, "dist/app.js", "CapacitorUpdater.notifyAppReady(); // v2");
    let ours = cli
        .run(p, &["bundle", "zip", "--bundle", "1.0.4", "--json"])
        .ok()
        .json();
    let ours_name = ours["filename"].as_str().unwrap();
    let ours_enc = cli
        .run(p, &["bundle", "encrypt", ours_name, "--json"])
        .ok()
        .json();
    let (ok, out, err) = capgo(
        &npm,
        p,
        &[
            "bundle",
            "decrypt",
            ours_enc["filename"].as_str().unwrap(),
            ours_enc["ivSessionKey"].as_str().unwrap(),
            "--checksum",
            ours_enc["checksum"].as_str().unwrap(),
        ],
    );
    assert!(
        ok && out.contains("Checksum matches"),
        "capgo bundle decrypt of ours: {out}\n{err}"
    );
    assert_eq!(
        std::fs::read(p.join(ours_name)).unwrap(),
        std::fs::read(p.join(format!(
            "{}_decrypted.zip",
            ours_enc["filename"].as_str().unwrap()
        )))
        .unwrap()
    );
}
