//! The bundle zip, written the way the plugin unzips it (reference/capgo-cli.md
//! §2.1) and reproducibly: the same files give the same bytes, so the same build
//! gives the same checksum.
//!
//! Entries are sorted (case-insensitively, then bytewise, as adm-zip sorts them),
//! carry a fixed timestamp (1980-01-01 00:00, the zip epoch) and fixed Unix modes,
//! use `/` separators and UTF-8 names, and have explicit directory entries.
//! Non-empty files are deflated, empty files and directories stored; no data
//! descriptors (Android's `ZipInputStream` dislikes them on stored entries).

use std::collections::BTreeSet;
use std::io::Write as _;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::layout::{check_entry_name, check_layout, Layout, LayoutError};

/// One file of a web build: its path relative to the web root (`/`-separated)
/// and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the web root, `/`-separated.
    pub path: String,
    /// The file's bytes.
    pub data: Vec<u8>,
}

/// Why a bundle cannot be zipped.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// An entry name breaks the zip layout rules.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Two files have this path.
    #[error("{0} appears twice")]
    Duplicate(String),
    /// The zip writer failed.
    #[error("zip: {0}")]
    Zip(String),
}

fn sort_key(name: &str) -> (String, String) {
    (name.to_lowercase(), name.to_string())
}

/// Builds the bundle zip. The files must hold `index.html` at their root.
pub fn build_zip(files: &[FileEntry]) -> Result<Vec<u8>, ArchiveError> {
    let mut seen = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    for f in files {
        check_entry_name(&f.path)?;
        if f.path.ends_with('/') || !seen.insert(f.path.as_str()) {
            return Err(ArchiveError::Duplicate(f.path.clone()));
        }
        let mut prefix = String::new();
        let segments: Vec<&str> = f.path.split('/').collect();
        for seg in &segments[..segments.len() - 1] {
            prefix.push_str(seg);
            prefix.push('/');
            dirs.insert(prefix.clone());
        }
    }
    if check_layout(files.iter().map(|f| f.path.as_str()))? != Layout::Root {
        return Err(LayoutError::NoIndexHtml.into());
    }

    enum Item<'a> {
        Dir(&'a str),
        File(&'a FileEntry),
    }
    let mut items: Vec<(_, Item)> = dirs
        .iter()
        .map(|d| (sort_key(d), Item::Dir(d.as_str())))
        .chain(files.iter().map(|f| (sort_key(&f.path), Item::File(f))))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));

    let zip_err = |e: zip::result::ZipError| ArchiveError::Zip(e.to_string());
    let base = SimpleFileOptions::default().last_modified_time(DateTime::default());
    let mut w = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (_, item) in items {
        match item {
            Item::Dir(d) => w
                .add_directory(
                    d,
                    base.compression_method(CompressionMethod::Stored)
                        .unix_permissions(0o755),
                )
                .map_err(zip_err)?,
            Item::File(f) => {
                let method = if f.data.is_empty() {
                    CompressionMethod::Stored
                } else {
                    CompressionMethod::Deflated
                };
                w.start_file(
                    f.path.as_str(),
                    base.compression_method(method).unix_permissions(0o644),
                )
                .map_err(zip_err)?;
                w.write_all(&f.data)
                    .map_err(|e| ArchiveError::Zip(e.to_string()))?;
            }
        }
    }
    Ok(w.finish().map_err(zip_err)?.into_inner())
}

/// Bounds on reading a zip into memory.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Most bytes all files may unpack to together.
    pub max_total_bytes: u64,
    /// Most entries (files and folders) the zip may hold.
    pub max_entries: usize,
}

impl Default for ReadLimits {
    /// 1 GiB and 50,000 entries, as the device core unpacks.
    fn default() -> Self {
        Self {
            max_total_bytes: 1 << 30,
            max_entries: 50_000,
        }
    }
}

