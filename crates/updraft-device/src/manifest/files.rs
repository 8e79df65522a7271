//! One fetched manifest file: decrypted, Brotli-decoded, verified and
//! written into the bundle; and the small file helpers of a
//! manifest download.

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};
use updraft_core::crypto::SessionKey;

use super::{base_name, Fail, FileFail, Planned, Tally};
use crate::{verify, Device, DeviceError};

impl Device {
    /// Fetches one file, decodes and verifies it into `dest` (the cache gets
    /// a copy once the whole bundle is in place).
    pub(super) async fn fetch_one(
        &self,
        p: &Planned,
        dest: &Path,
        session: Option<&SessionKey>,
        tally: &Tally,
    ) -> std::result::Result<(), Fail> {
        // What is sent for a file is at most the file plus AES padding, or
        // a Brotli stream smaller than it: what the bundle may still unpack
        // to, with room for padding, bounds the transfer.
        let url = &p.item.download_url;
        let cap = tally.left.load(Ordering::Relaxed).saturating_add(64);
        let fetched = self.fetch_into(url, self.part_path(url), Some(cap)).await;
        let part = fetched.map_err(|e| {
            Fail::File(FileFail::new(
                "download_manifest_file_fail",
                &p.item,
                e.to_string(),
            ))
        })?;
        let sent = std::fs::metadata(&part).map_or(0, |m| m.len());
        tally.fetched.fetch_add(1, Ordering::Relaxed);
        tally.fetched_bytes.fetch_add(sent, Ordering::Relaxed);
        let left = tally.left.load(Ordering::Relaxed);
        let (p2, dest2, sk) = (p.clone(), dest.to_path_buf(), session.cloned());
        let part2 = part.clone();
        let written =
            tokio::task::spawn_blocking(move || decode(&part2, &dest2, &p2, sk.as_ref(), left))
                .await
                .map_err(|e| DeviceError::failed("download_fail", e.to_string()))?;
        let _ = std::fs::remove_file(&part);
        let len = written?;
        take(&tally.left, len).map_err(|m| DeviceError::failed("download_fail", m))?;
        tally
            .fresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((p.target.clone(), p.hash.clone()));
        Ok(())
    }
}

/// Creates the folder of `p`'s file in `tmp`; the file's path.
pub(super) fn make_parent(tmp: &Path, p: &Planned) -> std::result::Result<PathBuf, Fail> {
    let dest = tmp.join(&p.target);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(DeviceError::from)?;
    }
    Ok(dest)
}

/// Copies a file the device holds into the bundle, counting its bytes.
pub(super) fn copy_counted(
    src: &Path,
    dest: &Path,
    budget: &AtomicU64,
) -> std::result::Result<(), Fail> {
    let len = std::fs::copy(src, dest).map_err(DeviceError::from)?;
    take(budget, len).map_err(|m| DeviceError::failed("download_fail", m).into())
}

/// Takes `len` bytes from what the bundle may still unpack to.
pub(super) fn take(budget: &AtomicU64, len: u64) -> std::result::Result<(), String> {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(len)
        })
        .map(|_| ())
        .map_err(|_| "the bundle unpacks to more than the device allows".to_string())
}

/// Decrypts (`sk`), Brotli-decodes (a `.br` name) and hashes `part` into
/// `dest`, refusing output past `limit` bytes; the bytes written. Blocking.
fn decode(
    part: &Path,
    dest: &Path,
    p: &Planned,
    sk: Option<&SessionKey>,
    limit: u64,
) -> std::result::Result<u64, Fail> {
    let fail = |action, m: String| Fail::File(FileFail::new(action, &p.item, m));
    let plain = match sk {
        Some(sk) => {
            let out = part.with_extension("plain");
            // Android reports a file that does not decrypt as a failed file.
            verify::decrypt_file(part, &out, sk)
                .map_err(|e| fail("download_manifest_file_fail", e.to_string()))?;
            out
        }
        None => part.to_path_buf(),
    };
    let res = copy_hashed(&plain, dest, p.brotli, limit);
    if sk.is_some() {
        let _ = std::fs::remove_file(&plain);
    }
    let (len, hash) = res.map_err(|(brotli, e)| {
        let action = if brotli {
            "download_manifest_brotli_fail"
        } else {
            "download_manifest_file_fail"
        };
        fail(action, e.to_string())
    })?;
    if hash != p.hash {
        let _ = std::fs::remove_file(dest);
        return Err(fail(
            "download_manifest_checksum_fail",
            format!("{} hashes to {hash}, expected {}", p.target, p.hash),
        ));
    }
    Ok(len)
}

/// Copies `src` to `dest` (Brotli-decoding it when `brotli`), at most
/// `limit` bytes; the length and SHA-256 written. An error says whether the
/// Brotli stream was at fault.
fn copy_hashed(
    src: &Path,
    dest: &Path,
    brotli: bool,
    limit: u64,
) -> std::result::Result<(u64, String), (bool, std::io::Error)> {
    let input = std::fs::File::open(src).map_err(|e| (false, e))?;
    let mut reader: Box<dyn std::io::Read> = if brotli {
        Box::new(brotli_decoder(input))
    } else {
        Box::new(input)
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(dest).map_err(|e| (false, e))?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| (brotli, e))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err((
                false,
                std::io::Error::other("the bundle unpacks to more than the device allows"),
            ));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| (false, e))?;
    }
    out.into_inner()
        .map_err(|e| (false, e.into_error()))?
        .sync_all()
        .map_err(|e| (false, e))?;
    Ok((total, hex::encode(hasher.finalize())))
}

fn brotli_decoder(input: std::fs::File) -> impl std::io::Read {
    updraft_core::manifest::brotli_reader(input)
}

/// Copies the files fetched for a bundle now in `bundle` into the cache
/// (`fresh`: their paths and hashes), then keeps in the cache only the files
/// of this manifest.
pub(super) fn update_cache(
    cache: &Path,
    bundle: &Path,
    fresh: &[(String, String)],
    planned: &[Planned],
) {
    for (target, hash) in fresh {
        let keep = cache.join(format!("{hash}_{}", base_name(target)));
        if !keep.exists() {
            let _ = std::fs::copy(bundle.join(target), &keep);
        }
    }
    let keep: HashSet<String> = planned
        .iter()
        .map(|p| format!("{}_{}", p.hash, base_name(&p.target)))
        .collect();
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        if !keep.contains(e.file_name().to_string_lossy().as_ref()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
