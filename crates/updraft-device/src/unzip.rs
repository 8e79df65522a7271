//! Safe extraction of a bundle zip, with the plugin's rules: no absolute,
//! backslash or `..` paths (each refused with the plugin's stats action), one
//! wrapping folder accepted, `index.html` required at the resulting root.
//!
//! The archive is read from the file on disk and each entry is streamed to its
//! target with a small buffer, so memory stays bounded whatever the bundle
//! size. Zip bombs are refused with `unzip_fail`: an entry that inflates past
//! its declared size, and an archive whose entries or total size exceed
//! [`UnzipLimits`].

use std::io::{Read, Write};
use std::path::Path;

use updraft_core::layout::{check_layout, Layout, LayoutError};

/// Bounds on what one bundle may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnzipLimits {
    /// Most bytes all entries may unpack to together.
    pub max_total_bytes: u64,
    /// Most entries (files and folders) an archive may hold.
    pub max_entries: usize,
}

impl Default for UnzipLimits {
    /// 1 GiB and 50,000 entries: far above any web bundle, far below a full disk.
    fn default() -> Self {
        Self {
            max_total_bytes: 1 << 30,
            max_entries: 50_000,
        }
    }
}

/// Why a zip was refused, named as the plugin's stats action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnzipError {
    /// An entry name with a backslash or a Windows drive (`windows_path_fail`).
    #[error("windows_path_fail: {0}")]
    WindowsPath(String),
    /// An entry that would land outside the bundle folder (`canonical_path_fail`).
    #[error("canonical_path_fail: {0}")]
    CanonicalPath(String),
    /// An unreadable zip, or one past its [`UnzipLimits`] (`unzip_fail`).
    #[error("unzip_fail: {0}")]
    Unzip(String),
}

impl UnzipError {
    /// The stats action the plugin sends for this failure.
    pub fn action(&self) -> &'static str {
        match self {
            Self::WindowsPath(_) => "windows_path_fail",
            Self::CanonicalPath(_) => "canonical_path_fail",
            Self::Unzip(_) => "unzip_fail",
        }
    }
}

fn io(e: impl std::fmt::Display) -> UnzipError {
    UnzipError::Unzip(e.to_string())
}

/// Extracts the zip file `zip` into the empty directory `dest`, flattening a
/// single wrapping folder, and checks the result has `index.html`. On error
/// `dest` may hold part of the bundle: the caller removes it.
pub fn extract(zip: &Path, dest: &Path, limits: &UnzipLimits) -> Result<(), UnzipError> {
    let file = std::fs::File::open(zip).map_err(io)?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(io)?;
    if archive.len() > limits.max_entries {
        return Err(UnzipError::Unzip(format!(
            "{} entries, more than the limit of {}",
            archive.len(),
            limits.max_entries
        )));
    }
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    for n in &names {
        if n.contains('\\') {
            return Err(UnzipError::WindowsPath(n.clone()));
        }
    }
    let layout = check_layout(names.iter().map(String::as_str)).map_err(|e| match e {
        LayoutError::UnsafePath(p) => UnzipError::CanonicalPath(p),
        other => UnzipError::Unzip(other.to_string()),
    })?;
    let mut declared = 0u64;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(io)?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > limits.max_total_bytes {
        return Err(UnzipError::Unzip(format!(
            "the archive unpacks to {declared} bytes, more than the limit of {}",
            limits.max_total_bytes
        )));
    }
    let prefix = match &layout {
        Layout::Root => String::new(),
        Layout::Folder(f) => format!("{f}/"),
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(io)?;
        let name = entry.name().to_string();
        let Some(rel) = name.strip_prefix(&prefix) else {
            continue; // __MACOSX/ and dotfiles outside the wrapping folder
        };
        if rel.is_empty() {
            continue;
        }
        // check_layout refused unsafe names; enclosed_name is a second guard.
        if entry.enclosed_name().is_none() {
            return Err(UnzipError::CanonicalPath(name));
        }
        let target = dest.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(io)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let size = entry.size();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&target).map_err(io)?);
        let mut copied = 0u64;
        loop {
            // Never read more than one byte past the declared size.
            let room = (size - copied.min(size)).saturating_add(1);
            let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            let n = entry
                .read(&mut buf[..want])
                .map_err(|e| UnzipError::Unzip(format!("{name}: {e}")))?;
            if n == 0 {
                break;
            }
            copied += n as u64;
            if copied > size {
                return Err(UnzipError::Unzip(format!(
                    "{name} unpacks to more than its declared {size} bytes"
                )));
            }
            written += n as u64;
            if written > limits.max_total_bytes {
                return Err(UnzipError::Unzip(format!(
                    "the archive unpacks to more than the limit of {} bytes",
                    limits.max_total_bytes
                )));
            }
            out.write_all(&buf[..n]).map_err(io)?;
        }
        out.flush().map_err(io)?;
    }
    if !dest.join("index.html").is_file() {
        return Err(UnzipError::Unzip("no index.html after extraction".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// Writes `zip` next to `dest` and extracts it with the default limits.
    fn extract_bytes(zip: &[u8], dest: &Path) -> Result<(), UnzipError> {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), zip).unwrap();
        extract(f.path(), dest, &UnzipLimits::default())
    }

    #[test]
    fn flattens_one_wrapping_folder_and_ignores_macosx() {
        let d = tempfile::tempdir().unwrap();
        let z = zip_of(&[
            ("dist/index.html", b"hi"),
            ("dist/js/a.js", b"a"),
            ("__MACOSX/x", b""),
        ]);
        extract_bytes(&z, d.path()).unwrap();
        assert_eq!(std::fs::read(d.path().join("index.html")).unwrap(), b"hi");
        assert!(d.path().join("js/a.js").is_file());
        assert!(!d.path().join("__MACOSX").exists());
    }

    #[test]
    fn refuses_traversal_with_the_plugin_action() {
        for (bad, action) in [
            ("../evil.js", "canonical_path_fail"),
            ("/etc/x", "canonical_path_fail"),
            ("a\\b.js", "windows_path_fail"),
        ] {
            let d = tempfile::tempdir().unwrap();
            let z = zip_of(&[("index.html", b"hi"), (bad, b"x")]);
            let e = extract_bytes(&z, d.path()).unwrap_err();
            assert_eq!(e.action(), action, "{bad}");
            assert!(!d.path().parent().unwrap().join("evil.js").exists());
        }
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            extract_bytes(&zip_of(&[("a.js", b"")]), d.path())
                .unwrap_err()
                .action(),
            "unzip_fail"
        );
        assert_eq!(
            extract_bytes(b"not a zip", d.path()).unwrap_err().action(),
            "unzip_fail"
        );
    }
}
