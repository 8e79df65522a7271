//! Conformance cases for release rows: what a release signal keeps (the
//! first time of each signal, the first launch time, the latest arm), which
//! signals are dropped, the health of each arm of a rollout, and a bundle's
//! release metrics over a crafted fleet.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::rollouts::{released, trial};
use crate::APP;

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn dev(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A release signal of device `n` for `version` at `at`.
fn sig(n: u32, version: &str, signal: Signal, at: i64) -> ReleaseSignal {
    ReleaseSignal {
        app_id: APP.into(),
        device_id: dev(n),
        version: version.into(),
        signal,
        at,
        value_ms: None,
        rollout: None,
    }
}

fn ready(n: u32, version: &str, at: i64, launch_ms: i64) -> Write {
    Write::Release(ReleaseSignal {
        value_ms: Some(launch_ms),
        ..sig(n, version, Signal::Ready, at)
    })
}

fn w(n: u32, version: &str, signal: Signal, at: i64) -> Write {
    Write::Release(sig(n, version, signal, at))
}

fn in_arm(n: u32, version: &str, signal: Signal, at: i64, rollout: i64, arm: Arm) -> Write {
    Write::Release(ReleaseSignal {
        rollout: Some((rollout, arm)),
        ..sig(n, version, signal, at)
    })
}

async fn metrics(s: &dyn Store, since: i64, until: i64) -> ReleaseMetrics {
    s.release_metrics(APP, "2.0.0", since, until).await.unwrap()
}

/// A release row keeps the earliest time of each signal (a late event moves
/// it back, a repeat never forward) and the launch time of the earliest
/// ready; signals of one device in one batch all count; signals for a bundle
/// the app does not have (or deleted) are dropped.
pub async fn release_rows_keep_first_times(s: &dyn Store) {
    released(s).await;
    s.write_batch(&[
        w(1, "2.0.0", Signal::Offered, 1_000),
        w(1, "2.0.0", Signal::DownloadStarted, 1_100),
        w(1, "2.0.0", Signal::Downloaded, 1_200),
        w(1, "2.0.0", Signal::Installed, 1_300),
        ready(1, "2.0.0", 1_400, 300),
        ready(1, "2.0.0", 1_500, 900),
    ])
    .await
    .unwrap();
    let m = metrics(s, 1_000, 2_000).await;
    assert_eq!((m.total, m.funnel.ready), (1, 1));
    assert_eq!(m.launch_p50_ms, Some(300), "the first ready's launch time");
    assert_eq!(m.download_to_ready_p50_ms, Some(300));
    assert_eq!(m.time_to_50_ms, Some(300), "first offer to install");

    s.write_batch(&[w(1, "2.0.0", Signal::Offered, 500)])
        .await
        .unwrap();
    assert_eq!(
        metrics(s, 1_000, 2_000).await.total,
        0,
        "a late offer moved the first contact back"
    );
    let m = metrics(s, 500, 2_000).await;
    assert_eq!((m.total, m.time_to_50_ms), (1, Some(800)));
    s.write_batch(&[
        w(1, "2.0.0", Signal::Installed, 5_000),
        w(1, "2.0.0", Signal::Offered, 6_000),
    ])
    .await
    .unwrap();
    let m = metrics(s, 500, 2_000).await;
    assert_eq!(
        (m.total, m.time_to_50_ms),
        (1, Some(800)),
        "repeats move nothing forward"
    );
    s.write_batch(&[ready(1, "2.0.0", 1_350, 700)])
        .await
        .unwrap();
    let m = metrics(s, 500, 2_000).await;
    assert_eq!(
        m.launch_p50_ms,
        Some(700),
        "an earlier ready brings its launch time"
    );
    assert_eq!(m.download_to_ready_p50_ms, Some(250));

    s.create_bundle(&crate::new_bundle("3.0.0"), &Stamp::system(3))
        .await
        .unwrap();
    s.delete_bundle(APP, "3.0.0", &Stamp::system(4))
        .await
        .unwrap();
    let mut stray = sig(2, "2.0.0", Signal::Installed, 1_000);
    stray.app_id = "com.other.app".into();
    s.write_batch(&[
        w(2, "9.9.9", Signal::Installed, 1_000),
        w(2, "3.0.0", Signal::Installed, 1_000),
        Write::Release(stray),
    ])
    .await
    .unwrap();
    let missing = s.release_metrics(APP, "9.9.9", 0, 10_000).await;
    assert!(
        matches!(missing, Err(StoreError::UnknownBundle(_))),
        "{missing:?}"
    );
    let deleted = s.release_metrics(APP, "3.0.0", 0, 10_000).await.unwrap();
    assert_eq!(deleted.total, 0, "a deleted bundle's signals are dropped");
    assert_eq!(
        metrics(s, 0, 10_000).await.total,
        1,
        "another app's signal is not this app's"
    );
    let backwards = s.release_metrics(APP, "2.0.0", 10, 10).await;
    assert!(
        matches!(backwards, Err(StoreError::Invalid(_))),
        "{backwards:?}"
    );
}

/// Each arm counts the devices the server put in it, once each, by what they
/// reported; a later signal without a rollout keeps the arm, one with
/// another arm moves the device.
pub async fn arm_health_counts_each_arm(s: &dyn Store) {
    released(s).await;
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(10))
        .await
        .unwrap();
    let c = |n: u32, signal: Signal, at: i64| in_arm(n, "2.0.0", signal, at, r.id, Arm::Candidate);
    let c_ready = |n: u32, at: i64, launch: i64| match ready(n, "2.0.0", at, launch) {
        Write::Release(x) => Write::Release(ReleaseSignal {
            rollout: Some((r.id, Arm::Candidate)),
            ..x
        }),
        _ => unreachable!(),
    };
    s.write_batch(&[
        c(1, Signal::Offered, 100),
        c(2, Signal::Offered, 100),
        c(2, Signal::DownloadStarted, 110),
        c(2, Signal::Failed, 120),
        c(3, Signal::Installed, 100),
        c_ready(3, 110, 100),
        c(4, Signal::Installed, 100),
        c_ready(4, 110, 200),
        c(4, Signal::Crashed, 120),
        c(5, Signal::Installed, 100),
        c(5, Signal::RolledBack, 110),
        c_ready(6, 100, 300),
        c(6, Signal::Errored, 110),
        c(7, Signal::Installed, 100),
        c_ready(7, 110, 400),
        // No rollout: not in either arm.
        w(8, "2.0.0", Signal::Installed, 100),
        // Another rollout's.
        in_arm(9, "2.0.0", Signal::Installed, 100, r.id + 1, Arm::Candidate),
        in_arm(10, "1.0.0", Signal::Installed, 100, r.id, Arm::Stable),
        in_arm(11, "1.0.0", Signal::Offered, 100, r.id, Arm::Stable),
    ])
    .await
    .unwrap();
    s.write_batch(&[
        ready(10, "1.0.0", 110, 50),
        w(7, "2.0.0", Signal::Offered, 120),
    ])
    .await
    .unwrap();
    let (candidate, stable) = s.arm_health(r.id).await.unwrap();
    assert_eq!(
        candidate,
        ArmHealth {
            devices: 7,
            attempted: 6,
            installed: 4,
            ran: 5,
            failed: 2,
            crashed: 1,
            errored: 1,
            confirmed: 3,
            launch_p90_ms: Some(400),
            launch_samples: 4,
        }
    );
    assert_eq!(
        stable,
        ArmHealth {
            devices: 2,
            attempted: 2,
            installed: 1,
            ran: 1,
            // Device 10's ready came without the rollout: it counts for the
            // bundle (its launch time too), not for the arm.
            confirmed: 0,
            launch_p90_ms: Some(50),
            launch_samples: 1,
            ..Default::default()
        },
        "a signal without a rollout keeps the device's arm and counts for none"
    );
    s.write_batch(&[in_arm(
        11,
        "1.0.0",
        Signal::Offered,
        130,
        r.id,
        Arm::Candidate,
    )])
    .await
    .unwrap();
    let (candidate, stable) = s.arm_health(r.id).await.unwrap();
    assert_eq!(
        (candidate.devices, stable.devices),
        (8, 1),
        "the latest arm given wins"
    );
    let none = s.arm_health(r.id + 5).await.unwrap();
    assert_eq!(none, (ArmHealth::default(), ArmHealth::default()));
}

