//! `bundle diff A B`: what a device running A downloads to get B, as the
//! whole zip and as a manifest (only the files it does not hold, Brotli where
//! it pays). Local only: A and B are web build folders or bundle zips.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;

use serde_json::json;
use updraft_core::archive::{build_zip, FileEntry};
use updraft_core::manifest::{manifest_files, to_download, ManifestFile};

use crate::error::{CliError, CliResult};
use crate::output::{size, table};
use crate::Ctx;

/// Most bytes a bundle zip may unpack to here (as the device core allows).
const MAX_UNZIPPED_BYTES: u64 = 1 << 30;
/// Most entries a bundle zip may hold here.
const MAX_ENTRIES: usize = 50_000;

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
        .map(|f| {
            json!({
                "file_name": f.file_name(),
                "status": status(f),
                "size": f.size,
                "download_bytes": f.body.len(),
                "brotli": f.brotli,
            })
        })
        .collect();
    ctx.out.result(
        || {
            let rows: Vec<Vec<String>> = fetch
                .iter()
                .map(|f| {
                    vec![
                        f.file_name(),
                        status(f).to_string(),
                        size(f.size),
                        size(f.body.len() as u64),
                    ]
                })
                .collect();
            let mut text = format!(
                "{} -> {}: {changed} changed, {added} added, {} removed, {unchanged} unchanged\n\
                 as zip       {}\n\
                 as manifest  {} in {} of {} files ({:.1} % of the zip; every file: {})\n",
                from.display(),
                to.display(),
                removed.len(),
                size(zip_bytes),
                size(delta_bytes),
                fetch.len(),
                manifest.len(),
                pct(delta_bytes),
                size(full_bytes),
            );
            if !rows.is_empty() {
                text.push('\n');
                text.push_str(&table(&["FILE", "STATUS", "SIZE", "DOWNLOAD"], &rows));
            }
            text
        },
        json!({
            "from": from,
            "to": to,
            "files": manifest.len(),
            "changed": changed,
            "added": added,
            "removed": removed,
            "unchanged": unchanged,
            "zip_bytes": zip_bytes,
            "manifest_bytes": delta_bytes,
            "manifest_all_files_bytes": full_bytes,
            "download": files_json,
        }),
    );
    Ok(())
}

/// A bundle's files, from a web build folder or a bundle zip (with the zip's
/// own size).
fn read_bundle(path: &Path) -> CliResult<(Vec<FileEntry>, Option<u64>)> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io("cannot read", path, &e))?;
    if meta.is_dir() {
        return Ok((crate::files::read_web_dir(path)?, None));
    }
    let file = std::fs::File::open(path).map_err(|e| CliError::io("cannot read", path, &e))?;
    let bad = |why: String| {
        CliError::fail("invalid_bundle", format!("{}: {why}", path.display()))
            .hint("give a web build folder or a bundle zip")
    };
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(format!("not a zip: {e}")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(bad(format!("more than {MAX_ENTRIES} entries")));
    }
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    let layout = updraft_core::layout::check_layout(names.iter().map(String::as_str))
        .map_err(|e| bad(e.to_string()))?;
    let prefix = match layout {
        updraft_core::layout::Layout::Root => String::new(),
        updraft_core::layout::Layout::Folder(f) => format!("{f}/"),
    };
    let mut files = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let Some(rel) = entry.name().strip_prefix(prefix.as_str()) else {
            continue; // outside the web root (`__MACOSX/`, …): not installed
        };
        if entry.is_dir() || rel.is_empty() {
            continue;
        }
        let rel = rel.to_string();
        let mut data = Vec::new();
        let limit = MAX_UNZIPPED_BYTES - total;
        (&mut entry)
            .take(limit + 1)
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("{rel}: {e}")))?;
        total += data.len() as u64;
        if total > MAX_UNZIPPED_BYTES {
            return Err(bad(format!(
                "unpacks to more than {}",
                size(MAX_UNZIPPED_BYTES)
            )));
        }
        files.push(FileEntry { path: rel, data });
    }
    Ok((files, Some(meta.len())))
}
