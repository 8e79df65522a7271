//! Encrypted bundles install on Capgo's real Electron updater
//! (`@capgo/electron-updater` from npm, run in Node with a stub `electron`
//! module): one uploaded with `updraft deploy`, and one made the Capgo-CLI way
//! (`@capgo/cli bundle zip` + `bundle encrypt`, hosted elsewhere, registered
//! with `updraft bundle upload --external`). The updater verifies the served
//! checksum, decrypts and unzips the bundle itself.
//!
//! Needs `node`, `npm` and the npm registry (all there on CI). If the install
//! fails the test fails: it never skips.

mod common;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use updraft_test_support::*;

const ELECTRON_UPDATER: &str = "@capgo/electron-updater@0.0.6";
const CAPGO_CLI: &str = "@capgo/cli@8.68.1";
/// `capgo bundle zip` refuses a project without the plugin installed.
const UPDATER: &str = "@capgo/capacitor-updater@8.51.14";
const APP: &str = "com.example.electron";

/// Installs the pinned packages once, under the target dir. `electron` itself
/// is a peer dependency the test replaces with a stub, so it is not installed
/// (its install script downloads a browser).
fn npm_install() -> PathBuf {
    common::npm_install(
        "electron-npm",
        &[ELECTRON_UPDATER, CAPGO_CLI, UPDATER],
        &["--legacy-peer-deps"],
        &[
            "node_modules/@capgo/electron-updater/package.json",
            "node_modules/.bin/capgo",
            "node_modules/@capgo/capacitor-updater/package.json",
        ],
    )
}

/// Runs the Electron updater against the server: `(installed, its report)`.
fn electron_install(npm: &Path, server: &Server, project: &Path) -> (bool, Value) {
    let user_data = tempfile::tempdir().unwrap();
    let out = Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/node/electron_updater.cjs"
        ))
        .arg(npm.join("node_modules"))
        .arg(&server.base)
        .arg(APP)
        .arg(project.join(".capgo_key_v2.pub"))
        .arg(user_data.path())
        .output()
        .expect("node runs (the machine's Node.js)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no report from node: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    (out.status.success(), report)
}

/// Serves `body` at any path on 127.0.0.1 (the "CDN" of an external bundle).
fn serve(body: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    format!("http://{addr}")
}