/// The files of a bundle zip as a device installs them: paths relative to
/// the web root (the zip's root, or its one folder holding `index.html`),
/// folders and entries outside the web root left out, within `limits`.
pub fn read_zip(zip: &[u8], limits: ReadLimits) -> Result<Vec<FileEntry>, ArchiveError> {
    use std::io::Read as _;
    let zip_err = |e: zip::result::ZipError| ArchiveError::Zip(e.to_string());
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(zip_err)?;
    if z.len() > limits.max_entries {
        return Err(ArchiveError::Zip(format!(
            "more than {} entries",
            limits.max_entries
        )));
    }
    let names: Vec<String> = z.file_names().map(str::to_string).collect();
    let prefix = match check_layout(names.iter().map(String::as_str))? {
        Layout::Root => String::new(),
        Layout::Folder(f) => format!("{f}/"),
    };
    let mut files = Vec::new();
    let mut total = 0u64;
    for i in 0..z.len() {
        let mut entry = z.by_index(i).map_err(zip_err)?;
        let Some(rel) = entry.name().strip_prefix(prefix.as_str()) else {
            continue; // outside the web root (`__MACOSX/`, ...): not installed
        };
        if entry.is_dir() || rel.is_empty() {
            continue;
        }
        let path = rel.to_string();
        let mut data = Vec::new();
        (&mut entry)
            .take(limits.max_total_bytes - total + 1)
            .read_to_end(&mut data)
            .map_err(|e| ArchiveError::Zip(format!("{path}: {e}")))?;
        total += data.len() as u64;
        if total > limits.max_total_bytes {
            return Err(ArchiveError::Zip(format!(
                "unpacks to more than {} bytes",
                limits.max_total_bytes
            )));
        }
        files.push(FileEntry { path, data });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, data: &[u8]) -> FileEntry {
        FileEntry {
            path: path.into(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn same_files_same_bytes_whatever_the_order() {
        let a = [
            entry("index.html", b"<html>"),
            entry("js/App.js", b"notifyAppReady()"),
            entry("js/a.js", b""),
            entry(".well-known/x", b"1"),
        ];
        let mut b = a.clone();
        b.reverse();
        let za = build_zip(&a).unwrap();
        assert_eq!(za, build_zip(&b).unwrap());

        let z = zip::ZipArchive::new(std::io::Cursor::new(za)).unwrap();
        let names: Vec<&str> = z.file_names().collect();
        let mut ordered = names.clone();
        ordered.sort_by_key(|n| sort_key(n));
        assert_eq!(names, ordered, "entries are written sorted");
        for d in [".well-known/", "js/"] {
            assert!(names.contains(&d), "explicit directory entry {d}");
        }
    }

    #[test]
    fn entries_are_deflated_or_stored_with_fixed_times() {
        let z = build_zip(&[
            entry("index.html", b"<html></html>"),
            entry("empty.txt", b""),
        ])
        .unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(z)).unwrap();
        let f = z.by_name("index.html").unwrap();
        assert_eq!(f.compression(), CompressionMethod::Deflated);
        assert_eq!(f.last_modified(), Some(DateTime::default()));
        drop(f);
        assert_eq!(
            z.by_name("empty.txt").unwrap().compression(),
            CompressionMethod::Stored
        );
    }

    #[test]
    fn refuses_unsafe_names_duplicates_and_no_index() {
        assert!(matches!(
            build_zip(&[entry("index.html", b""), entry("../x", b"")]),
            Err(ArchiveError::Layout(LayoutError::UnsafePath(_)))
        ));
        assert!(matches!(
            build_zip(&[entry("index.html", b""), entry("index.html", b"")]),
            Err(ArchiveError::Duplicate(_))
        ));
        assert!(matches!(
            build_zip(&[entry("dist/index.html", b"")]),
            Err(ArchiveError::Layout(LayoutError::NoIndexHtml))
        ));
    }

    #[test]
    fn read_zip_gives_the_files_a_device_installs_within_limits() {
        let files = [
            entry("index.html", b"<html>"),
            entry("js/app.js", &b"x".repeat(1000)),
            entry("empty.css", b""),
        ];
        let zip = build_zip(&files).unwrap();
        let mut got = read_zip(&zip, ReadLimits::default()).unwrap();
        got.sort_by(|a, b| a.path.cmp(&b.path));
        let mut want = files.to_vec();
        want.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(got, want, "folders left out, every file whole");
        let small = ReadLimits {
            max_total_bytes: 500,
            ..ReadLimits::default()
        };
        assert!(
            matches!(read_zip(&zip, small), Err(ArchiveError::Zip(m)) if m.contains("more than 500"))
        );
        let few = ReadLimits {
            max_entries: 2,
            ..ReadLimits::default()
        };
        assert!(read_zip(&zip, few).is_err());
        assert!(read_zip(b"not a zip", ReadLimits::default()).is_err());
    }
}
