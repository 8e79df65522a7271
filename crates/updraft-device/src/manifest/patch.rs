//! Rebuilding a manifest file from a file the device holds and a fetched
//! byte-level patch; the caller falls back to the whole file on any failure.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use sha2::{Digest as _, Sha256};
use updraft_core::layout::check_entry_name;
use updraft_core::patch::MAX_PATCH_INPUT;
use updraft_protocol::device::FilePatchOffer;

use super::files::take;
use super::{holds, Planned, Tally};
use crate::Device;

/// Patches applied at once: each holds its source file in memory.
pub(super) const AT_ONCE: usize = 2;

/// A patch's source must be a plain relative path inside the bundle, as a
/// manifest's file names are.
fn check_source(name: &str) -> std::result::Result<(), String> {
    check_entry_name(name).map_err(|e| format!("patch source: {e}"))?;
    if name
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(format!("patch source {name:?} is not a file path"));
    }
    Ok(())
}

/// A writer that hashes what it writes.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Device {
    /// Rebuilds one file into `dest` from the file `o` patches (in the
    /// running bundle or the builtin assets, with `o`'s hash, at most
    /// [`MAX_PATCH_INPUT`] bytes) and the fetched patch (at most the size
    /// announced), streaming it to disk while hashing it; [`AT_ONCE`] at a
    /// time. Any failure leaves `dest` absent.
    pub(super) async fn patch_one(
        &self,
        p: &Planned,
        o: &FilePatchOffer,
        dest: &Path,
        tally: &Tally,
        gate: &tokio::sync::Semaphore,
    ) -> std::result::Result<(), String> {
        check_source(&o.from_file)?;
        let max = MAX_PATCH_INPUT as u64;
        if o.size > max {
            return Err(format!(
                "a patch of {} bytes is larger than any the server makes",
                o.size
            ));
        }
        let candidates: Vec<PathBuf> = [self.current_dir(), self.cfg.builtin_dir.clone()]
            .into_iter()
            .flatten()
            .map(|d| d.join(&o.from_file))
            .collect();
        let from_hash = o.from_hash.to_ascii_lowercase();
        let from = tokio::task::spawn_blocking(move || {
            candidates.into_iter().find(|path| {
                std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= max)
                    && holds(path, &from_hash)
            })
        })
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the device holds no file the patch applies to")?;
        // Its own partial file: another entry may name the same patch.
        let key = format!("{}#{}", o.download_url, p.target);
        let part = self.part_path(&key);
        if let Err(e) = self
            .fetch_into(&o.download_url, part.clone(), Some(o.size))
            .await
        {
            // Never resumed: the whole file is fetched instead.
            let _ = std::fs::remove_file(&part);
            return Err(e.to_string());
        }
        let sent = std::fs::metadata(&part).map_or(0, |m| m.len());
        tally.fetched.fetch_add(1, Ordering::Relaxed);
        tally.fetched_bytes.fetch_add(sent, Ordering::Relaxed);
        let limit = tally.left.load(Ordering::Relaxed).min(max);
        let (want, out, part2) = (p.hash.clone(), dest.to_path_buf(), part.clone());
        // Held while the source file is in memory.
        let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
        let res = tokio::task::spawn_blocking(move || -> std::result::Result<u64, String> {
            let err = |e: std::io::Error| e.to_string();
            let old = std::fs::read(&from).map_err(err)?;
            let patch = std::fs::File::open(&part2).map_err(err)?;
            let mut w = Hashing {
                inner: std::io::BufWriter::new(std::fs::File::create(&out).map_err(err)?),
                hasher: Sha256::new(),
            };
            let len =
                updraft_core::patch::apply_patch_into(&old, patch, &mut w, limit).map_err(err)?;
            let got = hex::encode(w.hasher.finalize());
            if got != want {
                return Err(format!(
                    "the patch rebuilds a file hashing to {got}, not {want}"
                ));
            }
            w.inner
                .into_inner()
                .map_err(|e| e.to_string())?
                .sync_all()
                .map_err(err)?;
            Ok(len)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        let _ = std::fs::remove_file(&part);
        match res.and_then(|len| take(&tally.left, len)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = std::fs::remove_file(dest);
                Err(e)
            }
        }
    }
}
