//! `bundle diff A B`: what a device running A downloads to get B, as the
//! whole zip, as a manifest (only the files it does not hold, Brotli where
//! it pays), and as patches (each changed file patched from its previous
//! version when that is smaller, as `updraft-device` can fetch them), with
//! the time to build and to apply the patches. Local only: A and B are web
//! build folders or bundle zips.

use std::collections::HashMap;
use std::path::Path;

use serde_json::json;
use updraft_core::archive::{build_zip, read_zip, FileEntry, ReadLimits};
use updraft_core::manifest::{manifest_files, to_download, ManifestFile};
use updraft_core::patch::{apply_patch, make_patch, pair_sources, PatchFile};

use crate::error::{CliError, CliResult};
use crate::output::{size, table};
use crate::Ctx;

pub(crate) fn diff(ctx: &Ctx, from: &Path, to: &Path) -> CliResult<()> {
    let (old, _) = read_bundle(from)?;
    let (new, zip_bytes) = read_bundle(to)?;
    let zip_bytes = match zip_bytes {
        Some(n) => n,
        None => build_zip(&new)
            .map_err(|e| CliError::fail("zip_failed", format!("{}: {e}", to.display())))?
            .len() as u64,
    };
    let manifest = manifest_files(&new)
        .map_err(|e| CliError::fail("manifest_failed", format!("{}: {e}", to.display())))?;
    let have: Vec<(String, String)> = old
        .iter()
        .map(|f| (f.path.clone(), updraft_core::crypto::sha256_hex(&f.data)))
        .collect();
    let old_hash: HashMap<&str, &str> =
        have.iter().map(|(p, h)| (p.as_str(), h.as_str())).collect();
    let fetch = to_download(&have, &manifest);
    let delta_bytes: u64 = fetch.iter().map(|f| f.body.len() as u64).sum();
    let patches = patches(&old, &new, &fetch)?;
    let patch_bytes: u64 = fetch
        .iter()
        .zip(&patches.bytes)
        .map(|(f, p)| p.unwrap_or(f.body.len() as u64))
        .sum();
    let full_bytes: u64 = manifest.iter().map(|f| f.body.len() as u64).sum();
    let removed: Vec<&str> = {
        let kept: std::collections::HashSet<&str> =
            manifest.iter().map(|f| f.path.as_str()).collect();
        let mut r: Vec<&str> = old_hash
            .keys()
            .copied()
            .filter(|p| !kept.contains(p))
            .collect();
        r.sort_unstable();
        r
    };
    let status = |f: &ManifestFile| match old_hash.get(f.path.as_str()) {
        None => "added",
        Some(h) if *h == f.hash => "unchanged",
        Some(_) => "changed",
    };
    let count = |s: &str| manifest.iter().filter(|f| status(f) == s).count();
    let (added, changed, unchanged) = (count("added"), count("changed"), count("unchanged"));
    let pct = |n: u64| {
        if zip_bytes == 0 {
            0.0
        } else {
            n as f64 * 100.0 / zip_bytes as f64
        }
    };
    let files_json: Vec<_> = fetch
        .iter()
        .zip(&patches.bytes)
        .map(|(f, p)| {
            json!({
                "file_name": f.file_name(),
                "status": status(f),
                "size": f.size,
                "download_bytes": f.body.len(),
                "brotli": f.brotli,
                "patch_bytes": p,
            })
        })
        .collect();
    ctx.out.result(
        || {
            let rows: Vec<Vec<String>> = fetch
                .iter()
                .zip(&patches.bytes)
                .map(|(f, p)| {
                    vec![
                        f.file_name(),
                        status(f).to_string(),
                        size(f.size),
                        size(f.body.len() as u64),
                        p.map_or_else(|| "-".into(), size),
                    ]
                })
                .collect();
            let mut text = format!(
                "{} -> {}: {changed} changed, {added} added, {} removed, {unchanged} unchanged\n\
                 as zip       {}\n\
                 as manifest  {} in {} of {} files ({:.1} % of the zip; every file: {})\n\
                 as patches   {} ({:.1} % of the zip; {} patched files, built in {} ms, applied in {} ms)\n",
                from.display(),
                to.display(),
                removed.len(),
                size(zip_bytes),
                size(delta_bytes),
                fetch.len(),
                manifest.len(),
                pct(delta_bytes),
                size(full_bytes),
                size(patch_bytes),
                pct(patch_bytes),
                patches.bytes.iter().filter(|p| p.is_some()).count(),
                patches.build_ms,
                patches.apply_ms,
            );
            if !rows.is_empty() {
                text.push('\n');
                text.push_str(&table(&["FILE", "STATUS", "SIZE", "DOWNLOAD", "PATCH"], &rows));
            }
            text
        },
        json!({
            "from": from.display().to_string(),
            "to": to.display().to_string(),
            "files": manifest.len(),
            "changed": changed,
            "added": added,
            "removed": removed,
            "unchanged": unchanged,
            "zip_bytes": zip_bytes,
            "manifest_bytes": delta_bytes,
            "manifest_all_files_bytes": full_bytes,
            "patch_bytes": patch_bytes,
            "patch_build_ms": patches.build_ms,
            "patch_apply_ms": patches.apply_ms,
            "download": files_json,
        }),
    );
    Ok(())
}

