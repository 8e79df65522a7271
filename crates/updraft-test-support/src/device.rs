//! Talking to the server as the plugin does: the default device request with
//! overrides ([`info`]), device calls and update checks, and a Rust device
//! ([`updraft_device::Device`]) pointed at a test server.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::server::Server;
use crate::{APP, DEV};

/// `base` with every field of the object `extra` set over it.
pub fn merged(mut base: Value, extra: Value) -> Value {
    let Value::Object(fields) = extra else {
        panic!("overrides must be a JSON object, not {extra}");
    };
    for (k, v) in fields {
        base[k] = v;
    }
    base
}

/// The plugin's request body for the default device ([`DEV`] of [`APP`]:
/// Android, plugin 8.51.14, native 1.0.0, on builtin) with `extra` set over it.
pub fn info(extra: Value) -> Value {
    let default = json!({
        "app_id": APP, "device_id": DEV, "platform": "android", "version_name": "builtin",
        "version_build": "1.0.0", "version_code": "1", "version_os": "14", "plugin_version": "8.51.14",
        "is_emulator": false, "is_prod": true, "custom_id": "", "defaultChannel": "",
    });
    merged(default, extra)
}

/// What a device shows: the `index.html` of its active bundle, or `builtin`.
pub fn showing(d: &updraft_device::Device) -> String {
    match d.current_dir() {
        None => "builtin".into(),
        Some(dir) => std::fs::read_to_string(dir.join("index.html"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
    }
}

impl Server {
    /// A device call (no auth): the status and the JSON body (`Null` when there is none).
    pub async fn device(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let res = self.http.request(m, self.url(path)).json(body).send().await;
        let res = res.expect("the server answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `POST /updates` for the default device with `extra` over it; must be a 200.
    pub async fn check(&self, extra: Value) -> Value {
        let (status, v) = self.device("POST", "/updates", &info(extra)).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// [`Server::check`] for the default device of `app`.
    pub async fn check_app(&self, app: &str, extra: Value) -> Value {
        self.check(merged(json!({ "app_id": app }), extra)).await
    }

    /// A Rust device of [`APP`] keeping its files in `dir`, talking to this
    /// server, that rolls back a bundle not confirmed within 300 ms.
    pub fn device_config(&self, dir: &Path) -> updraft_device::DeviceConfig {
        let mut c = updraft_device::DeviceConfig::new(dir, &self.base, APP);
        c.app_ready_timeout = Duration::from_millis(300);
        c
    }
}