fn capgo(npm: &Path, project: &Path, args: &[&str]) -> Value {
    let out = Command::new(npm.join("node_modules/.bin/capgo"))
        .args(args)
        .current_dir(project)
        .env("CI", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "capgo {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (start, end) = (stdout.find('{').unwrap(), stdout.rfind('}').unwrap());
    serde_json::from_str(&stdout[start..=end]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_bundles_install_on_the_real_electron_updater() {
    let npm = npm_install();
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.1.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    cli.run(p, &["key", "create"]).ok();
    // Run again, init gives the server the app's public key.
    let again = cli.run(p, &["init", "--json"]).ok().json();
    assert_eq!(again["public_key_registered"], true, "{again}");
    let (_, app) = server.api("GET", &format!("/apps/{APP}"), None).await;
    let pem = std::fs::read_to_string(p.join(".capgo_key_v2.pub")).unwrap();
    assert_eq!(app["public_key"].as_str().map(str::trim), Some(pem.trim()));
    let again = cli.run(p, &["init", "--json"]).ok().json();
    assert_eq!(again["public_key_registered"], false, "only once: {again}");

    // Uploaded with updraft: encrypted, and the Electron updater installs it.
    write_build(p, "from-updraft");
    let up = cli.run(p, &["deploy", "--json"]).ok().json();
    assert_eq!(up["encrypted"], true);
    let (ok, r) = electron_install(&npm, &server, p);
    assert!(ok, "electron updater: {r}");
    assert_eq!(r["latest"]["version"], "1.1.0");
    assert_eq!(r["latest"]["sessionKey"], up["session_key"]);
    assert!(
        r["index_html"].as_str().unwrap().contains("from-updraft"),
        "{r}"
    );

    // Made by Capgo's CLI (with the same key), hosted elsewhere.
    std::os::unix::fs::symlink(npm.join("node_modules"), p.join("node_modules")).unwrap();
    write(
        p,
        "package.json",
        r#"{"name":"test-app","version":"1.2.0","dependencies":{"@capgo/capacitor-updater":"8.51.14"}}"#,
    );
    write_build(p, "from-capgo");
    let zipped = capgo(
        &npm,
        p,
        &[
            "bundle", "zip", APP, "--path", "dist", "--bundle", "1.2.0", "--json",
        ],
    );
    let enc = capgo(
        &npm,
        p,
        &[
            "bundle",
            "encrypt",
            zipped["filename"].as_str().unwrap(),
            zipped["checksum"].as_str().unwrap(),
            "--json",
        ],
    );
    let enc_file = p.join(enc["filename"].as_str().unwrap());
    let url = format!(
        "{}/capgo_1.2.0_encrypted.zip",
        serve(std::fs::read(&enc_file).unwrap())
    );
    let register = |version: &str, with_file: bool| {
        let mut args = vec![
            "bundle",
            "upload",
            "--bundle",
            version,
            "--external",
            &url,
            "--iv-session-key",
            enc["ivSessionKey"].as_str().unwrap(),
            "--checksum",
            enc["checksum"].as_str().unwrap(),
            "--channel",
            "production",
        ];
        if with_file {
            args.extend(["--encrypted-zip", enc_file.to_str().unwrap()]);
        }
        cli.run(p, &args)
    };

    // Without the encrypted zip the server cannot make Electron's checksum:
    // Electron is told "no update" instead of a download that must fail.
    let r = register("1.2.0", false).ok();
    assert!(r.stderr.contains("--encrypted-zip"), "{r:?}");
    let (ok, r) = electron_install(&npm, &server, p);
    assert!(!ok);
    assert_eq!(r["latest"]["error"], "electron_checksum_unavailable", "{r}");
    assert_eq!(r["latest"]["kind"], "blocked");

    // With it, the Capgo-made bundle installs.
    register("1.2.1", true).ok();
    let (ok, r) = electron_install(&npm, &server, p);
    assert!(ok, "electron updater: {r}");
    assert_eq!(r["latest"]["version"], "1.2.1");
    assert_eq!(r["latest"]["url"], url.as_str());
    assert!(
        r["index_html"].as_str().unwrap().contains("from-capgo"),
        "{r}"
    );
    // Phones still get the RSA form they verify.
    let native = server.check_app(APP, serde_json::json!({})).await;
    assert_eq!(native["checksum"], enc["checksum"]);
}

/// Nodes that redirect downloads to the bucket (presigned URLs from Garage,
/// a real S3-compatible store started here): the real Electron updater
/// follows the 302 and installs the encrypted bundle, checksum verified and
/// decrypted from the bucket's bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_electron_updater_installs_through_a_redirect_to_the_bucket() {
    let npm = npm_install();
    let garage = tokio::task::spawn_blocking(garage::start).await.unwrap();
    let server = Server::start_tweaked(Backend::Sqlite, |c| {
        c.storage.s3 = Some(garage.settings.clone());
        c.storage.downloads =
            updraft_server::config::Downloads::Presign(std::time::Duration::from_secs(600));
    })
    .await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.1.0");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    cli.run(p, &["key", "create"]).ok();
    cli.run(p, &["init"]).ok();
    write_build(p, "through-the-bucket");
    let up = cli.run(p, &["deploy", "--json"]).ok().json();
    assert_eq!(up["encrypted"], true);
    // The node answers the download with a redirect to the bucket.
    let offer = server.check_app(APP, serde_json::json!({})).await;
    let url = offer["url"].as_str().unwrap();
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = plain.get(url).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let to = res.headers()["location"].to_str().unwrap();
    assert!(
        to.starts_with(garage.settings.endpoint.as_deref().unwrap()),
        "{to}"
    );
    let (ok, r) = electron_install(&npm, &server, p);
    assert!(ok, "electron updater: {r}");
    assert_eq!(r["latest"]["version"], "1.1.0");
    assert!(
        r["index_html"]
            .as_str()
            .unwrap()
            .contains("through-the-bucket"),
        "{r}"
    );
}
