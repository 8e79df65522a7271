//! `updraft-sim`: a simulated fleet of devices against an Updraft (or Capgo-
//! compatible) server. Each device keeps its state in its own directory, checks
//! for updates, downloads, verifies, switches and confirms, or fails as told:
//! a share never confirms (and rolls back), a share gets corrupted downloads,
//! a share has its transfers cut half-way (and resumes). Prints a live progress
//! line and a summary (`--json` for machines). Devices carry the app's public
//! key as the Capacitor project in `--project` has it (`--public-key` overrides).

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt as _;
use rand::{Rng as _, SeedableRng as _};
use updraft_device::{Cycle, Device, DeviceConfig, Faults};

/// Simulate N devices running the updater against a server.
#[derive(Debug, Parser)]
#[command(name = "updraft-sim", version)]
struct Args {
    /// Server base URL (devices use {server}/updates, /stats, /channel_self).
    #[arg(long)]
    server: String,
    /// App id.
    #[arg(long)]
    app: String,
    /// How many devices.
    #[arg(long, short = 'n', default_value_t = 100)]
    devices: usize,
    /// Directory for the devices' state (device i lives in DIR/i; kept between runs).
    #[arg(long)]
    dir: PathBuf,
    /// Update checks per device (app foregrounds).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Pause between a device's checks, in milliseconds.
    #[arg(long, default_value_t = 0)]
    interval_ms: u64,
    /// Devices working at the same time.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Share of Android devices (the rest are iOS).
    #[arg(long, default_value_t = 0.5)]
    android_share: f64,
    /// Native versions, picked at random per device.
    #[arg(long, value_delimiter = ',', default_value = "1.0.0")]
    native: Vec<String>,
    /// Config defaultChannel of every device ("" for the public channel).
    #[arg(long, default_value = "")]
    channel: String,
    /// Share of devices whose new bundle never calls notifyAppReady (they roll back).
    #[arg(long, default_value_t = 0.0)]
    never_confirm: f64,
    /// Share of devices whose downloads arrive corrupted.
    #[arg(long, default_value_t = 0.0)]
    corrupt: f64,
    /// Share of devices whose first transfer is cut half-way (they resume next round).
    #[arg(long, default_value_t = 0.0)]
    interrupt: f64,
    /// appReadyTimeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    app_ready_timeout_ms: u64,
    /// PKCS#1 PEM public key file (for encrypted bundles). Default: the --project's, as the
    /// updraft CLI finds it (publicKey in its capacitor config, else .capgo_key_v2.pub); none
    /// when it has neither.
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// The Capacitor project whose public key the devices carry (unless --public-key is given).
    #[arg(long, default_value = ".", conflicts_with = "public_key")]
    project: PathBuf,
    /// Random seed (the same seed gives the same fleet).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Default)]
struct Counters {
    checks: AtomicU64,
    updated: AtomicU64,
    confirmed: AtomicU64,
    rolled_back: AtomicU64,
    reverted: AtomicU64,
    up_to_date: AtomicU64,
    errors: AtomicU64,
    done: AtomicU64,
}

struct Plan {
    index: usize,
    android: bool,
    native: String,
    never_confirm: bool,
    corrupt: bool,
    interrupt: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let public_key = match &args.public_key {
        Some(p) => Some(read_public_key(p)?),
        None => match project_public_key(&args.project)? {
            Some((pem, from)) => {
                eprintln!("devices carry the public key from {from}");
                Some(pem)
            }
            None => None,
        },
    };
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let plans: Vec<Plan> = (0..args.devices)
        .map(|index| Plan {
            index,
            android: rng.gen_bool(args.android_share.clamp(0.0, 1.0)),
            native: args.native[rng.gen_range(0..args.native.len())].clone(),
            never_confirm: rng.gen_bool(args.never_confirm.clamp(0.0, 1.0)),
            corrupt: rng.gen_bool(args.corrupt.clamp(0.0, 1.0)),
            interrupt: rng.gen_bool(args.interrupt.clamp(0.0, 1.0)),
        })
        .collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let counters = Arc::new(Counters::default());
    let error_kinds: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let versions: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let started = Instant::now();

