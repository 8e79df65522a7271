//! Times release metrics and arm health at scale (bench/README.md, "Release
//! metrics and arm health"): seeds one app with 10 bundles, `BENCH_ROWS`
//! release rows (default 1,000,000: 100,000 devices for each of 10 bundles
//! released a week apart, a realistic funnel) and `BENCH_EVENTS` stats events
//! (default 10,000,000), with a rollout of the 10th bundle against the 9th;
//! then times the telemetry writer's release upserts and the two reads, on
//! SQLite and, when `UPDRAFT_TEST_POSTGRES_URL` is set, on a throwaway
//! PostgreSQL database.
//!
//! `cargo run --release -p updraft-store-sql --example bench_metrics`
//! (knobs: `BENCH_ROWS`, `BENCH_EVENTS`, `BENCH_RUNS`, default 5; with
//! `BENCH_KEEP=1` the databases are left behind for a look at their plans;
//! `BENCH_SQLITE=0` runs PostgreSQL only).

use std::time::{Duration, Instant};

use updraft_store_sql::sqlx::{self, Connection as _};
use updraft_store_sql::updraft_protocol::api::{
    BundleMeta, BundleStorage, ChannelPatch, NewApp, NewRollout, RolloutPlan, RolloutStep, Signal,
};
use updraft_store_sql::updraft_store::prelude::*;
use updraft_store_sql::updraft_store::{NewBundle, ReleaseSignal, Stamp, Write};

const APP: &str = "com.bench.app";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// Monday 2026-11-02 00:00 UTC.
const T0: i64 = 1_793_577_600_000;
/// Rows per seeding statement.
const CHUNK: u64 = 1_000_000;

type Error = Box<dyn std::error::Error>;

/// What the seeding SQL differs in between the two databases.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn run(&self, sql: &str) -> Result<(), Error> {
        match self {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop)?,
            Raw::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop)?,
        }
        Ok(())
    }

    /// `s(i)`: the integers `lo..=hi`.
    fn series(&self, lo: u64, hi: u64) -> String {
        match self {
            Raw::Sqlite(_) => format!(
                "WITH RECURSIVE s(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM s WHERE i < {hi}) "
            ),
            Raw::Postgres(_) => {
                format!("WITH s(i) AS (SELECT generate_series({lo}::bigint, {hi}::bigint)) ")
            }
        }
    }

    /// A device id (a UUID) from a number.
    fn device(&self, n: &str) -> String {
        match self {
            Raw::Sqlite(_) => format!("printf('00000000-0000-4000-8000-%012d', {n})"),
            Raw::Postgres(_) => {
                format!("'00000000-0000-4000-8000-' || lpad(CAST({n} AS TEXT), 12, '0')")
            }
        }
    }
}

/// A fixed pseudo-random number in 0..1_000_003 for row `i` and `salt`.
fn h(salt: u32) -> String {
    format!("((i * 2654435761 + {salt} * 97531) % 1000003)")
}

/// Inserts release rows `lo..=hi` of `rows`, in the order a server writes
/// them (a row is written at a device's first signal): ten bundles released
/// a week apart, each first reaching `rows / 10` devices over its week.
/// Bundle 9 is the rollout's candidate arm and bundle 8 (all of it) its
/// stable arm. Of each bundle's devices 95 % start the download, 93 % finish
/// it, 90 % install, 85 % report ready (launch 200-3000 ms), 2 % roll back,
/// 3 % fail before installing, 0.5 % crash, 1 % log an error.
fn release_rows_sql(raw: &Raw, lo: u64, hi: u64, rows: u64, rollout: i64) -> String {
    let (h1, h2, h3, h4, h5, h6, h7, h8, h9) =
        (h(1), h(2), h(3), h(4), h(5), h(6), h(7), h(8), h(9));
    let per = rows / 10;
    // What the writer keeps beside the times: a bit per time set, and ready - download.
    let flags = [
        "offered_at",
        "download_at",
        "downloaded_at",
        "installed_at",
        "ready_at",
        "rolled_back_at",
        "failed_at",
        "crashed_at",
        "errored_at",
        "launch_ms",
    ]
    .iter()
    .zip(0..)
    .map(|(c, bit)| format!("CASE WHEN {c} IS NULL THEN 0 ELSE {} END", 1 << bit))
    .collect::<Vec<_>>()
    .join(" + ");
    format!(
        "{series} INSERT INTO release_devices (app_id, bundle_id, device_id, rollout_id, arm, first_at, offered_at, \
         download_at, downloaded_at, installed_at, ready_at, rolled_back_at, failed_at, crashed_at, errored_at, launch_ms, flags, download_to_ready_ms) \
         SELECT y.*, {flags}, ready_at - download_at FROM ( \
         SELECT '{APP}' AS app_id, (SELECT id FROM bundles WHERE app_id = '{APP}' AND version = '1.0.' || CAST(k AS TEXT)) AS bundle_id, \
         {device} AS device_id, CASE WHEN k >= 8 THEN {rollout} END AS rollout_id, \
         CASE k WHEN 9 THEN 'candidate' WHEN 8 THEN 'stable' END AS arm, \
         t AS first_at, t AS offered_at, \
         CASE WHEN p < 950 THEN t + a % 300000 END AS download_at, \
         CASE WHEN p < 930 THEN t + 300000 + b % 60000 END AS downloaded_at, \
         CASE WHEN p < 900 THEN t + 400000 + c % 3600000 END AS installed_at, \
         CASE WHEN p < 850 THEN t + 4100000 + d % 60000 END AS ready_at, \
         CASE WHEN p >= 850 AND p < 870 THEN t + 4200000 END AS rolled_back_at, \
         CASE WHEN p >= 900 AND p < 930 THEN t + 350000 END AS failed_at, \
         CASE WHEN p < 900 AND e % 1000 < 5 THEN t + 4300000 END AS crashed_at, \
         CASE WHEN p < 900 AND f % 1000 < 10 THEN t + 4400000 END AS errored_at, \
         CASE WHEN p < 850 THEN 200 + g % 2800 END AS launch_ms \
         FROM (SELECT i, i % {per} AS n, i / {per} AS k, {T0} + i * {span} / {rows} + {h1} % 3600000 AS t, \
         {h2} % 1000 AS p, {h3} AS a, {h4} AS b, {h5} AS c, {h6} AS d, {h7} AS e, {h8} AS f, {h9} AS g FROM s) x) y",
        series = raw.series(lo, hi),
        device = raw.device("n"),
        span = 70 * DAY,
    )
}

