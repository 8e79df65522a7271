//! The `updraft` binary run as a user runs it (an isolated config folder, the
//! server and key in the environment), and sample Capacitor projects.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::server::Server;
use crate::ADMIN;

/// What one run of the CLI did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 when a signal ended it).
    pub code: i32,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON (`--json` output).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts success and returns self.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }

    /// Asserts the exit code, that stderr mentions `needle`, and that nothing panicked.
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

/// The `updraft` binary with an isolated config folder, pointed at a server.
pub struct Cli {
    /// The CLI's config folder (`UPDRAFT_CONFIG_DIR`), removed when dropped.
    pub config_dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Cli {
    /// The CLI pointed at `server` with the [`ADMIN`] key.
    pub fn new(server: &Server) -> Cli {
        Cli::bare()
            .with_env("UPDRAFT_SERVER", &server.base)
            .with_env("UPDRAFT_API_KEY", ADMIN)
    }

    /// No server or key from the environment (for login tests).
    pub fn bare() -> Cli {
        Cli {
            config_dir: tempfile::tempdir().expect("a temporary directory"),
            env: Vec::new(),
        }
    }

    /// Sets (or replaces) one environment variable of every run.
    pub fn with_env(mut self, k: &str, v: &str) -> Cli {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.into(), v.into()));
        self
    }

    /// Runs `updraft ARGS` in `dir` (blocking: call from a multi-thread runtime).
    pub fn run(&self, dir: &Path, args: &[&str]) -> Run {
        let mut c = Command::new(updraft_bin());
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
        let out = c
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", updraft_bin().display()));
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The `updraft` binary Cargo built for the running test: nextest names it in
/// `NEXTEST_BIN_EXE_updraft`; otherwise it is beside the `deps/` folder the
/// test binary runs from (where Cargo puts a package's binaries for its
/// integration tests). Only the CLI's own tests can count on it being built.
pub(crate) fn updraft_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("NEXTEST_BIN_EXE_updraft") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in <target>/<profile>/deps");
    let bin = profile_dir.join(format!("updraft{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the CLI's tests through cargo",
        bin.display()
    );
    bin
}

/// A Capacitor project with a JSON config (`appName` "Test App", webDir
/// `dist`), a package.json of `version` and a web build.
pub fn json_project(app: &str, version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
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

/// A Capacitor project with a TypeScript config (webDir `www`).
pub fn ts_project(app: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
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

/// Writes `text` to `dir/rel`, creating folders; the file's path.
pub fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
    }
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}
