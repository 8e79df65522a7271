//! Per-device rate limit of `/channel_self`, as Capgo has one (reference/
//! capgo-backend.md §1.2): at most 5 calls per second per app, device and
//! method. A device stuck in a `setChannel` loop gets 429 with `Retry-After`
//! (the plugin backs off) instead of costing the server without end.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Calls allowed per device, method and second.
pub(crate) const PER_SECOND: u32 = 5;
const WINDOW: Duration = Duration::from_secs(1);
/// Past this many tracked keys, expired windows are dropped.
const PRUNE_AT: usize = 100_000;

/// (app, device, method).
type Key = (String, String, &'static str);

/// Self-assigned channel writes (plugins before 7.34) allowed per app and
/// second, whatever the device: random device ids cannot turn the per-device
/// limit into unbounded database writes.
pub(crate) const SELF_ASSIGN_PER_SECOND: u32 = 50;

/// Fixed one-second windows per (app, device, method): (window start, calls).
#[derive(Debug)]
pub(crate) struct DeviceLimiter {
    per_second: u32,
    windows: Mutex<HashMap<Key, (Instant, u32)>>,
}

impl Default for DeviceLimiter {
    fn default() -> Self {
        Self::new(PER_SECOND)
    }
}

impl DeviceLimiter {
    /// A limiter allowing `per_second` calls per key and second.
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            windows: Mutex::default(),
        }
    }

    /// Counts one call; `false` when the device is over its limit.
    pub(crate) fn allow(&self, app_id: &str, device_id: &str, method: &'static str) -> bool {
        let now = Instant::now();
        let mut w = self.windows.lock().expect("limiter lock");
        if w.len() >= PRUNE_AT {
            w.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let slot = w
            .entry((app_id.to_string(), device_id.to_ascii_lowercase(), method))
            .or_insert((now, 0));
        if now.duration_since(slot.0) >= WINDOW {
            *slot = (now, 0);
        }
        slot.1 += 1;
        slot.1 <= self.per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_per_second_per_device_and_method() {
        let l = DeviceLimiter::default();
        for _ in 0..PER_SECOND {
            assert!(l.allow("a.b", "D", "PUT"));
        }
        assert!(
            !l.allow("a.b", "d", "PUT"),
            "device ids compare lower-cased"
        );
        assert!(
            l.allow("a.b", "d", "POST"),
            "another method has its own budget"
        );
        assert!(l.allow("a.b", "e", "PUT"), "another device too");
    }
}
