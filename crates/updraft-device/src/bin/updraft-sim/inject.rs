//! Per-version injections: which devices crash or throw a JavaScript error on
//! a version, and the launch time a version reports. A device's fate on a
//! version is fixed by its id, the version and the seed (SHA-256 of them), so
//! the same devices fail in every round and every run, and the share of
//! failing devices is the rate asked for, whoever ends up running the version.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

/// What to inject, by version.
#[derive(Debug, Clone, Default)]
pub(crate) struct Injection {
    /// Share of devices that crash on a version.
    pub crash: BTreeMap<String, f64>,
    /// Share of devices that report a JavaScript error on a version.
    pub js_error: BTreeMap<String, f64>,
    /// The launch time reported on a version (`*`: any other version).
    pub launch_ms: BTreeMap<String, u64>,
    /// Mixed into every choice.
    pub seed: u64,
}

/// A failure a device may be chosen for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fault {
    Crash,
    JsError,
}

impl Injection {
    /// Whether `device` has `fault` on `version`.
    pub(crate) fn has(&self, fault: Fault, device: &str, version: &str) -> bool {
        let (rates, name) = match fault {
            Fault::Crash => (&self.crash, "crash"),
            Fault::JsError => (&self.js_error, "js_error"),
        };
        let Some(&rate) = rates.get(version) else {
            return false;
        };
        let digest = Sha256::digest(format!("{}:{name}:{device}:{version}", self.seed));
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        // A uniform draw in [0, 1) from the first 53 bits.
        let draw = (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
        draw < rate
    }

    /// The launch time devices report on `version`, when one is set.
    pub(crate) fn launch_time(&self, version: &str) -> Option<Duration> {
        self.launch_ms
            .get(version)
            .or_else(|| self.launch_ms.get("*"))
            .map(|ms| Duration::from_millis(*ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(i: usize) -> String {
        format!("00000000-0000-4000-8000-{i:012}")
    }

    #[test]
    fn a_rate_picks_about_that_share_of_devices_and_always_the_same_ones() {
        let inj = Injection {
            crash: [("1.0.2".to_string(), 0.1)].into(),
            seed: 7,
            ..Default::default()
        };
        let picked: Vec<usize> = (0..10_000)
            .filter(|i| inj.has(Fault::Crash, &device(*i), "1.0.2"))
            .collect();
        assert!((900..1100).contains(&picked.len()), "{}", picked.len());
        let again: Vec<usize> = (0..10_000)
            .filter(|i| inj.has(Fault::Crash, &device(*i), "1.0.2"))
            .collect();
        assert_eq!(picked, again);
        assert!(
            (0..1000).all(|i| !inj.has(Fault::Crash, &device(i), "1.0.1")),
            "another version has no crash"
        );
        assert!(
            (0..1000).all(|i| !inj.has(Fault::JsError, &device(i), "1.0.2")),
            "nor another fault"
        );
        let other_seed = Injection {
            seed: 8,
            ..inj.clone()
        };
        let moved = (0..10_000)
            .filter(|i| other_seed.has(Fault::Crash, &device(*i), "1.0.2"))
            .collect::<Vec<_>>();
        assert_ne!(moved, picked, "the seed picks other devices");
    }

    #[test]
    fn rates_zero_and_one_are_exact() {
        let inj = Injection {
            js_error: [("a".to_string(), 0.0), ("b".to_string(), 1.0)].into(),
            ..Default::default()
        };
        assert!((0..1000).all(|i| !inj.has(Fault::JsError, &device(i), "a")));
        assert!((0..1000).all(|i| inj.has(Fault::JsError, &device(i), "b")));
    }

    #[test]
    fn launch_times_fall_back_to_the_star() {
        let mut inj = Injection {
            launch_ms: [("1.0.2".to_string(), 1500)].into(),
            ..Default::default()
        };
        assert_eq!(inj.launch_time("1.0.2"), Some(Duration::from_millis(1500)));
        assert_eq!(inj.launch_time("1.0.1"), None);
        inj.launch_ms.insert("*".into(), 700);
        assert_eq!(inj.launch_time("1.0.1"), Some(Duration::from_millis(700)));
    }
}
