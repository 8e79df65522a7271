//! What only the CLI's interop tests need: npm packages installed once into
//! the target folder. Everything else comes from `updraft-test-support`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Installs pinned npm `packages` once into `<target tmp>/<name>` (later runs
/// reuse it) and returns that folder; `expect` are paths under it that must
/// exist afterwards. `extra` are more `npm install` flags. Tests running at
/// once may all install: each installs into a folder of its own, then moves
/// it into place; the first move wins and the others use that folder. A
/// failed install leaves nothing behind.
pub(crate) fn npm_install(
    name: &str,
    packages: &[&str],
    extra: &[&str],
    expect: &[&str],
) -> PathBuf {
    // `.v2`: folders the earlier, racy install left (possibly incomplete)
    // are never in the way.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.v2"));
    let present = |d: &Path| expect.iter().all(|p| d.join(p).exists());
    if present(&dir) {
        return dir;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let own = dir.with_file_name(format!("{name}.installing-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(
        own.join("package.json"),
        format!(r#"{{"name":"{name}","private":true}}"#),
    )
    .unwrap();
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .args(extra)
        .args(packages)
        .current_dir(&own)
        .output()
        .expect("npm runs");
    let ok = out.status.success() && present(&own);
    if !ok {
        let _ = std::fs::remove_dir_all(&own);
    }
    assert!(
        ok,
        "npm install {packages:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if std::fs::rename(&own, &dir).is_ok() {
        return dir;
    }
    // Another test moved its complete install into place first (only
    // complete installs are ever moved there): use it, drop ours.
    if present(&dir) {
        let _ = std::fs::remove_dir_all(&own);
        return dir;
    }
    // Something else is in the way: never delete it (a test may be using
    // it), use our own install.
    own
}
