//! [`Tally`]: what arm health and release metrics count, summed from
//! `release_devices.flags` groups (`SELECT flags, COUNT(*) … GROUP BY flags`):
//! each row's `flags` holds one bit per signal seen (and one for a launch
//! time), so every count of a device is a test of its bits.

use updraft_protocol::api::{ArmHealth, FunnelFinal, FunnelStages, Signal};

/// The bit of `launch_ms` in `flags`; the signals' bits are [`bit`]'s.
pub const LAUNCH: i64 = 1 << 9;

/// The bit of a signal in `flags`, in the order of the columns.
pub fn bit(signal: Signal) -> i64 {
    1 << match signal {
        Signal::Offered => 0,
        Signal::DownloadStarted => 1,
        Signal::Downloaded => 2,
        Signal::Installed => 3,
        Signal::Ready => 4,
        Signal::RolledBack => 5,
        Signal::Failed => 6,
        Signal::Crashed => 7,
        Signal::Errored => 8,
    }
}

const OFFERED: i64 = 1;
const DOWNLOAD: i64 = 1 << 1;
const DOWNLOADED: i64 = 1 << 2;
const INSTALLED: i64 = 1 << 3;
const READY: i64 = 1 << 4;
const ROLLED_BACK: i64 = 1 << 5;
const FAILED: i64 = 1 << 6;
const CRASHED: i64 = 1 << 7;
const ERRORED: i64 = 1 << 8;

/// Devices counted by what they reported about one bundle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Every device.
    pub devices: u64,
    /// Offered, downloading or beyond, or failed.
    pub attempted: u64,
    /// Installed (`set`).
    pub installed: u64,
    /// Installed, ready, crashed or errored: it ran.
    pub ran: u64,
    /// Failed or rolled back.
    pub failed: u64,
    /// Crashed.
    pub crashed: u64,
    /// Logged a JavaScript error.
    pub errored: u64,
    /// Ready, with no rollback or crash.
    pub confirmed: u64,
    /// Installed and ready.
    pub completed: u64,
    /// With a launch time.
    pub launch_samples: u64,
    /// With both a download start and a ready (so a download-to-ready time).
    pub download_to_ready_samples: u64,
    /// Each device in its final state.
    pub funnel: FunnelFinal,
    /// Devices that reached each stage.
    pub stages: FunnelStages,
}

impl Tally {
    /// Adds `n` devices whose row has `flags`.
    pub fn add(&mut self, flags: i64, n: u64) {
        let any = |bits: i64| if flags & bits == 0 { 0 } else { n };
        let all = |bits: i64| if flags & bits == bits { n } else { 0 };
        self.devices += n;
        self.attempted += any(OFFERED | DOWNLOAD | DOWNLOADED | INSTALLED | FAILED | ROLLED_BACK);
        self.installed += any(INSTALLED);
        self.ran += any(INSTALLED | READY | CRASHED | ERRORED);
        self.failed += any(FAILED | ROLLED_BACK);
        self.crashed += any(CRASHED);
        self.errored += any(ERRORED);
        self.confirmed += if flags & (ROLLED_BACK | CRASHED) == 0 {
            any(READY)
        } else {
            0
        };
        self.completed += all(INSTALLED | READY);
        self.launch_samples += any(LAUNCH);
        self.download_to_ready_samples += all(DOWNLOAD | READY);
        // A device that reported running the bundle (ready, a crash, an
        // error) or rolling back from it had installed it, whether or not
        // its `set` reached us (trimmed stats, a row older than the bundle's).
        const REACHED_INSTALL: i64 = INSTALLED | READY | ROLLED_BACK | CRASHED | ERRORED;
        let s = &mut self.stages;
        s.offered += n;
        s.download_started += any(DOWNLOAD | DOWNLOADED | REACHED_INSTALL);
        s.downloaded += any(DOWNLOADED | REACHED_INSTALL);
        s.installed += any(REACHED_INSTALL);
        s.ready += any(READY);
        s.rolled_back += any(ROLLED_BACK);
        // The most telling thing the device did: every device in one state.
        let f = &mut self.funnel;
        let state = if flags & ROLLED_BACK != 0 {
            &mut f.rolled_back
        } else if flags & FAILED != 0 && flags & REACHED_INSTALL == 0 {
            &mut f.failed
        } else if flags & READY != 0 {
            &mut f.ready
        } else if flags & REACHED_INSTALL != 0 {
            &mut f.installed
        } else if flags & DOWNLOADED != 0 {
            &mut f.downloaded
        } else if flags & DOWNLOAD != 0 {
            &mut f.downloading
        } else {
            &mut f.offered
        };
        *state += n;
    }

