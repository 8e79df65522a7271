//! Seeds a database for `bench/`: one app, 3 channels, 100 bundles, N known devices.
//! Usage: bench_seed DATABASE_URL [DEVICES]
//!
//! With `BENCH_SEEN_RECENTLY=1` the device rows are exactly what `bench/updates.lua`
//! requests would store, last seen just now: the steady state of a fleet whose
//! devices check on every foreground. Without it they were last seen at the epoch
//! with fewer fields, so every first check rewrites the row.
//!
//! With `BENCH_ROLLOUT=PERCENT` the `production` channel also has an active
//! rollout of 1.0.98 to that share of devices (one step, no automatic
//! advance or promotion), for `bench/rollout.sh`.
//!
//! With `BENCH_RELEASE=1` every device also has, within the last 24 hours,
//! been offered, installed and reported ready `production`'s bundle (and a
//! tenth of them the rollout's candidate, when there is one): the release
//! rows the dashboard's overview and the metrics read, for `bench/dashboard.sh`.

use updraft_protocol::api::{BundleMeta, BundleStorage, ChannelPatch, NewApp, Signal};
use updraft_server::config::{DatabaseLayer, Layer};
use updraft_store::{DeviceSeen, NewBundle, Stamp, Write};

const APP: &str = "com.bench.app";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .expect("usage: bench_seed DATABASE_URL [DEVICES]");
    let devices: u64 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let config = Layer {
        database: DatabaseLayer {
            url: Some(url.into()),
            ..Default::default()
        },
        ..Default::default()
    }
    .resolve()?;
    let store = updraft_server::open_store(&config).await?;
    store
        .create_app(
            &NewApp {
                app_id: APP.into(),
                name: None,
            },
            &Stamp::system(0),
        )
        .await?;
    for i in 0..100 {
        let b = NewBundle {
            app_id: APP.into(),
            version: format!("1.0.{i}"),
            checksum: format!("{i:064x}"),
            session_key: String::new(),
            key_id: None,
            electron_checksum: None,
            storage: BundleStorage::External,
            blob_sha256: None,
            size: None,
            external_url: Some(format!("https://cdn.example.com/{i}.zip")),
            manifest: Vec::new(),
            meta: BundleMeta::default(),
        };
        store.create_bundle(&b, &Stamp::system(0)).await?;
    }
    let channels = [
        ("production", "1.0.99", true, false),
        ("beta", "1.0.98", false, true),
        ("internal", "1.0.97", false, false),
    ];
    for (name, bundle, public, self_set) in channels {
        let patch = ChannelPatch {
            name: Some(name.into()),
            bundle: Some(Some(bundle.into())),
            public: Some(public),
            allow_device_self_set: Some(self_set),
            ..Default::default()
        };
        store.create_channel(APP, &patch, &Stamp::system(0)).await?;
    }
    if let Some(percent) = std::env::var("BENCH_ROLLOUT")
        .ok()
        .map(|p| p.parse::<f64>())
        .transpose()?
    {
        let plan = updraft_protocol::api::RolloutPlan {
            steps: vec![updraft_protocol::api::RolloutStep {
                percent,
                ..Default::default()
            }],
            auto_advance: false,
            auto_promote: false,
        };
        store
            .start_rollout(
                APP,
                "production",
                &updraft_protocol::api::NewRollout {
                    bundle: "1.0.98".into(),
                    plan: Some(plan),
                },
                &Stamp::system(0),
            )
            .await?;
    }
    let recent = std::env::var("BENCH_SEEN_RECENTLY").is_ok_and(|v| v == "1");
    let release = std::env::var("BENCH_RELEASE").is_ok_and(|v| v == "1");
    let rollout = std::env::var("BENCH_ROLLOUT").is_ok();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..devices {
        batch.push(Write::Seen(DeviceSeen {
            app_id: APP.into(),
            device_id: format!("00000000-0000-4000-8000-{i:012}"),
            platform: Some(if i % 2 == 0 { "android" } else { "ios" }.into()),
            plugin_version: Some("8.51.14".into()),
            version_name: Some("1.0.0".into()),
            version_build: Some("1.0.0".into()),
            version_code: recent.then(|| "1".into()),
            version_os: recent.then(|| "14".into()),
            is_prod: Some(true),
            is_emulator: Some(false),
            seen_at: if recent { now } else { 0 },
            ..Default::default()
        }));
        if release {
            let at = now - 1 - i64::try_from(i % 86_000_000)?;
            let candidate = rollout && i % 10 == 0;
            let version = if candidate { "1.0.98" } else { "1.0.99" };
            for (signal, dt) in [
                (Signal::Offered, 0),
                (Signal::Installed, 20_000),
                (Signal::Ready, 21_000),
            ] {
                batch.push(Write::Release(updraft_store::ReleaseSignal {
                    app_id: APP.into(),
                    device_id: format!("00000000-0000-4000-8000-{i:012}"),
                    version: version.into(),
                    signal,
                    at: (at - 21_000 + dt).max(0),
                    value_ms: (signal == Signal::Ready).then_some(900 + i64::try_from(i % 400)?),
                    rollout: None,
                }));
            }
        }
        if batch.len() >= 10_000 {
            store.write_batch(&batch).await?;
            batch.clear();
        }
    }
    store.write_batch(&batch).await?;
    println!("seeded {APP}: 3 channels, 100 bundles, {devices} devices");
    Ok(())
}
