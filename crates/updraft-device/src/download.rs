//! Downloading an offered bundle: the offer is checked first (what it alone
//! shows cannot install is refused before any byte is fetched), the file is
//! fetched to disk with `Range` resume, then decrypted, hashed and unzipped
//! from disk in a blocking task, with bounded memory. A bundle is only recorded
//! once its folder is whole; on any failure nothing of it is kept.

use std::path::{Path, PathBuf};

use updraft_core::crypto::{self, SessionKey};

use crate::check::Offer;
use crate::store::{BundleInfo, BundleStatus};
use crate::unzip::{self, UnzipLimits};
use crate::{now_ms, short_id, verify, Device, DeviceError, Result, Step};

impl Device {
    /// Downloads, verifies, decrypts and unzips an offered bundle, recording it
    /// as `pending`. On failure the matching stats action is queued and nothing
    /// of the bundle is kept.
    pub async fn download(&mut self, offer: &Offer) -> Result<BundleInfo> {
        if let Some(existing) = self
            .state
            .bundles
            .values()
            .find(|b| b.version == offer.version)
            .cloned()
        {
            match existing.status {
                BundleStatus::Pending | BundleStatus::Success => return Ok(existing),
                BundleStatus::Error if !self.cfg.auto_delete_failed => {
                    self.queue_stat("download_fail", Some(&offer.version), None);
                    return Err(DeviceError::failed(
                        "download_fail",
                        format!("{} is already in error state", offer.version),
                    ));
                }
                _ => {
                    self.state.bundles.remove(&existing.id);
                }
            }
        }
        let (session, expected) = match verify::expected_checksum(offer, self.public_key.as_ref()) {
            Ok(v) => v,
            Err(e) => {
                let action = e.action().unwrap_or("download_fail");
                // Phones report a checksum they cannot decrypt as
                // `download_fail` of the bundle they still run.
                let version = (action != "download_fail").then_some(offer.version.as_str());
                self.queue_stat(action, version, None);
                return Err(e);
            }
        };
        let res = if offer.manifest.is_empty() {
            self.download_inner(offer, session, expected).await
        } else {
            self.download_manifest(offer, session, expected).await
        };
        self.faults.interrupt_download = false;
        match res {
            Ok(b) => {
                self.queue_stat("download_complete", Some(&offer.version), None);
                Ok(b)
            }
            Err(e) => {
                if let Some(action) = e.action() {
                    if offer.manifest.is_empty() {
                        self.queue_stat(action, Some(&offer.version), None);
                    } else {
                        // A file's own failure is queued with its name; the
                        // download as a whole then fails, reported (as iOS
                        // does) with the version the device runs.
                        self.queue_stat("download_fail", None, None);
                    }
                    if action != "download_fail" {
                        // A corrupt file is not resumed.
                        let _ = std::fs::remove_file(self.part_path(&offer.url));
                    }
                }
                Err(e)
            }
        }
    }

    pub(crate) fn part_path(&self, url: &str) -> PathBuf {
        self.disk.downloads_dir().join(format!(
            "{}.part",
            &crypto::sha256_hex(url.as_bytes())[..24]
        ))
    }