    let live = std::io::stderr().is_terminal() && !args.json;
    let ticker = {
        let c = counters.clone();
        let total = args.devices as u64;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if live {
                    eprint!(
                        "\r{}/{} devices  checks {}  updated {}  confirmed {}  rolled back {}  errors {}   ",
                        c.done.load(Ordering::Relaxed),
                        total,
                        c.checks.load(Ordering::Relaxed),
                        c.updated.load(Ordering::Relaxed),
                        c.confirmed.load(Ordering::Relaxed),
                        c.rolled_back.load(Ordering::Relaxed),
                        c.errors.load(Ordering::Relaxed),
                    );
                }
            }
        })
    };

    let a = &args;
    futures::stream::iter(plans)
        .map(|plan| {
            let http = http.clone();
            let counters = counters.clone();
            let error_kinds = error_kinds.clone();
            let versions = versions.clone();
            let public_key = public_key.clone();
            async move {
                let mut cfg =
                    DeviceConfig::new(a.dir.join(plan.index.to_string()), &a.server, &a.app);
                cfg.platform = if plan.android { "android" } else { "ios" }.into();
                cfg.version_build = plan.native.clone();
                cfg.default_channel = a.channel.clone();
                cfg.app_ready_timeout = Duration::from_millis(a.app_ready_timeout_ms);
                cfg.public_key = public_key;
                let err = |k: String| {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    *error_kinds.lock().unwrap().entry(k).or_default() += 1;
                };
                match Device::open_with(cfg, http).await {
                    Err(e) => err(format!("open: {e}")),
                    Ok(mut d) => {
                        for round in 0..a.rounds {
                            if round > 0 && a.interval_ms > 0 {
                                tokio::time::sleep(Duration::from_millis(a.interval_ms)).await;
                            }
                            d.faults = Faults {
                                corrupt_download: plan.corrupt,
                                interrupt_download: plan.interrupt && round == 0,
                            };
                            counters.checks.fetch_add(1, Ordering::Relaxed);
                            match d.update_cycle().await {
                                Ok(Cycle::Installed(_)) => {
                                    counters.updated.fetch_add(1, Ordering::Relaxed);
                                    if plan.never_confirm {
                                        match d.wait_app_ready().await {
                                            Ok(true) => {
                                                counters
                                                    .rolled_back
                                                    .fetch_add(1, Ordering::Relaxed);
                                            }
                                            Ok(false) => {}
                                            Err(e) => err(e.to_string()),
                                        }
                                    } else if let Err(e) = d.notify_app_ready() {
                                        err(e.to_string());
                                    } else {
                                        counters.confirmed.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                                Ok(Cycle::Reverted) => {
                                    counters.reverted.fetch_add(1, Ordering::Relaxed);
                                }
                                Ok(Cycle::UpToDate) => {
                                    counters.up_to_date.fetch_add(1, Ordering::Relaxed);
                                }
                                Ok(Cycle::Failed(kind)) => err(kind),
                                Err(e) => err(e.to_string()),
                            }
                            // Stats go out as the plugin sends them; a retryable failure keeps them.
                            let _ = d.flush_stats().await;
                        }
                        *versions
                            .lock()
                            .unwrap()
                            .entry(d.current_version())
                            .or_default() += 1;
                    }
                }
                counters.done.fetch_add(1, Ordering::Relaxed);
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect::<Vec<()>>()
        .await;
    ticker.abort();
    if live {
        eprintln!();
    }

    let c = &counters;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let summary = serde_json::json!({
        "devices": args.devices,
        "seconds": started.elapsed().as_secs_f64(),
        "checks": load(&c.checks),
        "updated": load(&c.updated),
        "confirmed": load(&c.confirmed),
        "rolled_back": load(&c.rolled_back),
        "reverted": load(&c.reverted),
        "up_to_date": load(&c.up_to_date),
        "errors": load(&c.errors),
        "error_kinds": *error_kinds.lock().unwrap(),
        "versions": *versions.lock().unwrap(),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
    } else {
        println!(
            "{} devices in {:.1}s: {} checks, {} updated, {} confirmed, {} rolled back, {} reverted, {} up to date, {} errors",
            args.devices,
            started.elapsed().as_secs_f64(),
            load(&c.checks),
            load(&c.updated),
            load(&c.confirmed),
            load(&c.rolled_back),
            load(&c.reverted),
            load(&c.up_to_date),
            load(&c.errors),
        );
        for (k, n) in error_kinds.lock().unwrap().iter() {
            println!("  error {k}: {n}");
        }
        if public_key.is_none() && error_kinds.lock().unwrap().contains_key("decrypt_fail") {
            eprintln!("hint: the bundle is encrypted and the devices carry no public key: run in the app's project, or pass --project DIR or --public-key FILE");
        }
        for (v, n) in versions.lock().unwrap().iter() {
            println!("  running {v}: {n}");
        }
    }
    Ok(())
}

/// A PKCS#1 PEM public key file, checked.
fn read_public_key(path: &Path) -> Result<String, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    check_pem(&pem, &path.display().to_string())
}

fn check_pem(pem: &str, from: &str) -> Result<String, String> {
    updraft_core::crypto::PublicKey::from_pem(pem)
        .map(|_| pem.to_string())
        .map_err(|e| format!("the public key in {from}: {e}"))
}

/// The public key of the Capacitor project in `dir`, and where it came from:
/// `plugins.CapacitorUpdater.publicKey` of its capacitor config (what an app
/// built from it carries), else `.capgo_key_v2.pub`, the file the updraft CLI
/// and Capgo's CLI write next to it. `None` when it has neither.
fn project_public_key(dir: &Path) -> Result<Option<(String, String)>, String> {
    for name in [
        "capacitor.config.json",
        "capacitor.config.ts",
        "capacitor.config.js",
    ] {
        let path = dir.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let key = if name.ends_with(".json") {
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
            v["plugins"]["CapacitorUpdater"]["publicKey"]
                .as_str()
                .map(str::to_string)
        } else {
            updraft_core::capacitor::script_string(&text, "publicKey")
        };
        if let Some(pem) = key.filter(|k| !k.trim().is_empty()) {
            let from = format!("{} (publicKey)", path.display());
            return check_pem(&pem, &from).map(|pem| Some((pem, from)));
        }
        break;
    }
    let file = dir.join(".capgo_key_v2.pub");
    if file.is_file() {
        return read_public_key(&file).map(|pem| Some((pem, file.display().to_string())));
    }
    Ok(None)
}
