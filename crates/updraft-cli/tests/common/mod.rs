//! What only the CLI's interop tests need: npm packages installed once into
//! the target folder. Everything else comes from `updraft-test-support`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Installs pinned npm `packages` once into `<target tmp>/<name>` (later runs
/// reuse it) and returns that folder; `expect` are paths under it that must
/// exist afterwards. `extra` are more `npm install` flags.
pub(crate) fn npm_install(
    name: &str,
    packages: &[&str],
    extra: &[&str],
    expect: &[&str],
) -> PathBuf {
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
