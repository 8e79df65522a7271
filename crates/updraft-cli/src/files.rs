//! File helpers: atomic writes (a temporary file renamed over the target, so a
//! crash leaves the old file or the new one, never half of one), and reading a
//! web build directory into bundle entries.

use std::path::Path;

use updraft_core::archive::FileEntry;

use crate::error::{CliError, CliResult};

/// Writes `data` to `path` atomically. `mode` sets Unix permissions (0600 for
/// secrets); `None` keeps an existing file's mode, else 0644.
pub(crate) fn write_atomic(path: &Path, data: &[u8], mode: Option<u32>) -> CliResult<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| CliError::io("cannot write in", dir, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = mode.unwrap_or_else(|| {
            std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0o644)
        });
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| CliError::io("cannot set permissions on", tmp.path(), &e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| CliError::io("cannot write", path, &e))?;
    tmp.persist(path)
        .map_err(|e| CliError::io("cannot write", path, &e.error))?;
    Ok(())
}

/// Every file under `root` (symlinks followed, nothing skipped: dotfiles are
/// part of the build), with `/`-separated paths relative to `root`.
pub(crate) fn read_web_dir(root: &Path) -> CliResult<Vec<FileEntry>> {
    let mut out = Vec::new();
    walk(root, root, &mut out, 0)?;
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<FileEntry>, depth: usize) -> CliResult<()> {
    if depth > 64 {
        return Err(CliError::fail(
            "web_dir_too_deep",
            format!(
                "{} is nested more than 64 levels deep (a symlink loop?)",
                dir.display()
            ),
        ));
    }
    let rd = std::fs::read_dir(dir).map_err(|e| CliError::io("cannot read", dir, &e))?;
    for entry in rd {
        let entry = entry.map_err(|e| CliError::io("cannot read", dir, &e))?;
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(|e| CliError::io("cannot read", &path, &e))?;
        if meta.is_dir() {
            walk(root, &path, out, depth + 1)?;
        } else if meta.is_file() {
            let rel = path.strip_prefix(root).expect("walked from root");
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_str())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    CliError::fail(
                        "bad_file_name",
                        format!("{} is not valid UTF-8; rename it", path.display()),
                    )
                })?
                .join("/");
            let data = std::fs::read(&path).map_err(|e| CliError::io("cannot read", &path, &e))?;
            out.push(FileEntry { path: name, data });
        }
    }
    Ok(())
}
