//! A release's metrics for people: where each device ended up (adding up to
//! the total), the cumulative stages, the rates as percentages and the times
//! as durations.

use updraft_protocol::api::ReleaseMetrics;

use super::{or_dash, right, Paint};
use crate::output::{table, when};
use crate::span::{millis, rate};

/// Rows of `(label, count)` with each count's share of `total`, numbers
/// aligned on the right.
fn counted(rows: &[(&str, u64)], total: u64) -> Vec<Vec<String>> {
    let mut counts: Vec<String> = rows.iter().map(|(_, n)| n.to_string()).collect();
    let mut shares: Vec<String> = rows
        .iter()
        .map(|(_, n)| {
            if total == 0 {
                "-".into()
            } else {
                rate(*n as f64 / total as f64)
            }
        })
        .collect();
    right(&mut counts, "DEVICES");
    right(&mut shares, "SHARE");
    rows.iter()
        .zip(counts.into_iter().zip(shares))
        .map(|((label, _), (n, share))| vec![(*label).to_string(), n, share])
        .collect()
}

/// `metrics`: the release of one bundle over a window.
pub(crate) fn metrics(m: &ReleaseMetrics, paint: Paint) -> String {
    let on = m
        .channel
        .as_ref()
        .map(|c| format!(" on {c}"))
        .unwrap_or_default();
    let mut out = format!(
        "{} {}{on}: {} devices from {} to {} UTC\n\n",
        paint.bold("Release of"),
        m.bundle,
        m.total,
        when(m.since),
        when(m.until)
    );
    let f = &m.funnel;
    let finals = [
        ("offered, nothing since", f.offered),
        ("downloading", f.downloading),
        ("downloaded, not installed", f.downloaded),
        ("installed, not yet ready", f.installed),
        ("ready", f.ready),
        ("rolled back", f.rolled_back),
        ("failed before installing", f.failed),
        ("total", m.total),
    ];
    out.push_str(&table(
        &["WHERE DEVICES ENDED UP", "DEVICES", "SHARE"],
        &counted(&finals, m.total),
    ));
    let sum: u64 = finals[..finals.len() - 1].iter().map(|(_, n)| n).sum();
    if sum != m.total {
        out.push_str(&format!(
            "{} these add up to {sum}, not the total {}\n",
            paint.yellow("warning:"),
            m.total
        ));
    }
    out.push('\n');
    let s = &m.stages;
    let stages = [
        ("offered", s.offered),
        ("download started", s.download_started),
        ("downloaded", s.downloaded),
        ("installed", s.installed),
        ("ready", s.ready),
        ("rolled back", s.rolled_back),
    ];
    out.push_str(&table(
        &["STAGE (CUMULATIVE)", "DEVICES", "SHARE"],
        &counted(&stages, m.total),
    ));
    out.push('\n');
    let share = |v: Option<f64>| or_dash(v, rate);
    let ms = |v: Option<u64>| or_dash(v, |v| millis(i64::try_from(v).unwrap_or(i64::MAX)));
    let p = |p50: Option<u64>, p90: Option<u64>| format!("p50 {}, p90 {}", ms(p50), ms(p90));
    let rows = vec![
        vec!["failure rate".into(), share(m.failure_rate)],
        vec!["crash rate".into(), share(m.crash_rate)],
        vec!["JS error rate".into(), share(m.error_rate)],
        vec!["completion rate".into(), share(m.completion_rate)],
        vec![
            "download to ready".into(),
            p(m.download_to_ready_p50_ms, m.download_to_ready_p90_ms),
        ],
        vec!["launch time".into(), p(m.launch_p50_ms, m.launch_p90_ms)],
        vec![
            "time to 50% installed".into(),
            or_dash(m.time_to_50_ms, millis),
        ],
        vec![
            "time to 95% installed".into(),
            or_dash(m.time_to_95_ms, millis),
        ],
    ];
    out.push_str(&table(&["MEASURE", "VALUE"], &rows));
    out
}

#[cfg(test)]
mod tests {
    use updraft_protocol::api::{AdoptionPoint, FunnelFinal, FunnelStages};

    use super::*;

    /// 2026-01-01 10:00 UTC.
    const T0: i64 = 1_767_261_600_000;

    fn sample() -> ReleaseMetrics {
        ReleaseMetrics {
            bundle: "1.0.2".into(),
            channel: Some("production".into()),
            since: T0,
            until: T0 + 86_400_000,
            total: 250,
            funnel: FunnelFinal {
                offered: 10,
                downloading: 5,
                downloaded: 3,
                installed: 2,
                ready: 220,
                rolled_back: 6,
                failed: 4,
            },
            stages: FunnelStages {
                offered: 250,
                download_started: 240,
                downloaded: 232,
                installed: 228,
                ready: 220,
                rolled_back: 6,
            },
            failure_rate: Some(0.0417),
            crash_rate: Some(0.0044),
            error_rate: None,
            completion_rate: Some(0.9649),
            download_to_ready_p50_ms: Some(1234),
            download_to_ready_p90_ms: Some(3456),
            launch_p50_ms: Some(800),
            launch_p90_ms: Some(1530),
            time_to_50_ms: Some(7_800_000),
            time_to_95_ms: None,
            adoption: vec![AdoptionPoint {
                at: T0 + 3_600_000,
                devices: 120,
            }],
        }
    }

    #[test]
    fn a_release_reads_as_final_states_stages_rates_and_times() {
        let text = metrics(&sample(), Paint::OFF);
        assert!(!text.contains("warning"), "the states add up: {text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn final_states_that_do_not_add_up_are_flagged() {
        let mut m = sample();
        m.funnel.ready = 219;
        let text = metrics(&m, Paint::OFF);
        assert!(
            text.contains("warning: these add up to 249, not the total 250"),
            "{text}"
        );
    }

    #[test]
    fn an_empty_window_has_no_shares() {
        let m = ReleaseMetrics {
            bundle: "1.0.3".into(),
            since: T0,
            until: T0 + 3_600_000,
            ..Default::default()
        };
        insta::assert_snapshot!(metrics(&m, Paint::OFF));
    }
}