    /// An arm's health from its tally (the launch p90 is read apart).
    pub fn arm_health(&self) -> ArmHealth {
        ArmHealth {
            devices: self.devices,
            attempted: self.attempted,
            installed: self.installed,
            ran: self.ran,
            failed: self.failed,
            crashed: self.crashed,
            errored: self.errored,
            confirmed: self.confirmed,
            launch_p90_ms: None,
            launch_samples: self.launch_samples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(signals: &[Signal]) -> i64 {
        signals.iter().fold(0, |f, s| f | bit(*s))
    }

    #[test]
    fn each_signal_has_its_own_bit_below_the_launch_bit() {
        use Signal::*;
        let all = [
            Offered,
            DownloadStarted,
            Downloaded,
            Installed,
            Ready,
            RolledBack,
            Failed,
            Crashed,
            Errored,
        ];
        assert_eq!(
            flags(&all),
            LAUNCH - 1,
            "nine distinct bits, all below LAUNCH"
        );
    }

    #[test]
    fn every_device_is_in_exactly_one_final_state() {
        use Signal::*;
        // Every combination of the ten bits.
        let mut t = Tally::default();
        for f in 0..(LAUNCH << 1) {
            t.add(f, 1);
        }
        let f = &t.funnel;
        let sum = f.offered
            + f.downloading
            + f.downloaded
            + f.installed
            + f.ready
            + f.rolled_back
            + f.failed;
        assert_eq!(sum, t.devices);
        // Each device's stages are cumulative, for every combination.
        for f in 0..(LAUNCH << 1) {
            let mut one = Tally::default();
            one.add(f, 1);
            let s = &one.stages;
            assert!(
                s.offered >= s.download_started
                    && s.download_started >= s.downloaded
                    && s.downloaded >= s.installed
                    && s.installed >= s.ready
                    && s.installed >= s.rolled_back,
                "flags {f:#b}: {s:?}"
            );
        }
        let mut one = Tally::default();
        one.add(flags(&[Installed, Failed, Ready]), 1);
        assert_eq!(
            one.funnel.ready, 1,
            "a failure after installing does not end it"
        );
        let mut one = Tally::default();
        one.add(flags(&[DownloadStarted, Failed]), 1);
        assert_eq!((one.funnel.failed, one.failed, one.ran), (1, 1, 0));
        // A crash report without a `set` (trimmed stats): the device ran
        // the bundle, so it installed it; it was not merely offered.
        let mut one = Tally::default();
        one.add(flags(&[Crashed]), 1);
        assert_eq!(
            (one.funnel.installed, one.funnel.offered, one.ran),
            (1, 0, 1)
        );
        assert_eq!(
            (
                one.stages.downloaded,
                one.stages.installed,
                one.stages.ready
            ),
            (1, 1, 0)
        );
        let mut one = Tally::default();
        one.add(flags(&[Failed, Errored]), 1);
        assert_eq!(one.funnel.installed, 1, "it ran despite a failure");
    }

    #[test]
    fn health_counts_follow_the_signals() {
        use Signal::*;
        let mut t = Tally::default();
        t.add(flags(&[Installed, Ready]) | LAUNCH, 3);
        t.add(flags(&[Installed, Ready, Crashed]) | LAUNCH, 1);
        t.add(flags(&[Ready, Errored]), 2);
        t.add(flags(&[Offered]), 4);
        let h = t.arm_health();
        assert_eq!((h.devices, h.attempted, h.installed, h.ran), (10, 8, 4, 6));
        assert_eq!(
            (h.crashed, h.errored, h.confirmed, h.launch_samples),
            (1, 2, 5, 4)
        );
        assert_eq!((t.completed, t.download_to_ready_samples), (4, 0));
        assert_eq!(t.stages.installed, 6, "ready implies installed");
    }
}
