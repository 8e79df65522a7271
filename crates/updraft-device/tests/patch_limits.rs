//! What a hostile or broken server cannot make the device do with a patch:
//! read a file outside its bundle and builtin assets, or download more than
//! the patch announced. Either way the patch is not used and the whole file
//! is fetched; the update still installs.

use serde_json::json;
use updraft_core::crypto::sha256_hex;
use updraft_device::{Cycle, Device};
use updraft_test_support::fake::{Fake, Reply};

const NEW: &str = "<html><body>new</body></html>";

/// A device whose builtin assets hold an older `index.html`, offered a
/// manifest update of one file with `patch` beside it. What the fake serves
/// (the new file) is both the file's and the patch's URL, so every fetch is
/// counted.
async fn offered(mut patch: serde_json::Value) -> (Fake, tempfile::TempDir, tempfile::TempDir) {
    let fake = Fake::start().await;
    patch["download_url"] = fake.bundle_url().into();
    fake.serve(NEW.as_bytes().to_vec());
    let builtin = tempfile::tempdir().unwrap();
    std::fs::write(builtin.path().join("index.html"), "<html>old</html>").unwrap();
    fake.set_updates(Reply::json(
        200,
        json!({
            "version": "1.0.1",
            "url": fake.bundle_url(),
            "checksum": "",
            "session_key": "",
            "manifest": [{
                "file_name": "index.html",
                "file_hash": sha256_hex(NEW.as_bytes()),
                "download_url": fake.bundle_url(),
            }],
            "patches": [patch],
        }),
    ));
    (fake, builtin, tempfile::tempdir().unwrap())
}

async fn install(fake: &Fake, builtin: &std::path::Path, dir: &std::path::Path) -> Device {
    let mut cfg = fake.device_config(dir);
    cfg.builtin_dir = Some(builtin.to_path_buf());
    let mut d = Device::open(cfg).unwrap();
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Installed("1.0.1".into())
    );
    let shown = std::fs::read_to_string(d.current_dir().unwrap().join("index.html")).unwrap();
    assert_eq!(shown, NEW);
    d
}

#[tokio::test]
async fn a_patch_source_outside_the_bundle_is_never_read() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "a file the server should know nothing about").unwrap();
    let secret_hash = sha256_hex(&std::fs::read(&secret).unwrap());
    let old_hash = sha256_hex(b"<html>old</html>");
    for (from_file, from_hash) in [
        (secret.display().to_string(), &secret_hash),
        (
            format!("../../../../../../..{}", secret.display()),
            &secret_hash,
        ),
        // The builtin file itself, but not named as a manifest names files.
        ("./index.html".to_string(), &old_hash),
        ("assets//../index.html".to_string(), &old_hash),
    ] {
        let (fake, builtin, dir) = offered(json!({
            "file_name": "index.html",
            "from_file": from_file,
            "from_hash": from_hash,
            "format": "zstd",
            "size": 10,
        }))
        .await;
        let d = install(&fake, builtin.path(), dir.path()).await;
        let r = d.last_download().unwrap();
        assert_eq!(
            (r.patched, r.patch_fallbacks, fake.file_gets()),
            (0, 1, 1),
            "{from_file}: refused before any fetch, {r:?}"
        );
    }
}

#[tokio::test]
async fn a_patch_larger_than_announced_is_cut_off_and_the_file_fetched() {
    let old_hash = sha256_hex(b"<html>old</html>");
    let (fake, builtin, dir) = offered(json!({
        "file_name": "index.html",
        "from_file": "index.html",
        "from_hash": old_hash,
        "format": "zstd",
        "size": 10,
    }))
    .await;
    let d = install(&fake, builtin.path(), dir.path()).await;
    let r = d.last_download().unwrap();
    assert_eq!((r.patched, r.patch_fallbacks), (0, 1), "{r:?}");
    assert_eq!(fake.file_gets(), 2, "the patch (cut off), then the file");
    assert_eq!(
        r.fetched_bytes,
        NEW.len() as u64,
        "the cut-off patch is not kept or counted: {r:?}"
    );
}