/// Inserts events `lo..=hi`: a million devices, the bundles in turn, eight
/// actions, one every 60 ms from `T0` (10 million span a week).
fn events_sql(raw: &Raw, lo: u64, hi: u64) -> String {
    format!(
        "{series} INSERT INTO events (app_id, device_id, action, version_name, old_version_name, metadata, created_at) \
         SELECT '{APP}', {device}, CASE i % 8 WHEN 0 THEN 'set' WHEN 1 THEN 'download_complete' \
         WHEN 2 THEN 'app_launch_ready' WHEN 3 THEN 'download_zip_start' WHEN 4 THEN 'app_moved_to_foreground' \
         WHEN 5 THEN 'app_moved_to_background' WHEN 6 THEN 'update_fail' ELSE 'download_50' END, \
         '1.0.' || CAST(i % 10 AS TEXT), NULL, NULL, {T0} + i * 60 FROM s",
        series = raw.series(lo, hi),
        device = raw.device("(i % 1000000)"),
    )
}

/// Creates the app, its bundles and channel, and the rollout; returns its id.
async fn seed_store(store: &dyn Store) -> Result<i64, Error> {
    let at = Stamp::system(T0);
    store
        .create_app(
            &NewApp {
                app_id: APP.into(),
                name: None,
            },
            &at,
        )
        .await?;
    for i in 0..10 {
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
        store.create_bundle(&b, &at).await?;
    }
    let channel = ChannelPatch {
        name: Some("production".into()),
        bundle: Some(Some("1.0.8".into())),
        public: Some(true),
        ..Default::default()
    };
    store.create_channel(APP, &channel, &at).await?;
    let step = |percent: f64| RolloutStep {
        percent,
        min_duration_secs: 3600,
        ..Default::default()
    };
    let plan = RolloutPlan {
        steps: vec![step(10.0), step(50.0), step(100.0)],
        auto_advance: true,
        auto_promote: true,
    };
    let new = NewRollout {
        bundle: "1.0.9".into(),
        plan: Some(plan),
    };
    Ok(store.start_rollout(APP, "production", &new, &at).await?.id)
}

async fn seed_bulk(raw: &Raw, rows: u64, events: u64, rollout: i64) -> Result<(), Error> {
    let started = Instant::now();
    for lo in (0..rows).step_by(usize::try_from(CHUNK)?) {
        raw.run(&release_rows_sql(
            raw,
            lo,
            (lo + CHUNK).min(rows) - 1,
            rows,
            rollout,
        ))
        .await?;
    }
    println!(
        "  seeded {rows} release rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    for lo in (1..=events).step_by(usize::try_from(CHUNK)?) {
        raw.run(&events_sql(raw, lo, (lo + CHUNK - 1).min(events)))
            .await?;
    }
    println!(
        "  seeded {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The writer's path: 50,000 release signals of new devices (of a bundle
/// the reads do not measure) in batches of 1,000 (inserts), the same again
/// (repeats that change nothing), then an install for each (updates).
async fn time_writes(store: &dyn Store) -> Result<(), Error> {
    let signal = |j: u64, signal: Signal, at: i64| {
        Write::Release(ReleaseSignal {
            app_id: APP.into(),
            device_id: format!("00000000-0000-4000-9000-{j:012}"),
            version: "1.0.0".into(),
            signal,
            at,
            value_ms: None,
            rollout: None,
        })
    };
    for (what, kind, at) in [
        ("new rows (offered)", Signal::Offered, T0 + DAY),
        ("repeats (offered again)", Signal::Offered, T0 + 2 * DAY),
        ("updates (installed)", Signal::Installed, T0 + 2 * DAY),
    ] {
        let started = Instant::now();
        for batch in 0..50 {
            let writes: Vec<Write> = (0..1000)
                .map(|j| signal(batch * 1000 + j, kind, at))
                .collect();
            store.write_batch(&writes).await?;
        }
        let per = started.elapsed().as_secs_f64() * 1e6 / 50_000.0;
        println!("  write_batch, 50 x 1,000 release signals, {what}: {per:.1} µs per signal");
    }
    Ok(())
}

/// Runs `f` once to warm up, then `runs` times; prints min / median / max.
async fn time<F, Fut, T>(what: &str, runs: usize, mut f: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut last = f().await?;
    let mut took: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        last = f().await?;
        took.push(started.elapsed());
    }
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {what}: min {:.1} ms, median {:.1} ms, max {:.1} ms ({runs} runs)",
        ms(took[0]),
        ms(took[runs / 2]),
        ms(took[runs - 1])
    );
    Ok(last)
}

