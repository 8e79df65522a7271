//! The device against the real server: update, confirm, roll back (and the
//! server stops offering the failed bundle), restart, crash at every step.

use serde_json::json;
use updraft_device::{Cycle, Device, Flush, BUILTIN};
use updraft_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_confirm_roll_back_and_survive_a_restart() {
    let server = Server::start().await;
    server.with_app().await;
    server.publish("1.0.1").await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::open(server.device_config(dir.path())).unwrap();
    let id = d.device_id().to_string();
    assert_eq!(id, id.to_lowercase());
    assert_eq!(
        d.current_version(),
        "1.0.0",
        "builtin reports the native version"
    );

    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Installed("1.0.1".into())
    );
    assert_eq!(showing(&d), "<html>1.0.1</html>");
    d.notify_app_ready().unwrap();
    assert_eq!(d.update_cycle().await.unwrap(), Cycle::UpToDate);

    // 1.0.2 never confirms: rolled back to 1.0.1, reported, not offered again.
    server.publish("1.0.2").await;
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Installed("1.0.2".into())
    );
    assert_eq!(showing(&d), "<html>1.0.2</html>");
    assert!(d.wait_app_ready().await.unwrap(), "rolled back");
    assert_eq!(d.current_version(), "1.0.1");
    assert_eq!(showing(&d), "<html>1.0.1</html>");
    let actions: Vec<String> = d
        .queued_stats()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(actions.contains(&"update_fail".to_string()), "{actions:?}");
    let fail = d
        .queued_stats()
        .iter()
        .find(|e| e["action"] == "update_fail")
        .unwrap();
    assert_eq!(fail["version_name"], "1.0.2");
    assert!(matches!(d.flush_stats().await, Flush::Sent(_)));
    server.settle().await;
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::UpToDate,
        "the server no longer offers 1.0.2 to this device"
    );
    let dev = server
        .ok("GET", &format!("/apps/{APP}/devices/{id}"), None)
        .await;
    assert_eq!(dev["failed_bundles"], json!(["1.0.2"]), "{dev}");
    let events = server
        .ok(
            "GET",
            &format!("/apps/{APP}/events?device_id={id}&action=update_fail"),
            None,
        )
        .await;
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");

    // A restart keeps the id, the bundle, and the stats still queued.
    d.queue_stat("app_moved_to_background", None, None);
    drop(d);
    let mut d = Device::open(server.device_config(dir.path())).unwrap();
    assert_eq!(d.device_id(), id);
    assert_eq!(d.current_version(), "1.0.1");
    assert_eq!(d.queued_stats().len(), 1);
    assert!(matches!(d.flush_stats().await, Flush::Sent(1)));

    // The channel moves to builtin: the device reverts.
    server
        .set_channel("production", json!({"bundle": "builtin"}))
        .await;
    assert_eq!(d.update_cycle().await.unwrap(), Cycle::Reverted);
    assert_eq!(d.current_version(), "1.0.0");
    assert!(d.current().is_none(), "on {BUILTIN}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_any_step_leaves_a_whole_bundle_active() {
    let server = Server::start().await;
    server.with_app().await;
    server.publish("1.0.1").await;
    let base = tempfile::tempdir().unwrap();
    {
        let mut d = Device::open(server.device_config(base.path())).unwrap();
        d.update_cycle().await.unwrap();
        d.notify_app_ready().unwrap();
    }
    server.publish("1.0.2").await;

    let mut steps = 0;
    for n in 0.. {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        let mut d = Device::open(server.device_config(dir.path())).unwrap();
        d.fail_at_hit(Some(n));
        let run = async {
            d.update_cycle().await?;
            d.notify_app_ready()
        }
        .await;
        match run {
            Ok(()) => {
                assert_eq!(showing(&d), "<html>1.0.2</html>");
                break;
            }
            Err(updraft_device::DeviceError::Injected(step)) => {
                steps += 1;
                drop(d);
                // Reopen as after a kill: old or new, whole, never half.
                let mut d = Device::open(server.device_config(dir.path())).unwrap();
                let v = d.current_version();
                assert!(
                    v == "1.0.1" || v == "1.0.2",
                    "kill at hit {n} ({step:?}): on {v}"
                );
                assert_eq!(
                    showing(&d),
                    format!("<html>{v}</html>"),
                    "kill at hit {n} ({step:?})"
                );
                let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("bundles"))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".tmp"))
                    .collect();
                assert!(leftovers.is_empty(), "kill at hit {n}: {leftovers:?}");
                // And it still gets to the new bundle afterwards.
                d.update_cycle().await.unwrap();
                d.notify_app_ready().unwrap();
                assert_eq!(
                    showing(&d),
                    "<html>1.0.2</html>",
                    "after a kill at hit {n} ({step:?})"
                );
            }
            Err(e) => panic!("hit {n}: {e}"),
        }
    }
    assert!(steps >= 6, "every step was tried ({steps} kills)");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_bundle_is_applied_at_once_and_others_wait_for_the_next_start() {
    let server = Server::start().await;
    server.with_app().await;
    server.publish("1.0.1").await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::open(server.device_config(dir.path())).unwrap();

    // An ordinary deploy is downloaded and queued: the app keeps running
    // what it runs until its next start.
    assert_eq!(d.foreground().await.unwrap(), Cycle::Queued("1.0.1".into()));
    assert_eq!(d.current_version(), "1.0.0");
    assert!(d.state().next.is_some());
    let actions = |d: &Device| -> Vec<String> {
        d.queued_stats()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(actions(&d).contains(&"set_next".to_string()));
    assert!(d.apply_next().unwrap());
    assert_eq!(showing(&d), "<html>1.0.1</html>");
    d.notify_app_ready().unwrap();

    // A critical one switches now.
    server.uploaded("1.0.2", "", bundle_zip("1.0.2")).await;
    server
        .set_channel("production", json!({"bundle": "1.0.2", "critical": true}))
        .await;
    assert_eq!(
        d.foreground().await.unwrap(),
        Cycle::Installed("1.0.2".into())
    );
    assert_eq!(d.current_version(), "1.0.2");
    assert_eq!(showing(&d), "<html>1.0.2</html>");
    let set_next = actions(&d).iter().filter(|a| *a == "set_next").count();
    assert_eq!(set_next, 1, "the critical bundle was set, not queued");
}
