//! What a stats event tells about a device: whether its `version_name` is the
//! bundle the device runs, and when the event happened.
//!
//! The plugin's actions (reference/plugin-protocol.md §3) fall in two groups.
//! In `set`, `reset` and the lifecycle and health events (`app_moved_to_*`,
//! `app_launch_*`, crashes, WebView reports, …) `version_name` is the current
//! bundle. In `set_next` (the queued bundle), `delete` (the deleted one), every
//! `download_*` (the target) and every failure it names another bundle. Only
//! the first group may change the version a device is recorded as running;
//! unknown actions are stored but never do.

/// How far ahead of the server's clock an event's timestamp may be (5 minutes).
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;
/// How old an event's timestamp may be (30 days): the plugin keeps its queue
/// across launches, so a device that was offline sends late events.
pub const MAX_AGE_MS: i64 = 30 * 86_400_000;

/// Whether `action`'s `version_name` is the bundle the device runs.
pub fn reports_running_bundle(action: &str) -> bool {
    const EXACT: &[&str] = &[
        "set",
        "reset",
        "blocked_by_server_url",
        "rate_limit_reached",
        "os_version_changed",
        "native_app_version_changed",
        "app_crash",
        "app_crash_native",
        "app_anr",
        "app_initialization_failure",
        "app_memory_warning",
    ];
    const PREFIXES: &[&str] = &["app_moved_to_", "app_launch_", "app_killed_", "webview_"];
    !action.ends_with("_fail")
        && (EXACT.contains(&action) || PREFIXES.iter().any(|p| action.starts_with(p)))
}

/// When an event happened: the device's `timestamp` (epoch ms) when it lies
/// between [`MAX_AGE_MS`] before `now` and [`MAX_FUTURE_SKEW_MS`] after it,
/// else `now` (no timestamp, a clock far off, or seconds sent as ms).
pub fn event_time(timestamp: Option<i64>, now: i64) -> i64 {
    match timestamp {
        Some(t) if t >= now - MAX_AGE_MS && t <= now + MAX_FUTURE_SKEW_MS => t,
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_events_about_the_running_bundle_report_it() {
        for running in [
            "set",
            "reset",
            "app_moved_to_foreground",
            "app_moved_to_background",
            "app_launch_ready",
            "app_killed_low_memory",
            "webview_page_loaded",
            "rate_limit_reached",
        ] {
            assert!(reports_running_bundle(running), "{running}");
        }
        for other in [
            "set_next",
            "delete",
            "download_10",
            "download_complete",
            "download_zip_start",
            "download_manifest_complete",
            "download_fail",
            "update_fail",
            "set_fail",
            "checksum_fail",
            "checksum_required",
            "insufficient_disk_space",
            "uninstall",
            "brand_new_action",
            "app_moved_to_fail",
        ] {
            assert!(!reports_running_bundle(other), "{other}");
        }
    }

    #[test]
    fn timestamps_are_used_within_a_sane_window() {
        let now = 1_800_000_000_000;
        assert_eq!(event_time(None, now), now);
        assert_eq!(event_time(Some(now - 60_000), now), now - 60_000);
        assert_eq!(event_time(Some(now - MAX_AGE_MS), now), now - MAX_AGE_MS);
        assert_eq!(event_time(Some(now - MAX_AGE_MS - 1), now), now);
        assert_eq!(
            event_time(Some(now + MAX_FUTURE_SKEW_MS), now),
            now + MAX_FUTURE_SKEW_MS
        );
        assert_eq!(event_time(Some(now + MAX_FUTURE_SKEW_MS + 1), now), now);
        assert_eq!(event_time(Some(now / 1000), now), now, "seconds, not ms");
        assert_eq!(event_time(Some(i64::MIN), now), now);
        assert_eq!(event_time(Some(i64::MAX), now), now);
    }
}
