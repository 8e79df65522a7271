//! `updraft-sim`: a simulated fleet of devices against an Updraft (or Capgo-
//! compatible) server. Each device keeps its state in its own directory, checks
//! for updates, downloads, verifies, switches and confirms, or fails as told:
//! a share never confirms (and rolls back), a share gets corrupted downloads,
//! a share has its transfers cut half-way (and resumes); per version, a share
//! crashes or throws JavaScript errors, and launches take a given time. Each
//! round is one app start. Prints a live progress line and a summary (`--json`
//! for machines) with per-version device counts to hold against the server's
//! release metrics. Devices carry the app's public key as the Capacitor
//! project in `--project` has it (`--public-key` overrides).

mod args;
mod fleet;
mod inject;
mod key;
mod tally;

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser as _;
use futures::StreamExt as _;
use rand::{Rng as _, SeedableRng as _};

use crate::args::Args;
use crate::fleet::{Fleet, Plan};
use crate::inject::Injection;
use crate::tally::{version_lines, Counters};

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let public_key = match &args.public_key {
        Some(p) => Some(key::read_public_key(p)?),
        None => match key::project_public_key(&args.project)? {
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
    let fleet = Fleet {
        args,
        http,
        public_key,
        inject: Injection {
            crash: args.crash.iter().cloned().collect(),
            js_error: args.js_error.iter().cloned().collect(),
            launch_ms: args.launch_ms.iter().cloned().collect(),
            seed: args.seed,
        },
        counters: Arc::default(),
        error_kinds: std::sync::Mutex::default(),
        tally: tally::Tally::default(),
    };
    let started = Instant::now();

    let live = std::io::stderr().is_terminal() && !args.json;
    let ticker = {
        let c = fleet.counters.clone();
        let total = args.devices as u64;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if live {
                    let n = |a| Counters::load(a);
                    eprint!(
                        "\r{}/{} devices  checks {}  updated {}  confirmed {}  rolled back {}  crashes {}  errors {}   ",
                        n(&c.done),
                        total,
                        n(&c.checks),
                        n(&c.updated),
                        n(&c.confirmed),
                        n(&c.rolled_back),
                        n(&c.crashes),
                        n(&c.errors),
                    );
                }
            }
        })
    };

    futures::stream::iter(plans)
        .map(|plan| fleet.run(plan))
        .buffer_unordered(args.concurrency.max(1))
        .collect::<Vec<()>>()
        .await;
    ticker.abort();
    if live {
        eprintln!();
    }
    print_summary(args, &fleet, started.elapsed().as_secs_f64());
    Ok(())
}

fn print_summary(args: &Args, fleet: &Fleet<'_>, seconds: f64) {
    let c = &fleet.counters;
    let n = |a| Counters::load(a);
    let error_kinds = fleet.error_kinds.lock().expect("error kinds lock").clone();
    let per_version = fleet.tally.counts();
    let running: std::collections::BTreeMap<&str, u64> = per_version
        .iter()
        .filter(|(_, v)| v.running > 0)
        .map(|(k, v)| (k.as_str(), v.running))
        .collect();
    if args.json {
        let summary = serde_json::json!({
            "devices": args.devices,
            "seconds": seconds,
            "checks": n(&c.checks),
            "updated": n(&c.updated),
            "confirmed": n(&c.confirmed),
            "rolled_back": n(&c.rolled_back),
            "reverted": n(&c.reverted),
            "up_to_date": n(&c.up_to_date),
            "crashes": n(&c.crashes),
            "js_errors": n(&c.js_errors),
            "errors": n(&c.errors),
            "downloads": {
                "bytes": n(&c.downloaded_bytes),
                "files_fetched": n(&c.files_fetched),
                "files_reused": n(&c.files_reused),
                "files_patched": n(&c.files_patched),
                "patch_fallbacks": n(&c.patch_fallbacks),
            },
            "error_kinds": error_kinds,
            "versions": running,
            "per_version": per_version,
        });
        println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
        return;
    }
    println!(
        "{} devices in {seconds:.1}s: {} checks, {} updated, {} confirmed, {} rolled back, {} reverted, {} up to date, {} crashes, {} js errors, {} errors",
        args.devices,
        n(&c.checks),
        n(&c.updated),
        n(&c.confirmed),
        n(&c.rolled_back),
        n(&c.reverted),
        n(&c.up_to_date),
        n(&c.crashes),
        n(&c.js_errors),
        n(&c.errors),
    );
    println!(
        "downloaded {} bytes in {} files ({} reused from the device, {} rebuilt from patches, {} patches fell back)",
        n(&c.downloaded_bytes),
        n(&c.files_fetched),
        n(&c.files_reused),
        n(&c.files_patched),
        n(&c.patch_fallbacks),
    );
    for (k, count) in &error_kinds {
        println!("  error {k}: {count}");
    }
    if fleet.public_key.is_none() && error_kinds.contains_key("decrypt_fail") {
        eprintln!("hint: the bundle is encrypted and the devices carry no public key: run in the app's project, or pass --project DIR or --public-key FILE");
    }
    for line in version_lines(&per_version) {
        println!("{line}");
    }
}
