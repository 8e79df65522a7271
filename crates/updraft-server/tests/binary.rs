//! The `updraft-server` binary itself: its log formats and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Starts `serve` on a free port with `env`, returns the child and its first log line.
fn serve_first_line(env: &[(&str, &str)]) -> (std::process::Child, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line, dir)
}

#[test]
fn json_logs_are_one_object_per_line_and_text_logs_have_no_colour_codes_off_a_terminal() {
    let (mut child, line, _dir) = serve_first_line(&[("UPDRAFT_LOG_FORMAT", "json")]);
    child.kill().unwrap();
    child.wait().unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields"]["message"], "updraft-server listening");
    assert!(v["fields"]["addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    let (mut child, line, _dir) = serve_first_line(&[]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("updraft-server listening"), "{line:?}");
    assert!(
        !line.contains('\u{1b}'),
        "no ANSI escapes in a pipe: {line:?}"
    );
}

/// The signal is sent right after the first log line: the handlers must exist by then.
#[test]
fn sigterm_stops_the_server_cleanly() {
    let (mut child, _line, _dir) = serve_first_line(&[]);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit after SIGTERM: {exit:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut rest).unwrap();
    assert!(
        rest.contains("shutting down"),
        "the signal was handled, not fatal: {rest:?}"
    );
}

/// A first start that cannot listen (the port is taken) creates no admin key:
/// the next start that serves prints one.
#[test]
fn the_first_admin_key_is_created_only_once_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("upd_"));
    drop(taken);
    let mut child = Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    for _ in 0..12 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if seen.contains("upd_") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.contains("An admin API key was created") && seen.contains("upd_"),
        "the next start shows the key: {seen}"
    );
}
