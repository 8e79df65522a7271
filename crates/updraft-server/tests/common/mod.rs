//! Test harness: the real server on 127.0.0.1:0 over a temporary SQLite
//! database and blob directory, driven over HTTP.

#![allow(dead_code)]

use std::io::Write as _;

use serde_json::{json, Value};
use updraft_server::config::{Config, Layer};

pub const APP: &str = "com.example.app";
pub const DEV: &str = "00000000-0000-4000-8000-000000000001";
pub const ADMIN: &str = "test_admin_key_0123456789abcdef";

pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub dir: std::path::PathBuf,
    running: Option<updraft_server::Running>,
    _tmp: Option<tempfile::TempDir>,
}

pub fn config(dir: &std::path::Path) -> Config {
    Layer {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        bootstrap_api_key: Some(ADMIN.into()),
        max_json_bytes: Some(64 * 1024),
        max_bundle_bytes: Some(2 * 1024 * 1024),
        flush_interval_ms: Some(10),
        ..Default::default()
    }
    .resolve()
    .unwrap()
}

impl Server {
    pub async fn start() -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Server::start_in(tmp.path()).await;
        s._tmp = Some(tmp);
        s
    }

    pub async fn start_in(dir: &std::path::Path) -> Server {
        Server::start_with(config(dir)).await
    }

    pub async fn start_with(c: Config) -> Server {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_test_writer()
            .try_init();
        let dir = c.data_dir.clone();
        let running = updraft_server::open_and_start(c).await.unwrap();
        Server {
            base: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            dir,
            running: Some(running),
            _tmp: None,
        }
    }

    /// Stops the server (flushing queued writes), keeping its data directory.
    pub async fn stop(&mut self) {
        self.running.take().unwrap().stop().await.unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A management API call with `key`; returns (status, JSON body or Null).
    pub async fn api_as(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, self.url(&format!("/api/v1{path}")))
            .bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_as(ADMIN, method, path, body).await
    }

    /// A management call that must succeed.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.api(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v}"
        );
        v
    }

    /// `GET path` (no auth) and its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET path` (no auth) and its status code.
    pub async fn get_status(&self, path: &str) -> u16 {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A device call: (status, body).
    pub async fn device(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = self
            .http
            .request(m, self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `POST /updates` with `extra` merged over a default Android 8.x device.
    pub async fn check(&self, extra: Value) -> Value {
        let (status, v) = self.device("POST", "/updates", &info(extra)).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    pub async fn upload(&self, version: &str, query: &str, zip: Vec<u8>) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(&format!(
                "/api/v1/apps/{APP}/bundles?version={version}{query}"
            )))
            .bearer_auth(ADMIN)
            .body(zip)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// App + public `production` channel.
    pub async fn with_app(&self) {
        self.ok("POST", "/apps", Some(json!({"app_id": APP}))).await;
        self.ok(
            "POST",
            &format!("/apps/{APP}/channels"),
            Some(json!({"name": "production", "public": true})),
        )
        .await;
    }

    /// Uploads a bundle with the given version and returns its JSON.
    pub async fn bundle(&self, version: &str) -> Value {
        let (status, v) = self
            .upload(version, "", zip_of(&[("index.html", version.as_bytes())]))
            .await;
        assert_eq!(status, 201, "{v}");
        v["bundle"].clone()
    }

    /// Uploads `version` with the same bytes [`Server::bundle`] gives `content_of`.
    pub async fn bundle_with(&self, version: &str, content_of: &str) -> serde_json::Value {
        let (status, v) = self
            .upload(
                version,
                "",
                zip_of(&[("index.html", content_of.as_bytes())]),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v["bundle"].clone()
    }

    pub async fn set_channel(&self, name: &str, patch: Value) -> Value {
        self.ok(
            "PATCH",
            &format!("/apps/{APP}/channels/{name}"),
            Some(patch),
        )
        .await
    }

    /// Waits until queued telemetry is visible.
    pub async fn settle(&self) {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// A default device request (Android, plugin 8.51.14, native 1.0.0, on builtin) with `extra` merged in.
pub fn info(extra: Value) -> Value {
    let mut v = json!({
        "app_id": APP, "device_id": DEV, "platform": "android", "version_name": "builtin",
        "version_build": "1.0.0", "version_code": "1", "version_os": "14", "plugin_version": "8.51.14",
        "is_emulator": false, "is_prod": true, "custom_id": "", "defaultChannel": "",
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

/// A zip with these entries.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}
