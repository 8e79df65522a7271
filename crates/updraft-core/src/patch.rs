//! Byte-level patches from a file a device already holds to the file it
//! needs: zstd with the old file as a reference prefix (what `zstd
//! --patch-from` does), at level 19 with long-distance matching and a window
//! covering both files.
//!
//! Chosen by measurement over bsdiff on real releases (bench/README.md,
//! "Delta updates"): smaller patches on every changed file measured, a
//! decoder that streams at zstd speed, and one well-kept crate for both
//! sides.
//!
//! Which old file a new one is patched from ([`pair_sources`]): the file at
//! the same path, or else — for builds that put a content hash in their
//! file names (`assets/index-3f2a9c1b.js`) — the file in the same folder
//! whose name is the same once the hash is taken out, the closest in size.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};

/// The only patch format, as devices announce it.
pub const FORMAT: &str = "zstd";

/// zstd's level for patches: slow to build (once per pair, cached), small.
const LEVEL: i32 = 19;

/// The largest window a patch may use (128 MiB): a device refuses more.
const MAX_WINDOW_LOG: u32 = 27;

/// Files larger than this (either side) are not patched.
pub const MAX_PATCH_INPUT: usize = 1 << 26;

fn window_log(old: usize, new: usize) -> u32 {
    let need = old.saturating_add(new).max(1 << 10).next_power_of_two();
    need.trailing_zeros().clamp(10, MAX_WINDOW_LOG)
}

/// A patch that rebuilds `new` from `old`, or `None` when either file is
/// larger than [`MAX_PATCH_INPUT`].
pub fn make_patch(old: &[u8], new: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    use zstd::stream::raw::CParameter;
    if old.len() > MAX_PATCH_INPUT || new.len() > MAX_PATCH_INPUT {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(new.len() / 8 + 64);
    {
        let mut enc = zstd::stream::write::Encoder::with_ref_prefix(&mut out, LEVEL, old)?;
        enc.set_parameter(CParameter::WindowLog(window_log(old.len(), new.len())))?;
        enc.set_parameter(CParameter::EnableLongDistanceMatching(true))?;
        enc.set_parameter(CParameter::ContentSizeFlag(true))?;
        enc.set_pledged_src_size(Some(new.len() as u64))?;
        enc.write_all(new)?;
        enc.finish()?;
    }
    Ok(Some(out))
}

/// Rebuilds a file from `old` and `patch`, refusing a result longer than
/// `limit` bytes. A damaged patch fails here or yields bytes whose hash the
/// caller then refuses.
pub fn apply_patch(old: &[u8], patch: &[u8], limit: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    apply_patch_into(old, patch, &mut out, limit)?;
    Ok(out)
}

/// [`apply_patch`] streaming: the patch is read from `patch` and the file
/// written to `out` as it is rebuilt (memory: `old` and zstd's window);
/// returns its length. Past `limit` bytes it fails, having written at most
/// `limit` of them.
pub fn apply_patch_into(
    old: &[u8],
    patch: impl std::io::Read,
    out: &mut impl std::io::Write,
    limit: u64,
) -> std::io::Result<u64> {
    use zstd::stream::raw::DParameter;
    let mut dec =
        zstd::stream::read::Decoder::with_ref_prefix(std::io::BufReader::new(patch), old)?;
    // No larger window than the server makes for these sizes: a patch
    // without a content size cannot make the decoder allocate more.
    let largest = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .min(MAX_PATCH_INPUT);
    dec.set_parameter(DParameter::WindowLogMax(window_log(old.len(), largest)))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = dec.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        if total > limit {
            return Err(std::io::Error::other(format!(
                "the patch rebuilds more than {limit} bytes"
            )));
        }
        out.write_all(&buf[..n])?;
    }
}

/// A file of a build, as pairing sees it.
#[derive(Debug, Clone, Copy)]
pub struct PatchFile<'a> {
    /// Path in the bundle.
    pub path: &'a str,
    /// SHA-256 of its content.
    pub hash: &'a str,
    /// Its size.
    pub size: u64,
}

/// A file name without a content hash: `index-3f2a9c1b.js` → `index-*.js`,
/// `app.3f2a9c1b.css` → `app.*.css`, `chunk-BZkq1x_8.js` → `chunk-*.js`.
/// A segment counts as a hash when it is at least 6 characters of letters,
/// digits, `_` or `-` with at least one digit, after a `-` or `.`.
pub fn without_hash(path: &str) -> String {
    let (dir, name) = match path.rsplit_once('/') {
        Some((d, n)) => (Some(d), n),
        None => (None, path),
    };
    let (stem, ext) = match name.find('.') {
        Some(0) | None => (name, ""),
        Some(i) => (&name[..i], &name[i..]),
    };
    // `name.3f2a9c1b.css`: the hash is the second dotted part.
    let mut parts: Vec<&str> = ext.split('.').collect();
    let mut stem = stem.to_string();
    if let Some(i) = parts.iter().position(|p| looks_like_hash(p)) {
        if i + 1 < parts.len() {
            parts[i] = "*";
        }
    }
    // `index-BZkq1x_8`: the hash may hold a `_`, so the last `-` is tried first.
    if let Some(at) = [stem.rfind('-'), stem.rfind('_')]
        .into_iter()
        .flatten()
        .find(|&at| looks_like_hash(&stem[at + 1..]))
    {
        stem.replace_range(at + 1.., "*");
    }
    let name = format!("{stem}{}", parts.join("."));
    match dir {
        Some(d) => format!("{d}/{name}"),
        None => name,
    }
}

