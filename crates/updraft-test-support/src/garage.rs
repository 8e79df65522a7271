//! A real S3-compatible store for tests: Garage (`cargo install garage`,
//! which `.ci/run` does when it is missing) on 127.0.0.1 at free ports, in a
//! temporary directory, with one bucket and one key. A missing `garage`
//! fails the test, naming what installs it; it never skips.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use updraft_blob::S3Settings;

/// A running single-node Garage; stopped when dropped.
pub struct Garage {
    child: Child,
    _dir: tempfile::TempDir,
    /// How to reach its bucket (path-style, region `garage`).
    pub settings: S3Settings,
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `garage -c config args…`; its stdout, or `None` when it fails.
fn garage(config: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("garage")
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("garage does not run ({e}): install it with `cargo install garage --locked` (.ci/run does)")
        });
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn must(config: &Path, args: &[&str]) -> String {
    garage(config, args)
        .unwrap_or_else(|| panic!("garage {args:?} failed; its log:\n{}", log_of(config)))
}

/// The end of the server's log, beside its config.
fn log_of(config: &Path) -> String {
    let log = std::fs::read_to_string(config.with_file_name("garage.log")).unwrap_or_default();
    let start = log.len().saturating_sub(2000);
    log.get(start..).unwrap_or_default().to_string()
}

/// The value after `label` on the line that has it (`Key ID: GK…`).
fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|rest| rest.trim_start_matches(':').trim().to_string())
        .unwrap_or_else(|| panic!("no {label} in garage's output:\n{text}"))
}

/// Starts Garage with a bucket `bundles` and a key allowed on it.
pub fn start() -> Garage {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (rpc, s3, admin) = (free_port(), free_port(), free_port());
    // Each instance its own secret: a port taken by another test's Garage
    // cannot join this one.
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let config = dir.path().join("garage.toml");
    std::fs::write(
        &config,
        format!(
            "metadata_dir = {meta:?}\ndata_dir = {data:?}\ndb_engine = \"sqlite\"\nreplication_factor = 1\n\
             rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
             [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\nroot_domain = \".s3.garage.localhost\"\n\
             [admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n",
            meta = dir.path().join("meta").display().to_string(),
            data = dir.path().join("data").display().to_string(),
        ),
    )
    .expect("the garage config is written");
    let log = std::fs::File::create(dir.path().join("garage.log")).expect("a log file");
    let child = Command::new("garage")
        .arg("-c")
        .arg(&config)
        .arg("server")
        .stdout(Stdio::from(log.try_clone().expect("a log handle")))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| {
            panic!("garage does not start ({e}): install it with `cargo install garage --locked` (.ci/run does)")
        });
    let mut g = Garage {
        child,
        _dir: dir,
        settings: S3Settings::default(),
    };
    let started = Instant::now();
    let node = loop {
        if let Some(out) = garage(&config, &["node", "id", "-q"]) {
            break out;
        }
        if let Ok(Some(status)) = g.child.try_wait() {
            panic!("garage exited ({status}); its log:\n{}", log_of(&config));
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "garage did not answer within 30 s; its log:\n{}",
            log_of(&config)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let node = node
        .trim()
        .split('@')
        .next()
        .unwrap_or_default()
        .to_string();
    // The node id is read from its files; the layout needs the server's RPC
    // port, which may open a moment later.
    let assign = ["layout", "assign", "-z", "dc1", "-c", "1G", &node];
    while garage(&config, &assign).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "garage {assign:?} kept failing for 30 s; its log:\n{}",
            log_of(&config)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    must(&config, &["layout", "apply", "--version", "1"]);
    must(&config, &["bucket", "create", "bundles"]);
    let key = must(&config, &["key", "create", "updraft-test"]);
    must(
        &config,
        &[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--owner",
            "bundles",
            "--key",
            "updraft-test",
        ],
    );
    g.settings = S3Settings {
        bucket: "bundles".into(),
        endpoint: Some(format!("http://127.0.0.1:{s3}")),
        region: Some("garage".into()),
        path_style: true,
        prefix: None,
        access_key_id: Some(field(&key, "Key ID")),
        secret_access_key: Some(field(&key, "Secret key")),
    };
    g
}
