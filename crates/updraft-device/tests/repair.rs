//! A damaged data directory never stops a device: bundle records are checked
//! against their folders at open (a missing current bundle falls back to
//! builtin, a missing next one is dropped, dead records are removed), and an
//! unreadable state or stats file is moved aside as `*.corrupt` and reported.

use updraft_device::{Cycle, Device, Latest, Repair, BUILTIN};
use updraft_test_support::*;

fn corrupt_files(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(prefix) && n.ends_with(".corrupt")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_whose_folder_is_gone_are_dropped_at_open() {
    let server = Server::start().await;
    server.with_app().await;
    server.publish("1.0.1").await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::open(server.device_config(dir.path())).unwrap();
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Installed("1.0.1".into())
    );
    d.notify_app_ready().unwrap();
    let current = d.current().unwrap().id.clone();
    // 1.0.2 downloaded and queued as next, not applied yet.
    server.publish("1.0.2").await;
    let Latest::Update(offer) = d.check().await else {
        panic!("1.0.2 offered")
    };
    let next = d.download(&offer).await.unwrap().id;
    d.next(&next).unwrap();
    let id = d.device_id().to_string();
    drop(d);

    // Both folders vanish (an OS cleanup, a restore from backup, a bad copy).
    for id in [&current, &next] {
        std::fs::remove_dir_all(dir.path().join("bundles").join(id)).unwrap();
    }
    // A kill while unpacking leaves a plaintext zip; a cut transfer a `.part`.
    let downloads = dir.path().join("downloads");
    std::fs::write(downloads.join("abc.zip"), b"plaintext").unwrap();
    std::fs::write(downloads.join("def.part"), b"half").unwrap();
    let d = Device::open(server.device_config(dir.path())).unwrap();
    assert!(!downloads.join("abc.zip").exists(), "plaintext removed");
    assert!(downloads.join("def.part").exists(), "kept to resume");
    assert_eq!(d.device_id(), id);
    assert!(d.current().is_none(), "on {BUILTIN}");
    assert_eq!(d.current_version(), "1.0.0");
    assert_eq!(d.state().next, None);
    assert_eq!(d.state().fallback, BUILTIN);
    assert!(d.list().is_empty(), "records removed: {:?}", d.list());
    assert_eq!(
        d.repairs(),
        &[
            Repair::CurrentMissing {
                id: current.clone(),
                version: "1.0.1".into()
            },
            Repair::NextMissing {
                id: next.clone(),
                version: "1.0.2".into()
            },
        ]
    );
    // Reported as the plugin reports its reset to builtin.
    let reset = d.queued_stats().last().unwrap().clone();
    assert_eq!(reset["action"], "reset");
    assert_eq!(reset["old_version_name"], "1.0.1");
    assert_eq!(reset["version_name"], "1.0.0");
    // The repair is saved: a second open finds nothing to repair.
    drop(d);
    let mut d = Device::open(server.device_config(dir.path())).unwrap();
    assert!(d.repairs().is_empty(), "{:?}", d.repairs());
    // And the device updates again.
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Installed("1.0.2".into())
    );
    assert_eq!(showing(&d), "<html>1.0.2</html>");

    // A bundle that is neither current nor next: only its record goes.
    d.notify_app_ready().unwrap();
    let kept = d.current().unwrap().id.clone();
    server.publish("1.0.3").await;
    let Latest::Update(offer) = d.check().await else {
        panic!("1.0.3 offered")
    };
    let spare = d.download(&offer).await.unwrap().id;
    drop(d);
    std::fs::remove_file(dir.path().join("bundles").join(&spare).join("index.html")).unwrap();
    let d = Device::open(server.device_config(dir.path())).unwrap();
    assert_eq!(d.current().unwrap().id, kept);
    assert_eq!(
        d.repairs(),
        &[Repair::RecordRemoved {
            id: spare.clone(),
            version: "1.0.3".into()
        }]
    );
    assert!(
        !dir.path().join("bundles").join(&spare).exists(),
        "folder swept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_starts_on_builtin_and_is_kept_aside() {
    let server = Server::start().await;
    server.with_app().await;
    server.publish("1.0.1").await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::open(server.device_config(dir.path())).unwrap();
    d.update_cycle().await.unwrap();
    d.notify_app_ready().unwrap();
    let id = d.device_id().to_string();
    drop(d);

    // Cut short, as by a full disk or a bad restore.
    let state = dir.path().join("state.json");
    let whole = std::fs::read(&state).unwrap();
    let cut = whole[..whole.len() * 2 / 3].to_vec();
    std::fs::write(&state, &cut).unwrap();
    let mut d = Device::open(server.device_config(dir.path())).unwrap();
    assert!(d.current().is_none(), "on {BUILTIN}");
    assert_eq!(
        d.device_id(),
        id,
        "the device id is read from the damaged file"
    );
    let kept = corrupt_files(dir.path(), "state.json.");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), cut, "kept byte for byte");
    assert!(
        matches!(&d.repairs()[0], Repair::Corrupt { kept: Some(k), .. } if *k == kept[0]),
        "{:?}",
        d.repairs()
    );
    assert!(d.list().is_empty());
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Installed("1.0.1".into())
    );
    drop(d);

    // Not JSON at all, then not even a file: still starts.
    std::fs::write(&state, b"\x00\xff garbage").unwrap();
    let d = Device::open(server.device_config(dir.path())).unwrap();
    assert!(d.current().is_none());
    assert_ne!(d.device_id(), id, "nothing to salvage: a new id");
    drop(d);
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    let d = Device::open(server.device_config(dir.path())).unwrap();
    assert!(d.current().is_none());
    assert!(state.is_file(), "a fresh state was written");
    assert_eq!(corrupt_files(dir.path(), "state.json.").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_stats_queue_does_not_stop_the_device() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    std::fs::write(&stats, b"[{\"action\":\"set\"},").unwrap();
    let mut d = Device::open(server.device_config(dir.path())).unwrap();
    assert!(d.queued_stats().is_empty());
    let kept = corrupt_files(dir.path(), "stats.json.");
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read(&kept[0]).unwrap(), b"[{\"action\":\"set\"},");
    assert!(matches!(d.repairs(), [Repair::Corrupt { .. }]));
    // The queue works and persists again.
    d.queue_stat("app_moved_to_foreground", None, None);
    drop(d);
    let d = Device::open(server.device_config(dir.path())).unwrap();
    assert_eq!(d.queued_stats().len(), 1);
    assert!(d.repairs().is_empty());
}
