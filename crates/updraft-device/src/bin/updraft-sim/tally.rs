//! What the fleet did, counted as the server's release metrics count it: per
//! version, each device once per outcome (however many rounds repeated it),
//! plus the devices running each version at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

/// Counts of events across the fleet (every round counts).
#[derive(Default)]
pub(crate) struct Counters {
    pub checks: AtomicU64,
    pub updated: AtomicU64,
    pub confirmed: AtomicU64,
    pub rolled_back: AtomicU64,
    pub reverted: AtomicU64,
    pub up_to_date: AtomicU64,
    pub errors: AtomicU64,
    pub crashes: AtomicU64,
    pub js_errors: AtomicU64,
    pub done: AtomicU64,
    /// What installed updates transferred (see `DownloadReport`).
    pub downloaded_bytes: AtomicU64,
    pub files_fetched: AtomicU64,
    pub files_reused: AtomicU64,
    pub files_patched: AtomicU64,
    pub patch_fallbacks: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds what one installed update transferred.
    pub(crate) fn downloaded(&self, r: &updraft_device::DownloadReport) {
        let add = |c: &AtomicU64, n| c.fetch_add(n, Ordering::Relaxed);
        add(&self.downloaded_bytes, r.fetched_bytes);
        add(&self.files_fetched, r.fetched);
        add(&self.files_reused, r.reused);
        add(&self.files_patched, r.patched);
        add(&self.patch_fallbacks, r.patch_fallbacks);
    }

    /// The value of `counter`.
    pub(crate) fn load(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Something a device did with a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    Installed,
    Confirmed,
    RolledBack,
    Crashed,
    JsError,
}

/// Devices per outcome, for one version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct VersionCounts {
    /// Devices running it when the run ended.
    pub running: u64,
    /// Devices that installed it.
    pub installed: u64,
    /// Devices that installed it and confirmed it (notifyAppReady).
    pub confirmed: u64,
    /// Devices that rolled back from it.
    pub rolled_back: u64,
    /// Devices that crashed while running it.
    pub crashed: u64,
    /// Devices that reported a JavaScript error while running it.
    pub js_errors: u64,
}

/// One device's outcomes, gathered over its rounds.
#[derive(Debug, Default)]
pub(crate) struct DeviceLog {
    seen: BTreeSet<(String, Outcome)>,
}

impl DeviceLog {
    /// Records that the device had `outcome` with `version`.
    pub(crate) fn saw(&mut self, version: &str, outcome: Outcome) {
        self.seen.insert((version.to_string(), outcome));
    }
}

/// The fleet's per-version counts.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    versions: Mutex<BTreeMap<String, VersionCounts>>,
}

impl Tally {
    /// Adds one device: what it did, and the version it ends on.
    pub(crate) fn add(&self, log: &DeviceLog, running: &str) {
        let mut versions = self.versions.lock().expect("tally lock");
        versions.entry(running.to_string()).or_default().running += 1;
        for (version, outcome) in &log.seen {
            let c = versions.entry(version.clone()).or_default();
            *match outcome {
                Outcome::Installed => &mut c.installed,
                Outcome::Confirmed => &mut c.confirmed,
                Outcome::RolledBack => &mut c.rolled_back,
                Outcome::Crashed => &mut c.crashed,
                Outcome::JsError => &mut c.js_errors,
            } += 1;
        }
    }

    /// The counts so far.
    pub(crate) fn counts(&self) -> BTreeMap<String, VersionCounts> {
        self.versions.lock().expect("tally lock").clone()
    }
}

/// One line per version for people.
pub(crate) fn version_lines(counts: &BTreeMap<String, VersionCounts>) -> Vec<String> {
    counts
        .iter()
        .map(|(v, c)| {
            format!(
                "  {v}: running {}, installed {}, confirmed {}, rolled back {}, crashed {}, js errors {}",
                c.running, c.installed, c.confirmed, c.rolled_back, c.crashed, c.js_errors
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_device_counts_once_per_version_and_outcome() {
        let tally = Tally::default();
        let mut a = DeviceLog::default();
        a.saw("1.0.2", Outcome::Installed);
        a.saw("1.0.2", Outcome::Crashed);
        a.saw("1.0.2", Outcome::Crashed);
        let mut b = DeviceLog::default();
        b.saw("1.0.2", Outcome::Installed);
        b.saw("1.0.2", Outcome::RolledBack);
        tally.add(&a, "1.0.2");
        tally.add(&b, "1.0.0");
        let counts = tally.counts();
        assert_eq!(
            counts["1.0.2"],
            VersionCounts {
                running: 1,
                installed: 2,
                rolled_back: 1,
                crashed: 1,
                ..Default::default()
            }
        );
        assert_eq!(counts["1.0.0"].running, 1);
        assert_eq!(
            version_lines(&counts)[1],
            "  1.0.2: running 1, installed 2, confirmed 0, rolled back 1, crashed 1, js errors 0"
        );
    }
}
