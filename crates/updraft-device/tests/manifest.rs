//! Manifest (delta) updates end to end: the CLI deploys with `--delta`, the
//! device fetches only the files it does not hold (from its builtin assets,
//! its cache or the running bundle it copies the rest), verifies each, and
//! refuses a tampered one; an older plugin gets the zip; `manifest_size`
//! says what the device then downloads.

use std::path::Path;

use updraft_device::{Cycle, Device, DownloadReport, Latest, Offer};
use updraft_test_support::*;

/// A JS file of `lines` lines, large enough to be sent Brotli-compressed.
fn vendor(marker: &str) -> String {
    let mut s = "export const table = [1, 2, 3, 4, 5, 6, 7, 8];\n".repeat(600);
    s.push_str(&format!("export const build = '{marker}';\n"));
    s
}

/// A device that downloads what the stock plugin does (no byte-level patches).
fn plugin_like(server: &Server, dir: &Path) -> updraft_device::DeviceConfig {
    let mut cfg = server.device_config(dir);
    cfg.patches = false;
    cfg
}

/// A project of `APP` with three files (one compressible), set up for the CLI.
fn project(server: &Server) -> (tempfile::TempDir, Cli) {
    let project = json_project(APP, "1.0.1");
    write(project.path(), "dist/assets/vendor.js", &vendor("a"));
    let cli = Cli::new(server);
    cli.run(project.path(), &["init"]).ok();
    (project, cli)
}

fn deploy(cli: &Cli, p: &Path, version: &str) -> serde_json::Value {
    cli.run(p, &["--json", "deploy", "--delta", "--bundle", version])
        .ok()
        .json()
}

async fn offer(d: &mut Device) -> Offer {
    match d.check().await {
        Latest::Update(o) => o,
        other => panic!("expected an update, got {other:?}"),
    }
}

/// Downloads and switches to `o`, returning what was transferred, after
/// checking that `manifest_size` announced exactly that many bytes.
async fn install(d: &mut Device, o: &Offer) -> DownloadReport {
    let size = d.download_size(o).await.unwrap().expect("a manifest offer");
    let b = d.download(o).await.unwrap();
    d.next(&b.id).unwrap();
    d.apply_next().unwrap();
    d.notify_app_ready().unwrap();
    let r = d.last_download().unwrap();
    assert!(r.manifest, "{r:?}");
    assert_eq!(size.unknown_files, 0, "{size:?}");
    assert_eq!(size.known_files, r.fetched, "{size:?} {r:?}");
    assert_eq!(size.total_size, r.fetched_bytes, "{size:?} {r:?}");
    r
}

