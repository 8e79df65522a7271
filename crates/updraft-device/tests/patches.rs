//! Byte-level patches end to end: the server prepares them in the background
//! after a device's first check of a pair of bundles, offers them only to
//! clients that ask, and the device rebuilds each file from the one it holds
//! (its builtin assets or the running bundle), falling back to the whole
//! file when a patch does not rebuild it.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use updraft_device::{Device, Latest, Offer};
use updraft_test_support::*;

/// A JS file large enough to be worth patching; `marker` changes one line.
fn vendor(marker: &str) -> String {
    let mut s = String::new();
    for i in 0..3_000 {
        s.push_str(&format!(
            "export function f{i}(x) {{ return x * {}; }}\n",
            i % 89
        ));
    }
    s.push_str(&format!("export const build = '{marker}';\n"));
    s
}

fn deploy(cli: &Cli, p: &Path, version: &str) {
    cli.run(p, &["deploy", "--delta", "--bundle", version]).ok();
}

/// Checks until the offer carries patches (the server prepares them after
/// the first check of the pair).
async fn offer_with_patches(d: &mut Device) -> Offer {
    for _ in 0..200 {
        match d.check().await {
            Latest::Update(o) if !o.patches.is_empty() => return o,
            Latest::Update(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            other => panic!("expected an update, got {other:?}"),
        }
    }
    panic!("no patches were offered within 5 s");
}

async fn install(d: &mut Device, o: &Offer) -> updraft_device::DownloadReport {
    let b = d.download(o).await.unwrap();
    d.next(&b.id).unwrap();
    d.apply_next().unwrap();
    d.notify_app_ready().unwrap();
    d.last_download().unwrap()
}

fn assert_runs(d: &Device, p: &Path) {
    let dir = d.current_dir().unwrap();
    for rel in ["index.html", "assets/app.js", "assets/vendor.js"] {
        assert_eq!(
            std::fs::read(dir.join(rel)).unwrap(),
            std::fs::read(p.join("dist").join(rel)).unwrap(),
            "{rel}"
        );
    }
}

fn copy_build(p: &Path, to: &Path) {
    for rel in ["index.html", "assets/app.js", "assets/vendor.js"] {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(p.join("dist").join(rel), dest).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_from_the_builtin_bundle_rebuilds_the_changed_file() {
    let server = Server::start().await;
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    write(p, "dist/assets/vendor.js", &vendor("store"));
    let cli = Cli::new(&server);
    cli.run(p, &["init"]).ok();
    // The store build, uploaded under the native version it ships in.
    deploy(&cli, p, "1.0.0");
    let builtin = tempfile::tempdir().unwrap();
    copy_build(p, builtin.path());
    write(p, "dist/assets/vendor.js", &vendor("live"));
    deploy(&cli, p, "1.0.1");

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = server.device_config(dir.path());
    cfg.builtin_dir = Some(builtin.path().to_path_buf());
    let mut d = Device::open(cfg).unwrap();
    assert_eq!(d.current_version(), "1.0.0");
    let o = offer_with_patches(&mut d).await;
    let patch = o
        .patches
        .iter()
        .find(|x| x.file_name == "assets/vendor.js.br")
        .expect("vendor.js is patched");
    assert_eq!(patch.from_file, "assets/vendor.js");
    let r = install(&mut d, &o).await;
    assert_eq!((r.patched, r.patch_fallbacks), (1, 0), "{r:?}");
    assert_eq!(r.reused, 2, "{r:?}");
    assert!(
        r.fetched_bytes < 300,
        "a patch of a few bytes, not the file: {r:?}"
    );
    assert_runs(&d, p);

    // Only clients that ask are sent patches; the stock plugin never is.
    let plain = server
        .check_app(APP, json!({ "version_name": "1.0.0" }))
        .await;
    assert_eq!(plain["version"], "1.0.1", "{plain}");
    assert!(plain.get("patches").is_none(), "{plain}");
    let asked = server
        .check_app(
            APP,
            json!({ "version_name": "1.0.0", "patch_formats": ["zstd"] }),
        )
        .await;
    let url = asked["patches"][0]["download_url"].as_str().unwrap();
    assert!(url.starts_with(&server.base), "absolute: {url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_patch_falls_back_to_the_whole_file() {
    let server = Server::start().await;
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    write(p, "dist/assets/vendor.js", &vendor("a"));
    let cli = Cli::new(&server);
    cli.run(p, &["init"]).ok();
    deploy(&cli, p, "1.0.1");
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::open(server.device_config(dir.path())).unwrap();
    let Latest::Update(o) = d.check().await else {
        panic!("an update")
    };
    install(&mut d, &o).await;

    write(p, "dist/assets/vendor.js", &vendor("b"));
    deploy(&cli, p, "1.0.2");
    let o = offer_with_patches(&mut d).await;
    for x in &o.patches {
        let sha = x.download_url.rsplit('/').next().unwrap();
        let stored = server.dir.join("blobs/bundles").join(format!("{sha}.zip"));
        std::fs::write(&stored, b"not a zstd patch at all").unwrap();
    }
    let r = install(&mut d, &o).await;
    assert_eq!(r.patched, 0, "{r:?}");
    assert!(r.patch_fallbacks >= 1, "{r:?}");
    assert_runs(&d, p);
    assert_eq!(d.current_version(), "1.0.2");
}
