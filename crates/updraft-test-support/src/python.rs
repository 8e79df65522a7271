//! Running Python for an independent implementation to check the server
//! against (the Prometheus text parser, the Standard Webhooks reference
//! library, Python's `hmac`): the packages `.ci/run` installs. A missing
//! package fails the test, naming what to install.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Runs `python3 -c script args…` with `input` on stdin; its stdout.
/// Panics, with its stderr and `needs` (what `.ci/run` installs for it),
/// when it fails.
pub fn python(script: &str, args: &[&str], input: &[u8], needs: &str) -> Vec<u8> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("a stdin")
        .write_all(input)
        .expect("python3 reads its input");
    let out = child.wait_with_output().expect("python3 ends");
    assert!(
        out.status.success(),
        "python3 failed (is {needs} installed? .ci/run installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
