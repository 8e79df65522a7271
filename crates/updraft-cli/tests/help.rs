//! `--help` of every command, snapshot-tested: a change to the CLI's surface
//! shows up in review as a diff of these files.

use updraft_test_support::*;

const COMMANDS: &[&[&str]] = &[
    &[],
    &["login"],
    &["logout"],
    &["doctor"],
    &["init"],
    &["key", "create"],
    &["key", "show"],
    &["bundle"],
    &["bundle", "zip"],
    &["bundle", "encrypt"],
    &["bundle", "decrypt"],
    &["bundle", "upload"],
    &["bundle", "diff"],
    &["bundle", "list"],
    &["bundle", "delete"],
    &["bundle", "revoke"],
    &["schedule"],
    &["schedule", "add"],
    &["cohort"],
    &["cohort", "set"],
    &["webhook"],
    &["webhook", "add"],
    &["webhook", "rotate"],
    &["hook"],
    &["audit"],
    &["hook", "add"],
    &["bundle", "cleanup"],
    &["channel"],
    &["channel", "add"],
    &["channel", "list"],
    &["channel", "set"],
    &["channel", "delete"],
    &["channel", "history"],
    &["promote"],
    &["rollback"],
    &["device"],
    &["device", "list"],
    &["device", "get"],
    &["device", "set-channel"],
    &["device", "pin"],
    &["device", "unset"],
    &["device", "explain"],
    &["device", "unblock"],
    &["deploy"],
    &["rollout"],
    &["rollout", "start"],
    &["rollout", "status"],
    &["rollout", "pause"],
    &["rollout", "resume"],
    &["rollout", "advance"],
    &["rollout", "promote"],
    &["rollout", "revert"],
    &["rollout", "list"],
    &["metrics"],
    &["app"],
    &["app", "list"],
    &["app", "create"],
    &["app", "delete"],
    &["api-key"],
    &["api-key", "list"],
    &["api-key", "create"],
    &["api-key", "revoke"],
    &["completions"],
];

#[test]
fn help_output() {
    let cli = Cli::bare();
    let dir = tempfile::tempdir().unwrap();
    for path in COMMANDS {
        let mut args = path.to_vec();
        args.push("--help");
        let r = cli.run(dir.path(), &args).ok();
        let name = if path.is_empty() {
            "updraft".to_string()
        } else {
            format!("updraft-{}", path.join("-"))
        };
        insta::assert_snapshot!(name, r.stdout);
    }
}

#[test]
fn version_and_completions() {
    let cli = Cli::bare();
    let dir = tempfile::tempdir().unwrap();
    let v = cli.run(dir.path(), &["--version"]).ok();
    assert_eq!(
        v.stdout.trim(),
        format!("updraft {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish"] {
        let c = cli.run(dir.path(), &["completions", shell]).ok();
        assert!(
            c.stdout.contains("deploy") && c.stdout.contains("set-channel"),
            "{shell}: {c:?}"
        );
    }
    cli.run(dir.path(), &["completions", "tcsh"])
        .fails(2, "invalid value");
}

/// A reader that stops early (`| head`) ends the CLI quietly, as any Unix tool:
/// no panic, no exit 101. The bash completions (about 90 KB) overflow the
/// pipe, so the write after `head` exits really fails.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' completions bash | head -c 10 >/dev/null; echo \"status ${{PIPESTATUS[0]}}\"",
            env!("CARGO_BIN_EXE_updraft")
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stdout.contains("status 141") || stdout.contains("status 0"),
        "killed by SIGPIPE (141) or done: {stdout} {stderr}"
    );
}