/// A crafted fleet: every device in exactly one final state (so the funnel
/// adds up to the total), cumulative stages, rates, percentiles, time to
/// 50 % installed and hourly adoption; devices whose first signal is outside
/// the window do not count.
pub async fn release_metrics_funnel_adds_up(s: &dyn Store) {
    released(s).await;
    let t0: i64 = 1_700_000_000_000;
    let v = "2.0.0";
    use Signal::*;
    let mut batch = Vec::new();
    // Every device in the window is offered first, at t0 + n ms.
    for n in 1..=10 {
        batch.push(w(n, v, Offered, t0 + i64::from(n)));
    }
    batch.extend([
        w(2, v, DownloadStarted, t0 + MIN),
        w(3, v, DownloadStarted, t0 + MIN),
        w(3, v, Downloaded, t0 + 2 * MIN),
        w(4, v, DownloadStarted, t0 + MIN),
        w(4, v, Downloaded, t0 + 2 * MIN),
        w(4, v, Installed, t0 + 10 * MIN),
        w(5, v, DownloadStarted, t0 + 5 * MIN),
        w(5, v, Downloaded, t0 + 6 * MIN),
        w(5, v, Installed, t0 + 20 * MIN),
        ready(5, v, t0 + 21 * MIN, 500),
        w(6, v, DownloadStarted, t0 + MIN),
        w(6, v, Downloaded, t0 + 2 * MIN),
        w(6, v, Installed, t0 + 30 * MIN),
        w(6, v, RolledBack, t0 + 90 * MIN),
        w(7, v, DownloadStarted, t0 + MIN),
        w(7, v, Failed, t0 + 2 * MIN),
        w(8, v, DownloadStarted, t0 + 60 * MIN),
        w(8, v, Downloaded, t0 + 61 * MIN),
        w(8, v, Installed, t0 + 70 * MIN),
        w(8, v, Failed, t0 + 71 * MIN),
        ready(8, v, t0 + 75 * MIN, 700),
        ready(9, v, t0 + 80 * MIN, 900),
        w(9, v, Crashed, t0 + 81 * MIN),
        w(9, v, RolledBack, t0 + 82 * MIN),
        w(10, v, DownloadStarted, t0 + 120 * MIN),
        w(10, v, Downloaded, t0 + 121 * MIN),
        w(10, v, Installed, t0 + 130 * MIN),
        ready(10, v, t0 + 150 * MIN, 100),
        w(10, v, Errored, t0 + 151 * MIN),
        // Outside the window: first contact before it, and at its end.
        w(11, v, Offered, t0 - 1),
        w(11, v, Installed, t0 + 5 * MIN),
        w(12, v, Offered, t0 + 3 * HOUR),
        // Another bundle.
        w(13, "1.0.0", Installed, t0 + 5 * MIN),
    ]);
    s.write_batch(&batch).await.unwrap();
    let m = metrics(s, t0, t0 + 3 * HOUR).await;
    assert_eq!(
        (m.bundle.as_str(), m.channel.as_deref(), m.since, m.until),
        ("2.0.0", None, t0, t0 + 3 * HOUR)
    );
    assert_eq!(m.total, 10);
    let f = &m.funnel;
    assert_eq!(
        *f,
        FunnelFinal {
            offered: 1,
            downloading: 1,
            downloaded: 1,
            installed: 1,
            ready: 3,
            rolled_back: 2,
            failed: 1
        }
    );
    assert_eq!(
        f.offered + f.downloading + f.downloaded + f.installed + f.ready + f.rolled_back + f.failed,
        m.total
    );
    assert_eq!(
        m.stages,
        FunnelStages {
            offered: 10,
            download_started: 9,
            downloaded: 7,
            installed: 6,
            ready: 4,
            rolled_back: 2
        }
    );
    assert_eq!(m.failure_rate, Some(0.4), "4 of 10 that tried");
    assert_eq!(m.crash_rate, Some(1.0 / 6.0), "1 of 6 that ran");
    assert_eq!(m.error_rate, Some(1.0 / 6.0));
    assert_eq!(m.completion_rate, Some(0.6), "3 of 5 installs ready");
    assert_eq!(
        (m.download_to_ready_p50_ms, m.download_to_ready_p90_ms),
        (Some(16 * 60_000), Some(30 * 60_000))
    );
    assert_eq!((m.launch_p50_ms, m.launch_p90_ms), (Some(500), Some(900)));
    assert_eq!(
        m.time_to_50_ms,
        Some(130 * MIN - 1),
        "the 5th of 10 installed, from the first offer"
    );
    assert_eq!(m.time_to_95_ms, None, "only 5 of 10 installed");
    let adoption: Vec<(i64, u64)> = m.adoption.iter().map(|p| (p.at - t0, p.devices)).collect();
    assert_eq!(adoption, vec![(HOUR, 3), (2 * HOUR, 3), (3 * HOUR, 4)]);

    let empty = metrics(s, t0 + 4 * HOUR, t0 + 5 * HOUR).await;
    assert_eq!(
        (
            empty.total,
            empty.failure_rate,
            empty.launch_p90_ms,
            empty.time_to_50_ms
        ),
        (0, None, None, None)
    );
    assert_eq!(
        empty.adoption.iter().map(|p| p.devices).collect::<Vec<_>>(),
        [0]
    );
}

