//! `deploy --delta`: the bundle gets its per-file manifest, only the files
//! the server lacks are uploaded, and devices whose plugin reads manifests
//! get it and can fetch each file.

use serde_json::json;
use updraft_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_delta_sends_only_new_files_and_devices_get_the_manifest() {
    let server = Server::start().await;
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    write(
        p,
        "dist/assets/vendor.js",
        &"export const v = [1, 2, 3];\n".repeat(2_000),
    );
    let cli = Cli::new(&server);
    cli.run(p, &["init"]).ok();

    let up = cli.run(p, &["--json", "deploy", "--delta"]).ok().json();
    assert_eq!(up["channel"], "production", "{up}");
    let m = &up["manifest"];
    assert_eq!(
        (&m["files"], &m["uploaded_files"]),
        (&json!(3), &json!(3)),
        "{up}"
    );
    let offer = server.check_app(APP, json!({})).await;
    assert_eq!(offer["version"], "1.0.1", "{offer}");
    let entries = offer["manifest"].as_array().expect("a manifest");
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["file_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"assets/vendor.js.br"), "{names:?}");
    for e in entries {
        let body = server.download(e["download_url"].as_str().unwrap()).await;
        let name = e["file_name"].as_str().unwrap();
        let plain = match name.strip_suffix(".br") {
            Some(_) => updraft_core::manifest::brotli_decompress(&body, 1 << 20).unwrap(),
            None => body,
        };
        assert_eq!(
            updraft_core::crypto::sha256_hex(&plain),
            e["file_hash"].as_str().unwrap(),
            "{name}"
        );
    }

    // One file changes: only it is sent.
    write(p, "dist/index.html", "<html><body>v2</body></html>");
    let up = cli
        .run(p, &["--json", "deploy", "--delta", "--bundle", "1.0.2"])
        .ok()
        .json();
    let m = &up["manifest"];
    assert_eq!(
        (&m["files"], &m["uploaded_files"]),
        (&json!(3), &json!(1)),
        "{up}"
    );
    assert_eq!(m["uploaded_bytes"], "<html><body>v2</body></html>".len());
    // The same files under a new version: nothing is sent.
    let up = cli
        .run(
            p,
            &[
                "--json",
                "deploy",
                "--delta",
                "--bundle",
                "1.0.3",
                "--ignore-checksum-check",
            ],
        )
        .ok()
        .json();
    assert_eq!(up["manifest"]["uploaded_files"], 0, "{up}");
    let offer = server.check_app(APP, json!({})).await;
    assert_eq!(offer["version"], "1.0.3");
    assert_eq!(offer["manifest"].as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_delta_signs_every_hash_and_leaves_empty_files_out() {
    let server = Server::start().await;
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    write(p, "dist/empty.css", "");
    let cli = Cli::new(&server);
    cli.run(p, &["init"]).ok();
    cli.run(p, &["key", "create"]).ok();
    let up = cli.run(p, &["--json", "deploy", "--delta"]).ok().json();
    assert_eq!(up["encrypted"], true, "{up}");
    assert_eq!(up["manifest"]["files"], 2, "{up}");
    assert_eq!(up["manifest"]["empty_files_left_out"], 1, "{up}");
    let offer = server.check_app(APP, json!({})).await;
    let entries = offer["manifest"].as_array().expect("a manifest");
    let public = std::fs::read_to_string(p.join(".capgo_key_v2.pub")).unwrap();
    let public = updraft_core::crypto::PublicKey::from_pem(&public).unwrap();
    let sk =
        updraft_core::crypto::SessionKey::open(offer["session_key"].as_str().unwrap(), &public)
            .unwrap();
    for e in entries {
        let hash = e["file_hash"].as_str().unwrap();
        assert_eq!(hash.len(), 512, "signed: {e}");
        let plain = sk
            .decrypt(&server.download(e["download_url"].as_str().unwrap()).await)
            .unwrap();
        assert_eq!(
            updraft_core::crypto::sha256_hex(&plain),
            updraft_core::crypto::decrypt_checksum(&public, hash).unwrap(),
            "{e}"
        );
    }

    // An encrypted bundle stored without a manifest cannot get one (its AES
    // key is gone): the error says so and what to do instead.
    write(p, "dist/index.html", "<html>v2</html>");
    cli.run(p, &["bundle", "upload", "--bundle", "1.0.2"]).ok();
    cli.run(p, &["deploy", "--delta", "--bundle", "1.0.2"])
        .fails(4, "under a new version with --delta");
    let (_, b) = server
        .api("GET", &format!("/apps/{APP}/bundles/1.0.2"), None)
        .await;
    assert_eq!(b["manifest"], json!([]), "nothing changed: {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_run_cut_off_after_its_zip_is_finished_by_running_it_again() {
    let server = Server::start().await;
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    let cli = Cli::new(&server);
    cli.run(p, &["init"]).ok();
    // What a run stopped after the zip leaves: the bundle, no manifest, no channel.
    cli.run(p, &["bundle", "upload"]).ok();
    let before = server.check_app(APP, json!({})).await;
    assert_ne!(before["version"], "1.0.1", "{before}");
    let done = cli.run(p, &["--json", "deploy", "--delta"]).ok().json();
    assert_eq!(
        (&done["resumed"], &done["channel"]),
        (&json!(true), &json!("production")),
        "{done}"
    );
    let offer = server.check_app(APP, json!({})).await;
    assert_eq!(offer["version"], "1.0.1");
    assert_eq!(
        offer["manifest"].as_array().map(Vec::len),
        Some(2),
        "{offer}"
    );
    // A different build under the same version is still refused.
    write(p, "dist/index.html", "<html>other</html>");
    cli.run(p, &["deploy", "--delta", "--bundle", "1.0.1"])
        .fails(4, "already exists");
    cli.run(
        p,
        &[
            "bundle",
            "upload",
            "--external",
            "https://cdn.example.com/a.zip",
            "--delta",
        ],
    )
    .fails(2, "cannot be used with");
}
