//! Safe extraction of a bundle zip, with the plugin's rules: no absolute,
//! backslash or `..` paths (each refused with the plugin's stats action), one
//! wrapping folder accepted, `index.html` required at the resulting root.

use std::io::Read as _;
use std::path::Path;

use updraft_core::layout::{check_layout, Layout, LayoutError};

/// Why a zip was refused, named as the plugin's stats action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnzipError {
    #[error("windows_path_fail: {0}")]
    WindowsPath(String),
    #[error("canonical_path_fail: {0}")]
    CanonicalPath(String),
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

/// Extracts `zip` into the empty directory `dest`, flattening a single wrapping
/// folder, and checks the result has `index.html`.
pub fn extract(zip: &[u8], dest: &Path) -> Result<(), UnzipError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(io)?;
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
    let prefix = match &layout {
        Layout::Root => String::new(),
        Layout::Folder(f) => format!("{f}/"),
    };
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
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut data).map_err(io)?;
        std::fs::write(&target, data).map_err(io)?;
    }
    if !dest.join("index.html").is_file() {
        return Err(UnzipError::Unzip("no index.html after extraction".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn flattens_one_wrapping_folder_and_ignores_macosx() {
        let d = tempfile::tempdir().unwrap();
        let z = zip_of(&[
            ("dist/index.html", b"hi"),
            ("dist/js/a.js", b"a"),
            ("__MACOSX/x", b""),
        ]);
        extract(&z, d.path()).unwrap();
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
            let e = extract(&z, d.path()).unwrap_err();
            assert_eq!(e.action(), action, "{bad}");
            assert!(!d.path().parent().unwrap().join("evil.js").exists());
        }
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            extract(&zip_of(&[("a.js", b"")]), d.path())
                .unwrap_err()
                .action(),
            "unzip_fail"
        );
        assert_eq!(
            extract(b"not a zip", d.path()).unwrap_err().action(),
            "unzip_fail"
        );
    }
}