/// What a device did before its rollout never counts for an arm: a stable
/// device that crashed last month and joins the stable arm is not a crash of
/// the arm until it crashes again while in it; a device that moves to
/// another rollout starts afresh there.
pub async fn arm_health_counts_only_what_happened_in_the_arm(s: &dyn Store) {
    released(s).await;
    s.write_batch(&[
        w(1, "1.0.0", Signal::Installed, 10),
        w(1, "1.0.0", Signal::Crashed, 20),
    ])
    .await
    .unwrap();
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(100))
        .await
        .unwrap();
    s.write_batch(&[in_arm(1, "1.0.0", Signal::Ready, 200, r.id, Arm::Stable)])
        .await
        .unwrap();
    let (_, stable) = s.arm_health(r.id).await.unwrap();
    assert_eq!(
        (stable.devices, stable.crashed, stable.ran),
        (1, 0, 1),
        "{stable:?}"
    );
    s.write_batch(&[in_arm(1, "1.0.0", Signal::Crashed, 300, r.id, Arm::Stable)])
        .await
        .unwrap();
    let (_, stable) = s.arm_health(r.id).await.unwrap();
    assert_eq!(stable.crashed, 1, "a crash in the arm counts: {stable:?}");
    s.transition_rollout(
        APP,
        r.id,
        Transition::Revert,
        None,
        None,
        &Stamp::system(400),
    )
    .await
    .unwrap();
    let next = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(500))
        .await
        .unwrap();
    s.write_batch(&[in_arm(1, "1.0.0", Signal::Ready, 600, next.id, Arm::Stable)])
        .await
        .unwrap();
    let (_, stable) = s.arm_health(next.id).await.unwrap();
    assert_eq!(
        (stable.devices, stable.crashed),
        (1, 0),
        "a new rollout starts afresh: {stable:?}"
    );
}

