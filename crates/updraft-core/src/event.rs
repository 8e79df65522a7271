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
//!
//! [`release_signal`] says what an action means for the release of the bundle
//! it names (a funnel step or a health signal), which health gates and release
//! metrics are counted from.

use updraft_protocol::api::Signal;

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

/// What `action` says about the release of the bundle its `version_name`
/// names (see [`failed_version`] for the manifest failures): a funnel step or
/// a health signal; `None` for actions that say neither (lifecycle, channel,
/// unknown).
pub fn release_signal(action: &str) -> Option<Signal> {
    const FAILED: &[&str] = &[
        "download_fail",
        "finish_download_fail",
        "checksum_fail",
        "checksum_required",
        "decrypt_fail",
        "unzip_fail",
        "windows_path_fail",
        "canonical_path_fail",
        "directory_path_fail",
        "low_mem_fail",
        "insufficient_disk_space",
        "set_fail",
        "download_manifest_file_fail",
        "download_manifest_checksum_fail",
        "download_manifest_brotli_fail",
        "manifest_path_fail",
    ];
    const CRASHED: &[&str] = &[
        "app_crash",
        "app_crash_native",
        "app_anr",
        "app_initialization_failure",
        "webview_render_process_gone",
        "webview_content_process_terminated",
        "webview_unclean_restart",
    ];
    Some(match action {
        "update_fail" => Signal::RolledBack,
        "set" => Signal::Installed,
        "app_launch_ready" => Signal::Ready,
        "webview_javascript_error" | "webview_unhandled_rejection" => Signal::Errored,
        "download_zip_start" | "download_manifest_start" => Signal::DownloadStarted,
        "download_complete" | "download_zip_complete" | "download_manifest_complete" => {
            Signal::Downloaded
        }
        a if FAILED.contains(&a) => Signal::Failed,
        a if CRASHED.contains(&a) => Signal::Crashed,
        a if a.strip_prefix("app_killed_").is_some_and(|r| !r.is_empty()) => Signal::Crashed,
        a if download_progress(a) => Signal::DownloadStarted,
        _ => return None,
    })
}

/// `download_<n>` with `n` a percentage below 100 (the plugin sends 0, 10, … 90).
fn download_progress(action: &str) -> bool {
    action
        .strip_prefix("download_")
        .is_some_and(|n| !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The bundle version a failure event is about: the manifest failures send
/// `<version>:<file>` as `version_name`; bundle versions are semver, which
/// has no `:`, so everything from the first `:` on is the file.
pub fn failed_version(version_name: &str) -> &str {
    version_name
        .split_once(':')
        .map_or(version_name, |(version, _)| version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use updraft_protocol::device::KNOWN_STATS_ACTIONS;

    /// Every action the plugin is known to send, with what it means for a release.
    const TABLE: &[(&str, Option<Signal>)] = {
        use Signal::*;
        &[
            ("ping", None),
            ("delete", None),
            ("reset", None),
            ("set", Some(Installed)),
            ("get", None),
            ("set_next", None),
            ("uninstall", None),
            ("set_fail", Some(Failed)),
            ("update_fail", Some(RolledBack)),
            ("download_fail", Some(Failed)),
            ("windows_path_fail", Some(Failed)),
            ("canonical_path_fail", Some(Failed)),
            ("directory_path_fail", Some(Failed)),
            ("unzip_fail", Some(Failed)),
            ("low_mem_fail", Some(Failed)),
            ("decrypt_fail", Some(Failed)),
            ("checksum_fail", Some(Failed)),
            ("finish_download_fail", Some(Failed)),
            ("manifest_path_fail", Some(Failed)),
            ("download_manifest_file_fail", Some(Failed)),
            ("download_manifest_checksum_fail", Some(Failed)),
            ("download_manifest_brotli_fail", Some(Failed)),
            ("download_0", Some(DownloadStarted)),
            ("download_10", Some(DownloadStarted)),
            ("download_20", Some(DownloadStarted)),
            ("download_30", Some(DownloadStarted)),
            ("download_40", Some(DownloadStarted)),
            ("download_50", Some(DownloadStarted)),
            ("download_60", Some(DownloadStarted)),
            ("download_70", Some(DownloadStarted)),
            ("download_80", Some(DownloadStarted)),
            ("download_90", Some(DownloadStarted)),
            ("download_complete", Some(Downloaded)),
            ("download_manifest_start", Some(DownloadStarted)),
            ("download_manifest_complete", Some(Downloaded)),
            ("download_zip_start", Some(DownloadStarted)),
            ("download_zip_complete", Some(Downloaded)),
            ("checksum_required", Some(Failed)),
            ("insufficient_disk_space", Some(Failed)),
            ("app_moved_to_foreground", None),
            ("app_moved_to_background", None),
            ("app_launch_start", None),
            ("app_launch_ready", Some(Ready)),
            ("app_launch_timeout", None),
            ("setChannel", None),
            ("getChannel", None),
            ("rateLimited", None),
            ("rate_limit_reached", None),
            ("disableAutoUpdate", None),
            ("InvalidIp", None),
            ("blocked_by_server_url", None),
            ("customIdBlocked", None),
            ("app_crash", Some(Crashed)),
            ("app_crash_native", Some(Crashed)),
            ("app_anr", Some(Crashed)),
            ("app_killed_low_memory", Some(Crashed)),
            ("app_killed_excessive_resource_usage", Some(Crashed)),
            ("app_initialization_failure", Some(Crashed)),
            ("app_memory_warning", None),
            ("webview_javascript_error", Some(Errored)),
            ("webview_unhandled_rejection", Some(Errored)),
            ("webview_resource_error", None),
            ("webview_security_policy_violation", None),
            ("webview_unclean_restart", Some(Crashed)),
            ("webview_render_process_gone", Some(Crashed)),
            ("webview_content_process_terminated", Some(Crashed)),
            ("webview_dom_content_loaded", None),
            ("webview_page_loaded", None),
            ("os_version_changed", None),
            ("native_app_version_changed", None),
        ]
    };

    #[test]
    fn every_known_action_has_its_release_signal() {
        for action in KNOWN_STATS_ACTIONS {
            let Some((_, want)) = TABLE.iter().find(|(a, _)| a == action) else {
                panic!("{action} is sent by the plugin but missing from the table");
            };
            assert_eq!(release_signal(action), *want, "{action}");
        }
        assert_eq!(TABLE.len(), KNOWN_STATS_ACTIONS.len());
    }

    #[test]
    fn look_alike_actions_say_nothing() {
        for other in [
            "",
            "download_",
            "download_100",
            "download_x",
            "download_-1",
            "app_killed_",
            "SET",
            "update_fail ",
            "brand_new_action",
        ] {
            assert_eq!(release_signal(other), None, "{other:?}");
        }
        assert_eq!(
            release_signal("app_killed_by_watchdog"),
            Some(Signal::Crashed)
        );
    }

    #[test]
    fn a_manifest_failure_names_its_bundle_before_the_file() {
        assert_eq!(failed_version("1.2.0:assets/app.js"), "1.2.0");
        assert_eq!(failed_version("1.2.0:a:b"), "1.2.0");
        assert_eq!(failed_version("1.2.0"), "1.2.0");
        assert_eq!(failed_version(""), "");
    }

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
