//! One simulated device's life: its rounds, each one app start (check,
//! download and apply an update, confirm or roll back, launch, crash or throw
//! as injected, send stats).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use updraft_device::{Cycle, Device, DeviceConfig, Faults};

use crate::inject::{Fault, Injection};
use crate::tally::{Counters, DeviceLog, Outcome, Tally};

/// How one device behaves, drawn from the seed.
pub(crate) struct Plan {
    pub index: usize,
    pub android: bool,
    pub native: String,
    pub never_confirm: bool,
    pub corrupt: bool,
    pub interrupt: bool,
}

/// What every device shares.
pub(crate) struct Fleet<'a> {
    pub args: &'a crate::args::Args,
    pub http: reqwest::Client,
    pub public_key: Option<String>,
    pub inject: Injection,
    pub counters: std::sync::Arc<Counters>,
    pub error_kinds: Mutex<BTreeMap<String, u64>>,
    pub tally: Tally,
}

impl Fleet<'_> {
    fn error(&self, kind: String) {
        Counters::bump(&self.counters.errors);
        *self
            .error_kinds
            .lock()
            .expect("error kinds lock")
            .entry(kind)
            .or_default() += 1;
    }

    /// Runs one device through its rounds and counts what it did.
    pub(crate) async fn run(&self, plan: Plan) {
        let a = self.args;
        let mut cfg = DeviceConfig::new(a.dir.join(plan.index.to_string()), &a.server, &a.app);
        cfg.platform = if plan.android { "android" } else { "ios" }.into();
        cfg.version_build = plan.native.clone();
        cfg.default_channel = a.channel.clone();
        cfg.app_ready_timeout = Duration::from_millis(a.app_ready_timeout_ms);
        cfg.public_key = self.public_key.clone();
        cfg.builtin_dir = a.builtin_dir.clone();
        cfg.patches = !a.no_patches;
        match Device::open_with(cfg, self.http.clone()) {
            Err(e) => self.error(format!("open: {e}")),
            Ok(mut d) => {
                let mut log = DeviceLog::default();
                for round in 0..a.rounds {
                    if round > 0 && a.interval_ms > 0 {
                        tokio::time::sleep(Duration::from_millis(a.interval_ms)).await;
                    }
                    d.faults = Faults {
                        corrupt_download: plan.corrupt,
                        interrupt_download: plan.interrupt && round == 0,
                        launch_time: None,
                    };
                    self.round(&mut d, &plan, &mut log).await;
                    // Stats go out as the plugin sends them; a retryable failure keeps them.
                    let _ = d.flush_stats().await;
                }
                self.tally.add(&log, &d.current_version());
            }
        }
        Counters::bump(&self.counters.done);
    }

    /// One app start.
    async fn round(&self, d: &mut Device, plan: &Plan, log: &mut DeviceLog) {
        let c = &self.counters;
        Counters::bump(&c.checks);
        let launches = match d.update_cycle().await {
            Ok(Cycle::Installed(version)) => {
                Counters::bump(&c.updated);
                if let Some(r) = d.last_download() {
                    c.downloaded(&r);
                }
                log.saw(&version, Outcome::Installed);
                if plan.never_confirm {
                    // The new bundle never calls notifyAppReady: after the timeout
                    // the device rolls back and the fallback starts.
                    match d.wait_app_ready().await {
                        Ok(true) => {
                            Counters::bump(&c.rolled_back);
                            log.saw(&version, Outcome::RolledBack);
                            true
                        }
                        Ok(false) => false,
                        Err(e) => {
                            self.error(e.to_string());
                            false
                        }
                    }
                } else {
                    Counters::bump(&c.confirmed);
                    log.saw(&version, Outcome::Confirmed);
                    true
                }
            }
            Ok(Cycle::Reverted) => {
                Counters::bump(&c.reverted);
                true
            }
            Ok(Cycle::UpToDate) => {
                Counters::bump(&c.up_to_date);
                true
            }
            // A whole cycle applies what it queues; only `foreground` stops there.
            Ok(Cycle::Queued(_)) => true,
            Ok(Cycle::Failed(kind)) => {
                self.error(kind);
                true
            }
            Err(e) => {
                self.error(e.to_string());
                true
            }
        };
        if !launches {
            return;
        }
        // The app runs its bundle: it calls notifyAppReady (confirming a new
        // one and reporting the launch), then crashes or throws as injected.
        let version = d.current_version();
        d.faults.launch_time = self.inject.launch_time(&version);
        if let Err(e) = d.notify_app_ready() {
            self.error(e.to_string());
            return;
        }
        let id = d.device_id().to_string();
        if self.inject.has(Fault::JsError, &id, &version) {
            d.report_js_error("TypeError: cannot read properties of undefined");
            Counters::bump(&c.js_errors);
            log.saw(&version, Outcome::JsError);
        }
        if self.inject.has(Fault::Crash, &id, &version) {
            d.report_crash();
            Counters::bump(&c.crashes);
            log.saw(&version, Outcome::Crashed);
        }
    }
}
