//! A manifest installs exactly what its bundle's zip installs. For a plain
//! uploaded bundle the server checks it before keeping the manifest: the
//! same files as the zip's web root, each with the hash of the zip's file,
//! and each named stored file holding those bytes (Brotli-decoded for a
//! `.br` name). An encrypted bundle's zip and files are opaque to the server.

use std::collections::{BTreeSet, HashMap};

use futures::StreamExt;
use updraft_blob::Blobs;
use updraft_core::archive::{read_zip, ReadLimits};
use updraft_core::crypto::sha256_hex;
use updraft_core::manifest::{brotli_decompress, BROTLI_SUFFIX};
use updraft_protocol::api::{Bundle, ManifestEntry};
use updraft_store::stored_file;

use crate::error::{ApiError, ApiResult};

/// A stored file's bytes, refusing one larger than `limit`.
pub(crate) async fn read_all(blobs: &Blobs, sha256: &str, limit: u64) -> ApiResult<Vec<u8>> {
    let mut stream = blobs.get(sha256, None).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
        if out.len() as u64 > limit {
            return Err(ApiError::too_large(limit));
        }
    }
    Ok(out)
}

fn mismatch(message: String) -> ApiError {
    ApiError::bad_request("manifest_mismatch", message)
}

/// Checks `entries` against `bundle`'s zip (see the module docs); files are
/// read up to `limit` bytes each.
pub(crate) async fn check(
    blobs: &Blobs,
    bundle: &Bundle,
    entries: &[ManifestEntry],
    limit: u64,
) -> ApiResult<()> {
    let Some(zip_sha) = bundle.blob_sha256.as_deref() else {
        return Ok(());
    };
    if !bundle.session_key.is_empty() {
        return Ok(());
    }
    let zip = read_all(blobs, zip_sha, limit).await?;
    let files = tokio::task::spawn_blocking(move || {
        read_zip(&zip, ReadLimits::default()).map(|files| {
            files
                .into_iter()
                .map(|f| (f.path, sha256_hex(&f.data)))
                .collect::<HashMap<String, String>>()
        })
    })
    .await
    .map_err(|e| ApiError::internal("zip read task", e))?
    .map_err(|e| ApiError::internal("reading the bundle's own zip", e))?;
    let mut listed = BTreeSet::new();
    for e in entries {
        let target = e
            .file_name
            .strip_suffix(BROTLI_SUFFIX)
            .unwrap_or(&e.file_name);
        match files.get(target) {
            None => {
                return Err(mismatch(format!(
                    "manifest entry {} is not a file of bundle {}'s zip",
                    e.file_name, bundle.version
                )))
            }
            Some(h) if *h != e.file_hash => {
                return Err(mismatch(format!(
                    "manifest entry {} has hash {}, the zip's file has {h}",
                    e.file_name, e.file_hash
                )))
            }
            Some(_) => {}
        }
        listed.insert(target);
    }
    let mut unlisted: Vec<&String> = files
        .keys()
        .filter(|p| !listed.contains(p.as_str()))
        .collect();
    unlisted.sort();
    if let Some(p) = unlisted.first() {
        return Err(mismatch(format!(
            "the manifest does not list {p}, which bundle {}'s zip holds ({} files unlisted)",
            bundle.version,
            unlisted.len()
        )));
    }
    // Each distinct (stored file, encoding) once.
    let mut checked = BTreeSet::new();
    for e in entries {
        let Some(sha) = stored_file(e) else { continue };
        let brotli = e.file_name.ends_with(BROTLI_SUFFIX);
        if !checked.insert((sha, brotli, e.file_hash.as_str())) {
            continue;
        }
        let bytes = read_all(blobs, sha, limit).await?;
        let plain = if brotli {
            tokio::task::spawn_blocking(move || brotli_decompress(&bytes, limit))
                .await
                .map_err(|e| ApiError::internal("brotli task", e))?
                .map_err(|err| {
                    mismatch(format!(
                        "manifest entry {} names {sha}, which is not a Brotli stream within the size limit: {err}",
                        e.file_name
                    ))
                })?
        } else {
            bytes
        };
        let got = sha256_hex(&plain);
        if got != e.file_hash {
            return Err(mismatch(format!(
                "manifest entry {} names {sha}, whose {} hash to {got}, not {}",
                e.file_name,
                if brotli { "decoded bytes" } else { "bytes" },
                e.file_hash
            )));
        }
    }
    Ok(())
}
