//! A bundle as the plugin's manifest (delta) mode delivers it: one entry per
//! file, each sent alone, so a device downloads only the files it does not
//! already hold.
//!
//! The rules are the plugin's (reference: plugin-protocol §1.7, §4.3, §4.5;
//! capgo-cli §4.6):
//!
//! - an entry's `file_hash` is the SHA-256 of the file as it will sit on the
//!   device (plain, uncompressed);
//! - a `file_name` ending in `.br` is a Brotli stream that the device decodes
//!   and stores without the suffix. A file is sent compressed when it is at
//!   least [`BROTLI_MIN_BYTES`] and its stream is more than 10 bytes smaller,
//!   as Capgo's CLI decides; a format compressed already (an image, a font,
//!   media, an archive: [`ALREADY_COMPRESSED`]) is not tried. A file whose own name ends in `.br` is always
//!   sent compressed (`x.br.br`): sent as is, the device would decode it;
//! - before downloading an entry, the device looks for a file it holds with
//!   the same hash: its builtin assets at the same path, and files it
//!   downloaded before under `<hash>_<base name>` ([`to_download`]).

use std::collections::{BTreeSet, HashSet};
use std::io::Write as _;

use crate::archive::FileEntry;
use crate::crypto::sha256_hex;
use crate::layout::{check_entry_name, LayoutError};

/// Files smaller than this are sent as they are (Capgo's CLI threshold).
pub const BROTLI_MIN_BYTES: usize = 8192;

/// Extensions of formats that are compressed already (images, fonts, media,
/// archives): Brotli at quality 11 would spend seconds on such a file to
/// save nothing, so they are sent as they are.
pub const ALREADY_COMPRESSED: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "woff", "woff2", "mp3", "mp4", "m4a",
    "aac", "ogg", "oga", "opus", "webm", "mov", "zip", "gz", "tgz", "zst", "7z", "xz", "bz2",
];

/// Whether `path` names a format that is compressed already.
pub fn already_compressed(path: &str) -> bool {
    base_name(path).rsplit_once('.').is_some_and(|(_, ext)| {
        ALREADY_COMPRESSED
            .iter()
            .any(|e| ext.eq_ignore_ascii_case(e))
    })
}

/// The suffix that tells the device an entry is a Brotli stream.
pub const BROTLI_SUFFIX: &str = ".br";

/// Brotli's best quality and a 4 MiB window: the defaults of Node's
/// `brotliCompressSync`, which Capgo's CLI uses.
const QUALITY: u32 = 11;
const WINDOW_BITS: u32 = 22;

/// One file of a manifest bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// Path in the bundle, `/`-separated, as the device stores it.
    pub path: String,
    /// Lower-case hex SHA-256 of the file as stored on the device.
    pub hash: String,
    /// The file's size as stored on the device.
    pub size: u64,
    /// Whether [`body`](Self::body) is a Brotli stream of the file.
    pub brotli: bool,
    /// The bytes sent for this entry: the file, or its Brotli stream.
    pub body: Vec<u8>,
}

impl ManifestFile {
    /// The entry's `file_name`: the path, with `.br` when it is sent compressed.
    pub fn file_name(&self) -> String {
        if self.brotli {
            format!("{}{BROTLI_SUFFIX}", self.path)
        } else {
            self.path.clone()
        }
    }

    /// The file's base name (what the device's download cache keys it by, with the hash).
    pub fn base_name(&self) -> &str {
        base_name(&self.path)
    }
}

/// Why a build cannot be sent as a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A path breaks the bundle layout rules.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Two files have this path.
    #[error("{0} appears twice")]
    Duplicate(String),
    /// Brotli could not encode a file (an I/O error on a memory buffer: not expected).
    #[error("cannot compress {0}: {1}")]
    Compress(String, String),
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Compresses `data` as Capgo's CLI does (quality 11, window 22).
pub fn brotli_compress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, QUALITY, WINDOW_BITS);
        w.write_all(data)?;
        w.flush()?;
    }
    Ok(out)
}

/// A reader that decodes the Brotli stream `input`.
pub fn brotli_reader<R: std::io::Read>(input: R) -> impl std::io::Read {
    brotli::Decompressor::new(input, 64 * 1024)
}

/// Decodes a Brotli stream, refusing one that decodes to more than `limit` bytes.
pub fn brotli_decompress(data: &[u8], limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 64 * 1024)
        .take(limit + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "decodes to more than {limit} bytes"
        )));
    }
    Ok(out)
}