/// Retention deletes release rows first seen before the cutoff, oldest
/// first and at most `limit` at a time, and never those of an active rollout.
pub async fn release_rows_are_pruned_except_an_active_rollouts(s: &dyn Store) {
    released(s).await;
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(1))
        .await
        .unwrap();
    s.write_batch(&[
        w(1, "1.0.0", Signal::Installed, 10),
        w(2, "1.0.0", Signal::Installed, 20),
        w(3, "1.0.0", Signal::Installed, 30),
        in_arm(4, "2.0.0", Signal::Installed, 15, r.id, Arm::Candidate),
        w(5, "1.0.0", Signal::Installed, 500),
    ])
    .await
    .unwrap();
    assert_eq!(s.prune_release(100, 2).await.unwrap(), 2, "a batch at most");
    assert_eq!(s.prune_release(100, 10).await.unwrap(), 1);
    assert_eq!(
        s.prune_release(100, 10).await.unwrap(),
        0,
        "the rollout's row stays"
    );
    let m = s.release_metrics(APP, "1.0.0", 0, 1_000).await.unwrap();
    assert_eq!(m.total, 1, "the newer row stays: {m:?}");
    let (candidate, _) = s.arm_health(r.id).await.unwrap();
    assert_eq!(candidate.devices, 1);
    s.transition_rollout(
        APP,
        r.id,
        Transition::Revert,
        None,
        None,
        &Stamp::system(600),
    )
    .await
    .unwrap();
    assert_eq!(
        s.prune_release(100, 10).await.unwrap(),
        1,
        "once ended, it goes too"
    );
}