/// The patches of a diff: for each file to download, the size of its patch
/// when one is smaller than the file as sent, and the time it took to build
/// them all and to apply them (checking each result's hash).
struct Patches {
    bytes: Vec<Option<u64>>,
    build_ms: u128,
    apply_ms: u128,
}

fn patches(old: &[FileEntry], new: &[FileEntry], fetch: &[&ManifestFile]) -> CliResult<Patches> {
    let data: HashMap<&str, &[u8]> = new
        .iter()
        .map(|f| (f.path.as_str(), f.data.as_slice()))
        .collect();
    let old_hashes: Vec<String> = old
        .iter()
        .map(|f| updraft_core::crypto::sha256_hex(&f.data))
        .collect();
    let source: Vec<PatchFile<'_>> = old
        .iter()
        .zip(&old_hashes)
        .map(|(f, h)| PatchFile {
            path: &f.path,
            hash: h,
            size: f.data.len() as u64,
        })
        .collect();
    let target: Vec<PatchFile<'_>> = fetch
        .iter()
        .map(|f| PatchFile {
            path: &f.path,
            hash: &f.hash,
            size: f.size,
        })
        .collect();
    let fail = |e: std::io::Error| CliError::fail("patch_failed", e.to_string());
    let mut bytes = vec![None; fetch.len()];
    let mut made = Vec::new();
    let started = std::time::Instant::now();
    for (t, s) in pair_sources(&target, &source) {
        let (from, to) = (&old[s].data, data[fetch[t].path.as_str()]);
        if let Some(p) = make_patch(from, to).map_err(fail)? {
            if (p.len() as u64) < fetch[t].body.len() as u64 {
                bytes[t] = Some(p.len() as u64);
                made.push((s, t, p));
            }
        }
    }
    let build_ms = started.elapsed().as_millis();
    let started = std::time::Instant::now();
    for (s, t, p) in &made {
        let out = apply_patch(&old[*s].data, p, fetch[*t].size).map_err(fail)?;
        if updraft_core::crypto::sha256_hex(&out) != fetch[*t].hash {
            return Err(CliError::fail(
                "patch_failed",
                format!("the patch of {} does not rebuild it", fetch[*t].path),
            ));
        }
    }
    Ok(Patches {
        bytes,
        build_ms,
        apply_ms: started.elapsed().as_millis(),
    })
}

/// A bundle's files, from a web build folder or a bundle zip (with the zip's
/// own size).
fn read_bundle(path: &Path) -> CliResult<(Vec<FileEntry>, Option<u64>)> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io("cannot read", path, &e))?;
    if meta.is_dir() {
        return Ok((crate::files::read_web_dir(path)?, None));
    }
    let bytes = std::fs::read(path).map_err(|e| CliError::io("cannot read", path, &e))?;
    let files = read_zip(&bytes, ReadLimits::default()).map_err(|e| {
        CliError::fail(
            "invalid_bundle",
            format!("{}: not a bundle zip: {e}", path.display()),
        )
        .hint("give a web build folder or a bundle zip")
    })?;
    Ok((files, Some(meta.len())))
}
