//! Health reports, as the plugin sends them (reference/plugin-protocol.md §3):
//! the launch time with `app_launch_ready`, crashes (`app_crash`, with the
//! metadata of Android's exit report or iOS's unclean-exit tracker) and
//! JavaScript errors (`webview_javascript_error`). Every metadata value is a
//! string, as the plugin's metadata is a string map.

use serde_json::{Map, Value};

use crate::{millis, now_ms, Device};

/// Metadata from string pairs.
fn metadata(pairs: &[(&str, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
        .collect()
}

impl Device {
    /// The metadata of `app_launch_ready`: how long the launch took (the
    /// injected [`crate::Faults::launch_time`], else the time since the web
    /// view loaded the bundle), when it started, and its source.
    pub(crate) fn launch_ready_metadata(&self) -> Map<String, Value> {
        let now = now_ms();
        let duration = match self.faults.launch_time {
            Some(d) => millis(d),
            None => now.saturating_sub(self.launch_started_at).max(0),
        };
        metadata(&[
            ("duration_ms", duration.to_string()),
            ("launch_started_at", self.launch_started_at.to_string()),
            ("source", "notify_app_ready".into()),
        ])
    }

    /// Reports that the app crashed while running the current bundle
    /// (`app_crash`), as the plugin does at the next launch: on Android with
    /// the previous process's exit report, elsewhere as iOS's unclean exit
    /// from the foreground.
    pub fn report_crash(&mut self) {
        let now = now_ms();
        let meta = if self.cfg.platform == "android" {
            metadata(&[
                ("exit_reason", "crash".into()),
                ("exit_reason_code", "4".into()),
                ("exit_status", "0".into()),
                ("exit_importance", "100".into()),
                ("exit_timestamp", now.to_string()),
                ("pid", (10_000 + now.rem_euclid(20_000)).to_string()),
                ("pss_kb", "181240".into()),
                ("rss_kb", "262144".into()),
                ("process_name", self.cfg.app_id.clone()),
                ("exit_description", "crash".into()),
            ])
        } else {
            metadata(&[
                ("exit_reason", "unclean_foreground_exit".into()),
                ("exit_source", "app_health_tracker".into()),
                (
                    "previous_session_id",
                    uuid::Uuid::new_v4().to_string().to_lowercase(),
                ),
                ("session_started_at", self.launch_started_at.to_string()),
            ])
        };
        self.queue_stat_with("app_crash", None, None, meta);
    }

    /// Reports an uncaught JavaScript error in the current bundle's web view
    /// (`webview_javascript_error`), with the reporter's metadata.
    pub fn report_js_error(&mut self, message: &str) {
        let origin = if self.cfg.platform == "ios" {
            "capacitor://localhost"
        } else {
            "https://localhost"
        };
        let meta = metadata(&[
            ("error_type", "javascript_error".into()),
            ("message", message.to_string()),
            ("source", format!("{origin}/main.js")),
            ("line", "1".into()),
            ("column", "1".into()),
            (
                "stack",
                format!("Error: {message}\n    at {origin}/main.js:1:1"),
            ),
            ("href", format!("{origin}/")),
            ("session_id", self.launch_started_at.to_string()),
        ]);
        self.queue_stat_with("webview_javascript_error", None, None, meta);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{Device, DeviceConfig};

    fn device(dir: &std::path::Path, platform: &str) -> Device {
        let mut cfg = DeviceConfig::new(dir, "http://127.0.0.1:9", "com.example.app");
        cfg.platform = platform.into();
        Device::open(cfg).unwrap()
    }

    fn last(d: &Device) -> serde_json::Value {
        d.queued_stats().last().cloned().unwrap()
    }

    #[test]
    fn launch_ready_reports_the_injected_launch_time_as_a_string() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = device(dir.path(), "android");
        d.faults.launch_time = Some(Duration::from_millis(1500));
        d.notify_app_ready().unwrap();
        let e = last(&d);
        assert_eq!(e["action"], "app_launch_ready");
        assert_eq!(e["version_name"], "1.0.0");
        assert_eq!(e["metadata"]["duration_ms"], "1500");
        assert_eq!(e["metadata"]["source"], "notify_app_ready");
        // Measured when nothing is injected: a small, whole number of ms.
        d.faults.launch_time = None;
        d.notify_app_ready().unwrap();
        let measured: i64 = last(&d)["metadata"]["duration_ms"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0..60_000).contains(&measured), "{measured}");
    }

    #[test]
    fn crashes_carry_the_platforms_exit_report() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = device(dir.path(), "android");
        d.report_crash();
        let e = last(&d);
        assert_eq!(e["action"], "app_crash");
        assert_eq!(e["version_name"], "1.0.0");
        assert_eq!(e["metadata"]["exit_reason"], "crash");
        assert_eq!(e["metadata"]["process_name"], "com.example.app");
        let dir = tempfile::tempdir().unwrap();
        let mut d = device(dir.path(), "ios");
        d.report_crash();
        assert_eq!(
            last(&d)["metadata"]["exit_reason"],
            "unclean_foreground_exit"
        );
    }

    #[test]
    fn javascript_errors_carry_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = device(dir.path(), "ios");
        d.report_js_error("x is undefined");
        let e = last(&d);
        assert_eq!(e["action"], "webview_javascript_error");
        assert_eq!(e["metadata"]["message"], "x is undefined");
        assert_eq!(e["metadata"]["source"], "capacitor://localhost/main.js");
        assert!(e["metadata"]
            .as_object()
            .unwrap()
            .values()
            .all(serde_json::Value::is_string));
    }
}
