//! Switching bundles, as the plugin does: queue one for the next start
//! (`next`), switch now (`set`), confirm a start (`notify_app_ready`), roll
//! back a bundle that did not confirm in time, go back to builtin (`reset`),
//! and delete a bundle. Every step is saved before the next one, so a kill at
//! any point leaves a state the next start can continue from.

use std::time::Duration;

use crate::store::{BundleStatus, BUILTIN};
use crate::{millis, now_ms, Device, DeviceError, Result};

impl Device {
    /// Queues a bundle to become current at the next [`Device::apply_next`].
    pub fn next(&mut self, id: &str) -> Result<()> {
        let version = self.installable(id)?;
        self.state.next = Some(id.to_string());
        self.save()?;
        let current = self.current_version();
        self.queue_stat("set_next", Some(&version), Some(&current));
        Ok(())
    }

    fn installable(&self, id: &str) -> Result<String> {
        if id == BUILTIN {
            return Ok(self.cfg.version_build.clone());
        }
        let b = self
            .state
            .bundles
            .get(id)
            .ok_or_else(|| DeviceError::failed("set_fail", format!("no bundle {id}")))?;
        if matches!(b.status, BundleStatus::Error | BundleStatus::Deleted)
            || !self.disk.bundle_dir(id).join("index.html").is_file()
        {
            return Err(DeviceError::failed(
                "set_fail",
                format!("bundle {id} ({}) cannot be installed", b.version),
            ));
        }
        Ok(b.version.clone())
    }

    /// The app went to the background: switch to the queued bundle, if any.
    pub fn apply_next(&mut self) -> Result<bool> {
        match self.state.next.clone() {
            Some(next) if next != self.state.current => {
                self.set(&next)?;
                Ok(true)
            }
            Some(_) => {
                self.state.next = None;
                self.save()?;
                Ok(false)
            }
            None => Ok(false),
        }
    }

    /// Makes a bundle current now (the web view reloads into it). It must call
    /// [`Device::notify_app_ready`] within `appReadyTimeout`.
    pub fn set(&mut self, id: &str) -> Result<()> {
        let version = match self.installable(id) {
            Ok(v) => v,
            Err(e) => {
                self.queue_stat("set_fail", None, None);
                return Err(e);
            }
        };
        let old = self.current_version();
        self.state.current = id.to_string();
        if self.state.next.as_deref() == Some(id) {
            self.state.next = None;
        }
        let pending = self
            .state
            .bundles
            .get(id)
            .is_some_and(|b| b.status != BundleStatus::Success);
        self.state.ready_deadline =
            pending.then(|| now_ms().saturating_add(millis(self.cfg.app_ready_timeout)));
        self.save()?;
        self.launch_started_at = now_ms();
        self.queue_stat("set", Some(&version), Some(&old));
        Ok(())
    }

    /// The running bundle started fine: it becomes the fallback; the previous
    /// fallback is deleted when `auto_delete_previous` is on.
    pub fn notify_app_ready(&mut self) -> Result<()> {
        let current = self.state.current.clone();
        let previous = self.state.fallback.clone();
        if let Some(b) = self.state.bundles.get_mut(&current) {
            b.status = BundleStatus::Success;
        }
        self.state.ready_deadline = None;
        self.state.fallback = current.clone();
        let delete_previous = self.cfg.auto_delete_previous
            && previous != BUILTIN
            && previous != current
            && self.state.next.as_deref() != Some(previous.as_str());
        if delete_previous {
            if let Some(b) = self.state.bundles.get_mut(&previous) {
                b.status = BundleStatus::Deleted;
            }
        }
        self.save()?;
        if delete_previous {
            let _ = std::fs::remove_dir_all(self.disk.bundle_dir(&previous));
            let v = self.state.bundles.get(&previous).map(|b| b.version.clone());
            self.queue_stat("delete", v.as_deref(), None);
        }
        let launch = self.launch_ready_metadata();
        self.queue_stat_with("app_launch_ready", None, None, launch);
        Ok(())
    }

    /// When the confirmation deadline of the current bundle has passed, rolls
    /// back (the plugin's `checkRevert`). Returns whether it did.
    pub fn check_app_ready(&mut self) -> Result<bool> {
        match self.state.ready_deadline {
            Some(deadline) if now_ms() >= deadline => {
                self.rollback()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Waits out the confirmation window, then rolls back if the bundle never
    /// confirmed (what the plugin's timer does while the app runs).
    pub async fn wait_app_ready(&mut self) -> Result<bool> {
        if let Some(deadline) = self.state.ready_deadline {
            // Already past (negative): no wait.
            let wait = u64::try_from(deadline.saturating_sub(now_ms())).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        self.check_app_ready()
    }

    fn rollback(&mut self) -> Result<()> {
        let failed = self.state.current.clone();
        let failed_version = self.current_version();
        self.queue_stat("app_launch_timeout", None, None);
        self.queue_stat("update_fail", Some(&failed_version), None);
        let fallback = if self.installable(&self.state.fallback.clone()).is_ok() {
            self.state.fallback.clone()
        } else {
            BUILTIN.to_string()
        };
        if let Some(b) = self.state.bundles.get_mut(&failed) {
            b.status = if self.cfg.auto_delete_failed {
                BundleStatus::Deleted
            } else {
                BundleStatus::Error
            };
        }
        self.state.current = fallback.clone();
        self.state.ready_deadline = None;
        if self.state.next.as_deref() == Some(failed.as_str()) {
            self.state.next = None;
        }
        self.save()?;
        self.launch_started_at = now_ms();
        if self.cfg.auto_delete_failed && failed != BUILTIN {
            let _ = std::fs::remove_dir_all(self.disk.bundle_dir(&failed));
        }
        if fallback != BUILTIN {
            let v = self.current_version();
            self.queue_stat("set", Some(&v), Some(&failed_version));
        }
        Ok(())
    }

    /// Back to the builtin bundle.
    pub fn reset(&mut self) -> Result<()> {
        let old = self.current_version();
        self.state.current = BUILTIN.into();
        self.state.next = None;
        self.state.ready_deadline = None;
        self.save()?;
        self.launch_started_at = now_ms();
        self.queue_stat("reset", Some(&self.cfg.version_build.clone()), Some(&old));
        Ok(())
    }

    /// Deletes a bundle's files (not the current or next one).
    pub fn delete(&mut self, id: &str) -> Result<()> {
        if id == self.state.current || self.state.next.as_deref() == Some(id) || id == BUILTIN {
            return Err(DeviceError::failed(
                "delete_fail",
                format!("bundle {id} is in use"),
            ));
        }
        let Some(b) = self.state.bundles.get_mut(id) else {
            return Err(DeviceError::failed(
                "delete_fail",
                format!("no bundle {id}"),
            ));
        };
        b.status = BundleStatus::Deleted;
        let version = b.version.clone();
        if self.state.fallback == id {
            self.state.fallback = BUILTIN.into();
        }
        self.save()?;
        let _ = std::fs::remove_dir_all(self.disk.bundle_dir(id));
        self.queue_stat("delete", Some(&version), None);
        Ok(())
    }
}