async fn time_reads(store: &dyn Store, rollout: i64, runs: usize) -> Result<(), Error> {
    let week = time(
        "release_metrics, candidate bundle, its first week",
        runs,
        || async {
            Ok(store
                .release_metrics(APP, "1.0.9", T0 + 63 * DAY, T0 + 70 * DAY + HOUR)
                .await?)
        },
    )
    .await?;
    println!(
        "    total {}, ready {}, failure rate {:.4}, launch p90 {:?} ms, time to 50 % {:?} ms, {} adoption points",
        week.total,
        week.funnel.ready,
        week.failure_rate.unwrap_or_default(),
        week.launch_p90_ms,
        week.time_to_50_ms,
        week.adoption.len()
    );
    let day = time(
        "release_metrics, candidate bundle, one day",
        runs,
        || async {
            Ok(store
                .release_metrics(APP, "1.0.9", T0 + 66 * DAY, T0 + 67 * DAY)
                .await?)
        },
    )
    .await?;
    println!("    total {}", day.total);
    let (candidate, stable) = time("arm_health", runs, || async {
        Ok(store.arm_health(rollout).await?)
    })
    .await?;
    println!(
        "    candidate {} devices ({} failed, p90 {:?} ms), stable {} devices",
        candidate.devices, candidate.failed, candidate.launch_p90_ms, stable.devices
    );
    Ok(())
}

fn knob(name: &str, default: u64) -> Result<u64, Error> {
    Ok(match std::env::var(name) {
        Ok(v) => v.parse()?,
        Err(_) => default,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let rows = knob("BENCH_ROWS", 1_000_000)? / 10 * 10;
    let events = knob("BENCH_EVENTS", 10_000_000)?;
    let runs = usize::try_from(knob("BENCH_RUNS", 5)?.max(1))?;

    let keep = std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1");
    if std::env::var("BENCH_SQLITE").is_ok_and(|v| v == "0") {
        println!("SQLite: skipped (BENCH_SQLITE=0)");
    } else {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        println!("SQLite ({url})");
        let store = updraft_store_sqlite::SqliteStore::connect(&url).await?;
        store.migrate().await?;
        let rollout = seed_store(&store).await?;
        let raw = Raw::Sqlite(sqlx::SqlitePool::connect(&url).await?);
        seed_bulk(&raw, rows, events, rollout).await?;
        time_writes(&store).await?;
        time_reads(&store, rollout, runs).await?;
        if keep {
            println!("  kept {}", dir.keep().display());
        }
    }

    let Ok(admin_url) = std::env::var("UPDRAFT_TEST_POSTGRES_URL") else {
        println!("PostgreSQL: skipped (UPDRAFT_TEST_POSTGRES_URL is not set)");
        return Ok(());
    };
    let (prefix, _) = admin_url
        .rsplit_once('/')
        .ok_or("the PostgreSQL URL has no database path")?;
    let name = format!("updraft_bench_metrics_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let url = format!("{prefix}/{name}");
    println!("PostgreSQL (database {name})");
    let result = async {
        let store = updraft_store_postgres::PostgresStore::connect(&url).await?;
        store.migrate().await?;
        let rollout = seed_store(&store).await?;
        let pool = sqlx::PgPool::connect(&url).await?;
        let raw = Raw::Postgres(pool.clone());
        seed_bulk(&raw, rows, events, rollout).await?;
        // What autovacuum does after a bulk load (without it, arm health's
        // index-only reads fetch every heap row: see bench/README.md).
        raw.run("VACUUM ANALYZE release_devices").await?;
        time_writes(&store).await?;
        time_reads(&store, rollout, runs).await?;
        pool.close().await;
        Ok::<_, Error>(())
    }
    .await;
    if keep {
        println!("  kept database {name}");
    } else {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
    }
    result
}
