//! Test harness: the real server on 127.0.0.1:0, bundles uploaded through its
//! API, and device configs pointing at it.

#![allow(dead_code)]

pub mod fake;

use serde_json::{json, Value};
use updraft_core::archive::{build_zip, FileEntry};

pub const ADMIN: &str = "device_test_admin_key_0123456789abcdef";
pub const APP: &str = "com.example.device";

pub struct Server {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    running: Option<updraft_server::Running>,
}

impl Server {
    pub async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let running = updraft_server::start_local(dir.path(), ADMIN)
            .await
            .unwrap();
        Server {
            base: format!("http://{}", running.addr),
            dir,
            http: reqwest::Client::new(),
            running: Some(running),
        }
    }

    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, format!("{}/api/v1{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status();
        let v = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// The app with a public `production` channel.
    pub async fn with_app(&self) {
        self.api("POST", "/apps", Some(json!({"app_id": APP})))
            .await;
        self.api(
            "POST",
            &format!("/apps/{APP}/channels"),
            Some(json!({"name": "production", "public": true})),
        )
        .await;
    }

    /// Uploads raw bytes as a bundle, with query extras, onto `channel`.
    pub async fn upload_raw(&self, version: &str, query: &str, body: Vec<u8>) -> Value {
        let res = self
            .http
            .post(format!(
                "{}/api/v1/apps/{APP}/bundles?version={version}{query}",
                self.base
            ))
            .bearer_auth(ADMIN)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let v: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{v}");
        v
    }

    /// Uploads a plain bundle whose index.html says `version`, and puts it on production.
    pub async fn publish(&self, version: &str) {
        self.upload_raw(version, "&channel=production", bundle_zip(version))
            .await;
    }

    /// Waits for the server's batched writer.
    pub async fn settle(&self) {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// A bundle zip whose index.html holds `marker`.
pub fn bundle_zip(marker: &str) -> Vec<u8> {
    build_zip(&[
        FileEntry {
            path: "index.html".into(),
            data: format!("<html>{marker}</html>").into_bytes(),
        },
        FileEntry {
            path: "js/app.js".into(),
            data: b"CapacitorUpdater.notifyAppReady()".to_vec(),
        },
    ])
    .unwrap()
}

/// What the device's active bundle says.
pub fn showing(d: &updraft_device::Device) -> String {
    match d.current_dir() {
        None => "builtin".into(),
        Some(dir) => std::fs::read_to_string(dir.join("index.html"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
    }
}

pub fn config(dir: &std::path::Path, server: &Server) -> updraft_device::DeviceConfig {
    let mut c = updraft_device::DeviceConfig::new(dir, &server.base, APP);
    c.app_ready_timeout = std::time::Duration::from_millis(300);
    c
}