/// The manifest of a web build: one entry per file (empty files included:
/// they are part of the build), in path order.
pub fn manifest_files(files: &[FileEntry]) -> Result<Vec<ManifestFile>, ManifestError> {
    let mut seen = BTreeSet::new();
    for f in files {
        check_entry_name(&f.path)?;
        if f.path.ends_with('/') || !seen.insert(f.path.as_str()) {
            return Err(ManifestError::Duplicate(f.path.clone()));
        }
    }
    let mut out: Vec<ManifestFile> = files
        .iter()
        .map(|f| {
            let own_suffix = f.path.ends_with(BROTLI_SUFFIX);
            let worth_trying = f.data.len() >= BROTLI_MIN_BYTES && !already_compressed(&f.path);
            let compressed = if own_suffix || worth_trying {
                Some(
                    brotli_compress(&f.data)
                        .map_err(|e| ManifestError::Compress(f.path.clone(), e.to_string()))?,
                )
            } else {
                None
            };
            let (brotli, body) = match compressed {
                Some(c) if own_suffix || c.len() + 10 < f.data.len() => (true, c),
                _ => (false, f.data.clone()),
            };
            Ok(ManifestFile {
                path: f.path.clone(),
                hash: sha256_hex(&f.data),
                size: f.data.len() as u64,
                brotli,
                body,
            })
        })
        .collect::<Result<_, ManifestError>>()?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The entries of `want` a device must download when it holds the files
/// `have` (path and hash each): those for which it holds no file with the
/// same hash and the same base name: what a device that installed `have`
/// through a manifest downloads (its download cache keys files by hash and
/// base name). A device on its builtin bundle may download more: the
/// plugin reuses a builtin asset only at the entry's own path (and, as its
/// code reads, under the entry's `file_name`, where a Brotli entry's `.br`
/// never matches an asset).
pub fn to_download<'a>(
    have: &[(String, String)],
    want: &'a [ManifestFile],
) -> Vec<&'a ManifestFile> {
    let held: HashSet<(&str, &str)> = have
        .iter()
        .map(|(path, hash)| (hash.as_str(), base_name(path)))
        .collect();
    want.iter()
        .filter(|f| !held.contains(&(f.hash.as_str(), f.base_name())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn file(path: &str, data: &[u8]) -> FileEntry {
        FileEntry {
            path: path.into(),
            data: data.to_vec(),
        }
    }

    fn decode(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn large_compressible_files_are_sent_as_brotli_and_small_ones_as_they_are() {
        let js = "export const answer = 42;\n".repeat(1_000);
        // xorshift64: bytes Brotli cannot shrink.
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let random: Vec<u8> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect();
        let m = manifest_files(&[
            file("index.html", b"<html></html>"),
            file("js/app.js", js.as_bytes()),
            file("img/noise.bin", &random),
            file("empty.css", b""),
            // Compressible bytes, but the name says an image: not tried.
            file("img/logo.PNG", js.as_bytes()),
        ])
        .unwrap();
        let names: Vec<String> = m.iter().map(ManifestFile::file_name).collect();
        assert_eq!(
            names,
            [
                "empty.css",
                "img/logo.PNG",
                "img/noise.bin",
                "index.html",
                "js/app.js.br"
            ],
            "sorted by path; only the compressible large file gets .br"
        );
        let app = &m[4];
        assert!(app.body.len() < js.len() / 10, "{} bytes", app.body.len());
        assert_eq!(
            decode(&app.body),
            js.as_bytes(),
            "the stream decodes to the file"
        );
        assert_eq!(
            app.hash,
            sha256_hex(js.as_bytes()),
            "hash of the plain file"
        );
        assert_eq!(app.size, js.len() as u64);
        assert_eq!(m[2].body, random, "incompressible: sent as is");
        assert!(!m[1].brotli, "an image is not tried");
        assert_eq!(m[0].hash, sha256_hex(b""), "empty files are listed");
    }

    #[test]
    fn a_file_named_br_is_always_compressed_so_the_device_keeps_its_name() {
        let m = manifest_files(&[file("fonts/a.woff2.br", b"tiny")]).unwrap();
        assert_eq!(m[0].file_name(), "fonts/a.woff2.br.br");
        assert_eq!(decode(&m[0].body), b"tiny");
    }

    #[test]
    fn unsafe_or_duplicate_paths_are_refused() {
        for bad in ["../x.js", "/abs.js", "a\\b.js", "a/../../b"] {
            assert!(
                matches!(
                    manifest_files(&[file(bad, b"x")]),
                    Err(ManifestError::Layout(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            manifest_files(&[file("a.js", b"1"), file("a.js", b"2")]),
            Err(ManifestError::Duplicate(_))
        ));
    }

    #[test]
    fn a_device_downloads_only_files_it_holds_under_no_matching_hash_and_name() {
        let m = manifest_files(&[
            file("index.html", b"<html>v2</html>"),
            file("js/vendor.js", b"vendor"),
            file("js/moved.js", b"moved"),
            file("js/renamed.js", b"same bytes"),
        ])
        .unwrap();
        let have = vec![
            ("index.html".to_string(), sha256_hex(b"<html>v1</html>")),
            ("js/vendor.js".to_string(), sha256_hex(b"vendor")),
            ("old/moved.js".to_string(), sha256_hex(b"moved")),
            ("js/old-name.js".to_string(), sha256_hex(b"same bytes")),
        ];
        let paths: Vec<&str> = to_download(&have, &m)
            .into_iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(
            paths,
            ["index.html", "js/renamed.js"],
            "changed content and a new base name are downloaded; same bytes under the same base name in another folder are not"
        );
    }
}
