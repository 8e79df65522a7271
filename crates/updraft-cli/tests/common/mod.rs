//! What only the CLI's interop tests need: npm packages installed once into
//! the target folder. Everything else comes from `updraft-test-support`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Installs pinned npm `packages` once into `<target tmp>/<name>` (later runs
/// reuse it) and returns that folder; `expect` are paths under it that must
/// exist afterwards. `extra` are more `npm install` flags. Tests running at
/// once may all install: each installs into a folder of its own, then moves
/// it into place; the first move wins and the others use that folder.
pub(crate) fn npm_install(
    name: &str,
    packages: &[&str],
    extra: &[&str],
    expect: &[&str],
) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
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
    assert!(
        out.status.success() && present(&own),
        "npm install {packages:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if std::fs::rename(&own, &dir).is_err() {
        // Another test moved its install into place first (or an older,
        // incomplete one is in the way: replace it).
        if !present(&dir) {
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::rename(&own, &dir);
        }
        let _ = std::fs::remove_dir_all(&own);
    }
    assert!(present(&dir), "{} lacks {expect:?}", dir.display());
    dir
}