fn looks_like_hash(s: &str) -> bool {
    s.len() >= 6
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && s.bytes().any(|b| b.is_ascii_digit())
}

/// For each file of `target` that a device holding `source` lacks (no file
/// of `source` has its hash), the file of `source` to patch it from (see the
/// module docs): pairs of indexes into `target` and `source`.
pub fn pair_sources(target: &[PatchFile<'_>], source: &[PatchFile<'_>]) -> Vec<(usize, usize)> {
    let held: std::collections::HashSet<&str> = source.iter().map(|f| f.hash).collect();
    let by_path: HashMap<&str, usize> = source
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path, i))
        .collect();
    let mut by_shape: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, f) in source.iter().enumerate() {
        by_shape.entry(without_hash(f.path)).or_default().push(i);
    }
    let mut out = Vec::new();
    for (t, f) in target.iter().enumerate() {
        if held.contains(f.hash) || f.size > MAX_PATCH_INPUT as u64 {
            continue;
        }
        let from = by_path.get(f.path).copied().or_else(|| {
            by_shape.get(&without_hash(f.path)).and_then(|c| {
                c.iter()
                    .copied()
                    .min_by_key(|&i| source[i].size.abs_diff(f.size))
            })
        });
        if let Some(s) = from.filter(|&s| source[s].size <= MAX_PATCH_INPUT as u64) {
            out.push((t, s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(n: u32) -> Vec<u8> {
        let mut s = String::new();
        for i in 0..4_000u32 {
            s.push_str(&format!(
                "export function f{i}(x) {{ return x * {}; }}\n",
                i % 97
            ));
        }
        s.push_str(&format!("export const version = '{n}';\n"));
        s.into_bytes()
    }

    #[test]
    fn a_patch_rebuilds_the_new_file_and_is_far_smaller_than_it() {
        let (old, new) = (release(1), release(2));
        let patch = make_patch(&old, &new).unwrap().unwrap();
        assert!(patch.len() < 200, "{} bytes", patch.len());
        assert_eq!(apply_patch(&old, &patch, 1 << 30).unwrap(), new);
        // From nothing, it is a plain zstd stream of the file.
        let whole = make_patch(b"", &new).unwrap().unwrap();
        assert_eq!(apply_patch(b"", &whole, 1 << 30).unwrap(), new);
    }

    #[test]
    fn a_patch_applied_to_another_file_or_damaged_or_too_long_fails_or_differs() {
        let (old, new) = (release(1), release(2));
        let patch = make_patch(&old, &new).unwrap().unwrap();
        let other = old.to_ascii_uppercase();
        assert!(apply_patch(&other, &patch, 1 << 30).map_or(true, |out| out != new));
        let mut bad = patch.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x5a;
        assert!(apply_patch(&old, &bad, 1 << 30).map_or(true, |out| out != new));
        assert!(apply_patch(&old, &patch, 100).is_err());
        assert!(apply_patch(&old, b"not a patch", 1 << 30).is_err());
    }

    #[test]
    fn hashed_names_pair_with_their_previous_build() {
        for (a, b) in [
            ("assets/index-3f2a9c1b.js", "assets/index-*.js"),
            ("assets/index-BZkq1x_8.js", "assets/index-*.js"),
            ("css/app.3f2a9c1b.css", "css/app.*.css"),
            ("main.4f6a1c.chunk.js", "main.*.chunk.js"),
            ("index.html", "index.html"),
            ("assets/logo.svg", "assets/logo.svg"),
            ("assets/vendor-react.js", "assets/vendor-react.js"),
        ] {
            assert_eq!(without_hash(a), b, "{a}");
        }
        let f = |path, hash, size| PatchFile { path, hash, size };
        let source = [
            f("index.html", "h1", 500),
            f("assets/index-aaaa1111.js", "h2", 90_000),
            f("assets/index-bbbb2222.css", "h3", 9_000),
            f("assets/same.js", "h4", 100),
        ];
        let target = [
            f("index.html", "h5", 510),
            f("assets/index-cccc3333.js", "h6", 91_000),
            f("assets/index-dddd4444.css", "h7", 9_100),
            f("assets/moved.js", "h4", 100),
            f("assets/new.js", "h8", 10),
        ];
        assert_eq!(pair_sources(&target, &source), vec![(0, 0), (1, 1), (2, 2)]);
    }
}