/// The device's running bundle holds exactly the project's build.
fn assert_runs_build(d: &Device, p: &Path) {
    let dir = d.current_dir().expect("a downloaded bundle");
    for rel in ["index.html", "assets/app.js", "assets/vendor.js"] {
        assert_eq!(
            std::fs::read(dir.join(rel)).unwrap(),
            std::fs::read(p.join("dist").join(rel)).unwrap(),
            "{rel}"
        );
    }
    let files = walk(&dir);
    assert_eq!(files.len(), 3, "{files:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

fn actions(d: &Device) -> Vec<(String, String)> {
    d.queued_stats()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["version_name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_v2_v3_through_manifests_fetch_only_what_changed() {
    let server = Server::start().await;
    let (project, cli) = project(&server);
    let p = project.path();
    deploy(&cli, p, "1.0.1");
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::open(plugin_like(&server, dir.path())).unwrap();

    let o = offer(&mut d).await;
    assert_eq!(o.manifest.len(), 3, "{o:?}");
    let r = install(&mut d, &o).await;
    assert_eq!((r.fetched, r.reused), (3, 0), "{r:?}");
    assert_runs_build(&d, p);
    let a = actions(&d);
    for want in [
        "download_manifest_start",
        "download_manifest_complete",
        "download_complete",
    ] {
        assert!(
            a.contains(&(want.to_string(), "1.0.1".to_string())),
            "{want}: {a:?}"
        );
    }

    // v2: one small file changes; the other two are copied.
    write(p, "dist/index.html", "<html><body>v2</body></html>");
    deploy(&cli, p, "1.0.2");
    let o = offer(&mut d).await;
    let r = install(&mut d, &o).await;
    assert_eq!((r.fetched, r.reused), (1, 2), "{r:?}");
    assert_runs_build(&d, p);

    // v3: one line of the large file changes; only its Brotli stream is fetched.
    write(p, "dist/assets/vendor.js", &vendor("b"));
    deploy(&cli, p, "1.0.3");
    let o = offer(&mut d).await;
    let r = install(&mut d, &o).await;
    assert_eq!((r.fetched, r.reused), (1, 2), "{r:?}");
    assert!(
        r.fetched_bytes < 2_000,
        "the compressed file, not the {} bytes of vendor.js: {r:?}",
        vendor("b").len()
    );
    assert_runs_build(&d, p);
    assert_eq!(d.current_version(), "1.0.3");
    assert_eq!(d.update_cycle().await.unwrap(), Cycle::UpToDate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_the_builtin_bundle_are_not_downloaded_and_old_plugins_get_the_zip() {
    let server = Server::start().await;
    let (project, cli) = project(&server);
    let p = project.path();
    // The store build ships v1's assets; the live update changes one file.
    let builtin = tempfile::tempdir().unwrap();
    for rel in ["index.html", "assets/app.js", "assets/vendor.js"] {
        let to = builtin.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(p.join("dist").join(rel), to).unwrap();
    }
    write(p, "dist/index.html", "<html><body>live</body></html>");
    deploy(&cli, p, "1.0.1");

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = plugin_like(&server, dir.path());
    cfg.builtin_dir = Some(builtin.path().to_path_buf());
    let mut d = Device::open(cfg).unwrap();
    let o = offer(&mut d).await;
    let r = install(&mut d, &o).await;
    assert_eq!((r.fetched, r.reused), (1, 2), "{r:?}");
    assert_runs_build(&d, p);

    // A plugin too old to read manifests is sent the zip of the same version.
    let old_dir = tempfile::tempdir().unwrap();
    let mut cfg = plugin_like(&server, old_dir.path());
    cfg.plugin_version = "7.0.30".into();
    let mut old = Device::open(cfg).unwrap();
    let o = offer(&mut old).await;
    assert!(o.manifest.is_empty(), "{o:?}");
    assert_eq!(
        old.update_cycle().await.unwrap(),
        Cycle::Installed("1.0.1".into())
    );
    assert!(!old.last_download().unwrap().manifest);
    assert_runs_build(&old, p);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_file_is_refused_reported_and_nothing_is_kept() {
    let server = Server::start().await;
    let (project, cli) = project(&server);
    deploy(&cli, project.path(), "1.0.1");
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::open(plugin_like(&server, dir.path())).unwrap();
    let o = offer(&mut d).await;
    let index = o
        .manifest
        .iter()
        .find(|e| e.file_name == "index.html")
        .unwrap();
    let sha = index.download_url.rsplit('/').next().unwrap();
    let stored = server.dir.join("blobs/bundles").join(format!("{sha}.zip"));
    std::fs::write(&stored, "<html>not what was signed</html>").unwrap();

    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("download_manifest_checksum_fail".into())
    );
    assert_eq!(d.current_version(), "1.0.0", "still on builtin");
    assert!(d.list().is_empty(), "{:?}", d.list());
    assert!(
        walk(&dir.path().join("bundles")).is_empty(),
        "nothing of the bundle is kept"
    );
    let cache = dir.path().join("delta");
    assert!(
        !cache.exists() || walk(&cache).is_empty(),
        "the cache takes files of installed bundles only"
    );
    let a = actions(&d);
    assert!(
        a.contains(&(
            "download_manifest_checksum_fail".into(),
            "1.0.1:index.html".into()
        )),
        "{a:?}"
    );
    assert!(
        a.contains(&("download_fail".into(), "1.0.0".into())),
        "{a:?}"
    );
    // The server counts the failure against 1.0.1.
    assert!(matches!(
        d.flush_stats().await,
        updraft_device::Flush::Sent(_)
    ));
    server.settle().await;
    let seen = server.event_actions(d.device_id()).await;
    assert!(
        seen.contains(&"download_manifest_checksum_fail".to_string()),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_manifest_bundle_installs_and_reuses_files_by_their_plain_hash() {
    let server = Server::start().await;
    let (project, cli) = project(&server);
    let p = project.path();
    cli.run(p, &["key", "create"]).ok();
    let up = deploy(&cli, p, "1.0.1");
    assert_eq!(up["encrypted"], true, "{up}");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = plugin_like(&server, dir.path());
    cfg.public_key = Some(std::fs::read_to_string(p.join(".capgo_key_v2.pub")).unwrap());
    let mut d = Device::open(cfg).unwrap();
    let o = offer(&mut d).await;
    assert!(!o.session_key.is_empty() && o.manifest.len() == 3, "{o:?}");
    let r = install(&mut d, &o).await;
    assert_eq!((r.fetched, r.reused), (3, 0), "{r:?}");
    assert_runs_build(&d, p);

    // Every version has its own key, so its files are new bytes; the device
    // still recognises the unchanged ones by their (signed) plain hash.
    write(p, "dist/index.html", "<html><body>v2</body></html>");
    deploy(&cli, p, "1.0.2");
    let o = offer(&mut d).await;
    let r = install(&mut d, &o).await;
    assert_eq!((r.fetched, r.reused), (1, 2), "{r:?}");
    assert_runs_build(&d, p);

    // A device without the public key cannot open the bundle.
    let other = tempfile::tempdir().unwrap();
    let mut d = Device::open(plugin_like(&server, other.path())).unwrap();
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("decrypt_fail".into())
    );
}
