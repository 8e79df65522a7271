//! Rebuilding a manifest file from a file the device holds and a fetched
//! byte-level patch; the caller falls back to the whole file on any failure.

use std::path::Path;
use std::sync::atomic::Ordering;

use updraft_core::crypto;
use updraft_protocol::device::FilePatchOffer;

use super::files::take;
use super::{holds, Planned, Tally};
use crate::Device;

impl Device {
    /// Rebuilds one file into `dest` from the file `o` patches (in the
    /// running bundle or the builtin assets, with `o`'s hash) and the fetched
    /// patch, checking the result's hash. Any failure leaves `dest` absent.
    pub(super) async fn patch_one(
        &self,
        p: &Planned,
        o: &FilePatchOffer,
        dest: &Path,
        tally: &Tally,
    ) -> std::result::Result<(), String> {
        let from = [self.current_dir(), self.cfg.builtin_dir.clone()]
            .into_iter()
            .flatten()
            .map(|d| d.join(&o.from_file))
            .find(|path| holds(path, &o.from_hash.to_ascii_lowercase()))
            .ok_or("the device holds no file the patch applies to")?;
        let part = self
            .fetch(&o.download_url)
            .await
            .map_err(|e| e.to_string())?;
        let sent = std::fs::metadata(&part).map_or(0, |m| m.len());
        tally.fetched.fetch_add(1, Ordering::Relaxed);
        tally.fetched_bytes.fetch_add(sent, Ordering::Relaxed);
        let (want, out, limit) = (
            p.hash.clone(),
            dest.to_path_buf(),
            tally.left.load(Ordering::Relaxed),
        );
        let part2 = part.clone();
        let res = tokio::task::spawn_blocking(move || -> std::result::Result<u64, String> {
            let old = std::fs::read(&from).map_err(|e| e.to_string())?;
            let patch = std::fs::read(&part2).map_err(|e| e.to_string())?;
            let new =
                updraft_core::patch::apply_patch(&old, &patch, limit).map_err(|e| e.to_string())?;
            let got = crypto::sha256_hex(&new);
            if got != want {
                return Err(format!(
                    "the patch rebuilds a file hashing to {got}, not {want}"
                ));
            }
            std::fs::write(&out, &new).map_err(|e| e.to_string())?;
            Ok(new.len() as u64)
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
