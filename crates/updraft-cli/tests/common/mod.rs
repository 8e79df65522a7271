//! Test harness: the real server on 127.0.0.1:0 (SQLite in a temp dir), the
//! built `updraft` binary run as a user would, and sample Capacitor projects.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub const ADMIN: &str = "cli_test_admin_key_0123456789abcdef";

pub struct Server {
    pub base: String,
    pub dir: tempfile::TempDir,
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
            running: Some(running),
        }
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.unwrap();
        }
    }

    /// A management API call as admin.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = reqwest::Client::new()
            .request(m, format!("{}/api/v1{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// What the server tells a device (Android, plugin 8.51.14, native 1.0.0, on builtin).
    pub async fn check(&self, app: &str, extra: Value) -> Value {
        let mut body = serde_json::json!({
            "app_id": app, "device_id": DEVICE, "platform": "android",
            "version_name": "builtin", "version_build": "1.0.0", "plugin_version": "8.51.14",
            "is_emulator": false, "is_prod": true, "defaultChannel": "",
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = reqwest::Client::new()
            .post(format!("{}/updates", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn download(&self, url: &str) -> Vec<u8> {
        reqwest::get(url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec()
    }
}

pub const DEVICE: &str = "00000000-0000-4000-8000-0000000000aa";

/// What one run of the CLI did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts success and returns self.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }

    /// Asserts the exit code and that stderr mentions `needle`.
    pub fn fails(self, code: i32, needle: &str) -> Self {
        assert_eq!(self.code, code, "expected exit {code}: {self:?}");
        assert!(
            self.stderr.contains(needle),
            "stderr should mention {needle:?}: {self:?}"
        );
        assert!(
            !self.stderr.contains("panicked"),
            "no panic, ever: {self:?}"
        );
        self
    }
}

/// The `updraft` binary with an isolated config dir, pointed at a server.
pub struct Cli {
    pub config_dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Cli {
    pub fn new(server: &Server) -> Cli {
        Cli {
            config_dir: tempfile::tempdir().unwrap(),
            env: vec![
                ("UPDRAFT_SERVER".into(), server.base.clone()),
                ("UPDRAFT_API_KEY".into(), ADMIN.into()),
            ],
        }
    }

    /// No server or key from the environment (for login tests).
    pub fn bare() -> Cli {
        Cli {
            config_dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    pub fn with_env(mut self, k: &str, v: &str) -> Cli {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.into(), v.into()));
        self
    }

    /// Runs `updraft ARGS` in `dir` (blocking: call from a multi-thread runtime).
    pub fn run(&self, dir: &Path, args: &[&str]) -> Run {
        let mut c = Command::new(env!("CARGO_BIN_EXE_updraft"));
        c.args(args)
            .current_dir(dir)
            .env_remove("UPDRAFT_SERVER")
            .env_remove("UPDRAFT_API_KEY")
            .env("UPDRAFT_CONFIG_DIR", self.config_dir.path())
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A Capacitor project with a JSON config, a package.json and a web build.
pub fn json_project(app: &str, version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    write(
        p,
        "capacitor.config.json",
        &format!(
            "{{\n  \"appId\": \"{app}\",\n  \"appName\": \"Test App\",\n  \"webDir\": \"dist\",\n  \"server\": {{ \"androidScheme\": \"https\" }}\n}}\n"
        ),
    );
    write(
        p,
        "package.json",
        &format!("{{\"name\":\"test-app\",\"version\":\"{version}\"}}"),
    );
    write_build(p, "v1");
    dir
}

/// A Capacitor project with a TypeScript config.
pub fn ts_project(app: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "capacitor.config.ts",
        &format!(
            "import type {{ CapacitorConfig }} from '@capacitor/cli';\n\nconst config: CapacitorConfig = {{\n  appId: '{app}',\n  appName: 'TS App',\n  webDir: 'www',\n}};\n\nexport default config;\n"
        ),
    );
    write(
        dir.path(),
        "package.json",
        "{\"name\":\"ts\",\"version\":\"2.0.0\"}",
    );
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    write(dir.path(), "www/index.html", "<html>ts</html>");
    dir
}

/// (Re)writes the web build in `dist/` with `marker` in it.
pub fn write_build(p: &Path, marker: &str) {
    write(
        p,
        "dist/index.html",
        &format!("<html><body>{marker}</body></html>"),
    );
    write(
        p,
        "dist/assets/app.js",
        &format!("import {{ CapacitorUpdater }} from '@capgo/capacitor-updater'; CapacitorUpdater.notifyAppReady(); console.log('{marker}');"),
    );
}

pub fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// The names inside a zip.
pub fn zip_names(bytes: &[u8]) -> Vec<String> {
    zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .unwrap()
        .file_names()
        .map(str::to_string)
        .collect()
}

/// Installs pinned npm `packages` once into `<target tmp>/<name>` (later runs
/// reuse it) and returns that folder; `expect` are paths under it that must
/// exist afterwards. `extra` are more `npm install` flags.
pub fn npm_install(name: &str, packages: &[&str], extra: &[&str], expect: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let present = || expect.iter().all(|p| dir.join(p).exists());
    if present() {
        return dir;
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        format!(r#"{{"name":"{name}","private":true}}"#),
    )
    .unwrap();
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .args(extra)
        .args(packages)
        .current_dir(&dir)
        .output()
        .expect("npm runs");
    assert!(
        out.status.success() && present(),
        "npm install {packages:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}
