//! End to end: the `updraft` CLI publishes, simulated devices (updraft-device,
//! behaving like the plugin) update, confirm, roll back, switch channels and
//! revert, against the real server.

use std::time::Duration;

use serde_json::json;
use updraft_device::{Cycle, Device, DeviceConfig};
use updraft_test_support::*;

const APP: &str = "com.example.e2e";

fn fleet(server: &Server, dirs: &[tempfile::TempDir], public_key: Option<&str>) -> Vec<Device> {
    let mut out = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let mut cfg = DeviceConfig::new(dir.path(), &server.base, APP);
        cfg.platform = if i % 2 == 0 { "android" } else { "ios" }.into();
        cfg.app_ready_timeout = Duration::from_millis(300);
        cfg.public_key = public_key.map(str::to_string);
        out.push(Device::open(cfg).unwrap());
    }
    out
}

/// Every device runs one foreground check and confirms what it installed.
async fn all_update(devices: &mut [Device], version: &str) {
    for d in devices.iter_mut() {
        assert_eq!(
            d.update_cycle().await.unwrap(),
            Cycle::Installed(version.into()),
            "{}",
            d.device_id()
        );
        d.notify_app_ready().unwrap();
        d.flush_stats().await;
        let index = std::fs::read_to_string(d.current_dir().unwrap().join("index.html")).unwrap();
        assert!(index.contains(version), "{index}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_update_confirm_roll_back_and_steer_devices() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();

    // v1 then v2 to production: every device updates and confirms.
    write_build(p, "1.0.1");
    cli.run(p, &["deploy"]).ok();
    let mut devices = fleet(&server, &dirs, None);
    all_update(&mut devices, "1.0.1").await;
    write_build(p, "1.0.2");
    cli.run(p, &["deploy", "--bundle", "1.0.2"]).ok();
    all_update(&mut devices, "1.0.2").await;

    // The same with an encrypted bundle, to devices that carry the public key.
    cli.run(p, &["key", "create"]).ok();
    let public = std::fs::read_to_string(p.join(".capgo_key_v2.pub")).unwrap();
    drop(devices);
    let mut devices = fleet(&server, &dirs, Some(&public));
    write_build(p, "1.0.3");
    let up = cli
        .run(p, &["deploy", "--bundle", "1.0.3", "--json"])
        .ok()
        .json();
    assert_eq!(up["encrypted"], true);
    all_update(&mut devices, "1.0.3").await;

    // A bundle that never confirms: every device rolls back to 1.0.3, the server
    // stops offering it to them, and the failures show in the management API.
    write_build(p, "1.0.4");
    cli.run(p, &["deploy", "--bundle", "1.0.4"]).ok();
    for d in devices.iter_mut() {
        assert_eq!(
            d.update_cycle().await.unwrap(),
            Cycle::Installed("1.0.4".into())
        );
        assert!(d.wait_app_ready().await.unwrap());
        assert_eq!(d.current_version(), "1.0.3");
        d.flush_stats().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for d in devices.iter_mut() {
        assert_eq!(
            d.update_cycle().await.unwrap(),
            Cycle::UpToDate,
            "1.0.4 is not offered again"
        );
        let shown = cli
            .run(p, &["device", "get", d.device_id(), "--json"])
            .ok()
            .json();
        assert_eq!(shown["failed_bundles"], json!(["1.0.4"]), "{shown}");
    }
    let (_, events) = server
        .api(
            "GET",
            &format!("/apps/{APP}/events?action=update_fail"),
            None,
        )
        .await;
    assert_eq!(events.as_array().unwrap().len(), devices.len());
    cli.run(p, &["rollback", "--channel", "production"]).ok();

    // beta: a device puts itself on it through /channel_self.
    write_build(p, "1.1.0-beta.1");
    cli.run(
        p,
        &["deploy", "--bundle", "1.1.0-beta.1", "--channel", "beta"],
    )
    .ok();
    let beta = &mut devices[0];
    let listed = beta.list_channels().await.unwrap();
    assert!(listed.iter().any(|c| c["name"] == "beta"), "{listed:?}");
    beta.set_channel("beta").await.unwrap();
    assert_eq!(beta.default_channel(), "beta");
    assert_eq!(
        beta.update_cycle().await.unwrap(),
        Cycle::Installed("1.1.0-beta.1".into())
    );
    beta.notify_app_ready().unwrap();
    let got = beta.get_channel().await.unwrap();
    assert_eq!(got["channel"], "beta", "{got}");
    beta.unset_channel().unwrap();

    // A backend puts a device on a channel with Capgo's POST /device.
    let target = devices[1].device_id().to_string();
    let res = reqwest::Client::new()
        .post(format!("{}/device", server.base))
        .header("authorization", ADMIN)
        .json(&json!({"app_id": APP, "device_id": target, "channel": "beta"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    assert_eq!(
        devices[1].update_cycle().await.unwrap(),
        Cycle::Installed("1.1.0-beta.1".into())
    );
    devices[1].notify_app_ready().unwrap();

    // A device pinned to one bundle.
    let pinned = devices[2].device_id().to_string();
    cli.run(p, &["device", "pin", &pinned, "1.0.2"]).ok();
    assert_eq!(
        devices[2].update_cycle().await.unwrap(),
        Cycle::Installed("1.0.2".into())
    );
    devices[2].notify_app_ready().unwrap();

    // production points at builtin: devices on it revert; the pinned one stays.
    cli.run(p, &["channel", "set", "production", "--bundle", "builtin"])
        .ok();
    assert_eq!(devices[3].update_cycle().await.unwrap(), Cycle::Reverted);
    assert!(devices[3].current().is_none());
    assert_eq!(devices[2].update_cycle().await.unwrap(), Cycle::UpToDate);
    assert_eq!(devices[2].current_version(), "1.0.2");
    cli.run(p, &["device", "unset", &pinned]).ok();
    assert_eq!(devices[2].update_cycle().await.unwrap(), Cycle::Reverted);
}
