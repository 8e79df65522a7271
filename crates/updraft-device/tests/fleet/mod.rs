//! Running `updraft-sim` from this crate's tests (only they know its binary's
//! path): one fleet run against a test server, its `--json` summary back.

use serde_json::Value;
use updraft_test_support::{Server, APP};

/// Runs the simulated fleet of `APP` kept in `dir` against `server` with
/// `args`; its JSON summary. A failed run fails the test with its stderr.
pub(crate) async fn sim(server: &Server, dir: &std::path::Path, args: &[&str]) -> Value {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_updraft-sim"));
    cmd.args(["--server", &server.base, "--app", APP, "--json", "--dir"])
        .arg(dir)
        .args(args);
    // The fleet talks to a server in this process: wait on another thread.
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