    /// Fetches `url` into its `.part` file (resuming with `Range`).
    /// Into `part`, failing once it holds more than `max_bytes` (when given).
    pub(crate) async fn fetch_into(
        &self,
        url: &str,
        part: PathBuf,
        max_bytes: Option<u64>,
    ) -> Result<PathBuf> {
        use futures::StreamExt as _;
        use std::io::Write as _;
        let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let mut req = self.http.get(url);
        if have > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let fail = |m: String| DeviceError::failed("download_fail", m);
        let res = req.send().await.map_err(|e| fail(e.to_string()))?;
        let status = res.status().as_u16();
        let mut file = match status {
            206 if have > 0 => std::fs::OpenOptions::new().append(true).open(&part)?,
            200 => std::fs::File::create(&part)?,
            416 if have > 0 => return Ok(part),
            s => return Err(fail(format!("HTTP error: {s}"))),
        };
        let mut stream = res.bytes_stream();
        let mut held = if status == 206 { have } else { 0 };
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fail(format!("transfer interrupted: {e}")))?;
            held += chunk.len() as u64;
            if max_bytes.is_some_and(|max| held > max) {
                drop(file);
                let _ = std::fs::remove_file(&part);
                return Err(fail(format!(
                    "more than the {} bytes announced",
                    max_bytes.unwrap_or(0)
                )));
            }
            file.write_all(&chunk)?;
        }
        file.sync_all()?;
        drop(file);
        if self.faults.interrupt_download {
            let len = std::fs::metadata(&part)?.len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&part)?
                .set_len(len / 2)?;
            return Err(fail("transfer interrupted (injected)".into()));
        }
        if self.faults.corrupt_download {
            corrupt_middle_byte(&part)?;
        }
        Ok(part)
    }

    async fn download_inner(
        &mut self,
        offer: &Offer,
        session: Option<SessionKey>,
        expected: Option<String>,
    ) -> Result<BundleInfo> {
        // A zip is at most slightly larger than what it unpacks to (stored
        // entries plus headers), and AES padding adds 16 bytes.
        let limits = self.cfg.unzip_limits;
        let cap = limits.max_total_bytes + (limits.max_total_bytes >> 6) + (1 << 20);
        let part = self
            .fetch_into(&offer.url, self.part_path(&offer.url), Some(cap))
            .await?;
        self.last_download = Some(crate::DownloadReport {
            manifest: false,
            fetched: 1,
            fetched_bytes: std::fs::metadata(&part).map_or(0, |m| m.len()),
            reused: 0,
            patched: 0,
            patch_fallbacks: 0,
        });
        self.hit(Step::DownloadWritten)?;
        let id = short_id();
        let tmp = self.disk.bundles_dir().join(format!("{id}.tmp"));
        let plain = self.disk.downloads_dir().join(format!("{id}.zip"));
        let unpacked = {
            let (tmp, plain) = (tmp.clone(), plain.clone());
            tokio::task::spawn_blocking(move || {
                unpack(&part, &plain, &tmp, session.as_ref(), expected, &limits)
            })
            .await
            .map_err(|e| DeviceError::failed("unzip_fail", e.to_string()))
            .and_then(|r| r)
        };
        let _ = std::fs::remove_file(&plain);
        let plain_sha = match unpacked {
            Ok(sha) => sha,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        self.hit(Step::Extracted)?;
        std::fs::rename(&tmp, self.disk.bundle_dir(&id))?;
        self.hit(Step::Renamed)?;
        let info = BundleInfo {
            id: id.clone(),
            version: offer.version.clone(),
            checksum: plain_sha,
            status: BundleStatus::Pending,
            downloaded_at: now_ms(),
        };
        self.state.bundles.insert(id, info.clone());
        self.save()?;
        let _ = std::fs::remove_file(self.part_path(&offer.url));
        Ok(info)
    }
}

/// Decrypts `part` into `plain` when the bundle is encrypted, checks the
/// plaintext's SHA-256 against `expected`, and unzips it into `tmp`. Returns
/// the SHA-256. Blocking; bounded memory.
fn unpack(
    part: &Path,
    plain: &Path,
    tmp: &Path,
    session: Option<&SessionKey>,
    expected: Option<String>,
    limits: &UnzipLimits,
) -> Result<String> {
    let (zip, actual) = match session {
        Some(sk) => (plain, verify::decrypt_file(part, plain, sk)?),
        None => (part, verify::hash_file(part)?),
    };
    if let Some(expected) = expected {
        if actual != expected {
            return Err(DeviceError::failed(
                "checksum_fail",
                format!("the bundle hashes to {actual}, expected {expected}"),
            ));
        }
    }
    let _ = std::fs::remove_dir_all(tmp);
    std::fs::create_dir_all(tmp)?;
    unzip::extract(zip, tmp, limits).map_err(|e| DeviceError::failed(e.action(), e.to_string()))?;
    Ok(actual)
}

/// Flips the middle byte of a file (the `corrupt_download` fault).
fn corrupt_middle_byte(path: &Path) -> std::io::Result<()> {
    use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
    let len = std::fs::metadata(path)?.len();
    if len == 0 {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(len / 2))?;
    f.read_exact(&mut b)?;
    f.seek(SeekFrom::Start(len / 2))?;
    f.write_all(&[b[0] ^ 0x5a])
}