/// A batch larger than one statement (device rows, events, offer counts and
/// release rows of 1,300 devices: full statements and a remainder cut in
/// several) writes every row once.
pub async fn a_batch_of_many_statements_writes_every_row(s: &dyn Store) {
    released(s).await;
    let t0: i64 = 1_700_000_000_000;
    let n_devices: u32 = 1_300;
    let mut batch = Vec::new();
    for n in 1..=n_devices {
        batch.push(crate::seen(&dev(n), "1.0.0", t0));
        batch.push(w(n, "2.0.0", Signal::Offered, t0 + i64::from(n)));
        // One offer count per day: 1,300 rows of the offers table.
        batch.push(Write::Offered {
            app_id: APP.into(),
            version: "2.0.0".into(),
            day: i64::from(n),
            count: 2,
        });
        batch.push(Write::Event(NewEvent {
            app_id: APP.into(),
            device_id: dev(n),
            action: if n <= 700 { "set" } else { "get" }.into(),
            version_name: "2.0.0".into(),
            created_at: t0 + i64::from(n),
            ..Default::default()
        }));
    }
    s.write_batch(&batch).await.unwrap();
    let mut devices = 0;
    let mut cursor = None;
    loop {
        let q = DeviceQuery {
            cursor: cursor.clone(),
            limit: 1000,
            ..Default::default()
        };
        let page = s.list_devices(APP, &q).await.unwrap();
        devices += page.items.len();
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(devices, 1_300, "device rows");
    for (action, n) in [("set", 700), ("get", 600)] {
        let q = EventQuery {
            action: Some(action.into()),
            limit: 1000,
            ..Default::default()
        };
        assert_eq!(
            s.list_events(APP, &q).await.unwrap().len(),
            n,
            "{action} events"
        );
    }
    let m = metrics(s, t0, t0 + HOUR).await;
    assert_eq!((m.total, m.stages.offered), (1_300, 1_300), "release rows");
    let offers = s.list_offers(APP).await.unwrap();
    assert_eq!(offers.len(), 1_300, "offer rows");
    assert!(
        offers.iter().all(|o| o.count == 2),
        "each offer counted once"
    );
}
