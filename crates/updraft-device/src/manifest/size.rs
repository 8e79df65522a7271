//! How many bytes a manifest offer would download here, asked of the server
//! as the plugin's `getBundleDownloadSize` asks it.

use std::collections::HashSet;

use updraft_core::crypto::SessionKey;

use super::{plan, DownloadSize, Fail, ManifestItem};
use crate::check::Offer;
use crate::{Device, DeviceError, Result};

/// `updateUrl` with `/manifest_size` appended to its path and no query.
fn manifest_size_url(update_url: &str) -> String {
    let no_query = update_url.split(['?', '#']).next().unwrap_or(update_url);
    format!("{}/manifest_size", no_query.trim_end_matches('/'))
}

impl Device {
    /// Asks the server how many bytes `offer` would download here (only the
    /// files this device lacks, each URL once), as the plugin's
    /// `getBundleDownloadSize` does. A zip offer downloads its zip: `None`.
    pub async fn download_size(&self, offer: &Offer) -> Result<Option<DownloadSize>> {
        if offer.manifest.is_empty() {
            return Ok(None);
        }
        let session = match (&self.public_key, offer.session_key.is_empty()) {
            (Some(pk), false) => Some(
                SessionKey::open(&offer.session_key, pk)
                    .map_err(|e| DeviceError::failed("decrypt_fail", e.to_string()))?,
            ),
            _ => None,
        };
        let planned = match plan(&offer.manifest, self.public_key.as_ref(), session.as_ref()) {
            Ok(p) => p,
            Err(Fail::File(f)) => return Err(DeviceError::failed(f.action, f.message)),
            Err(Fail::Device(e)) => return Err(e),
        };
        let mut urls = HashSet::new();
        let missing: Vec<&ManifestItem> = planned
            .iter()
            .filter(|p| self.local_copy(p).is_none() && urls.insert(&p.item.download_url))
            .map(|p| &p.item)
            .collect();
        let mut body = self.info_object();
        body["version"] = offer.version.clone().into();
        body["manifest"] =
            serde_json::to_value(&missing).map_err(|e| DeviceError::Config(e.to_string()))?;
        let url = manifest_size_url(&self.cfg.update_url);
        let fail = |m: String| DeviceError::failed("response_error", m);
        let res = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !res.status().is_success() {
            return Err(fail(format!("HTTP {}", res.status())));
        }
        let v: serde_json::Value = res.json().await.map_err(|e| fail(e.to_string()))?;
        let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Ok(Some(DownloadSize {
            total_size: n("totalSize"),
            known_files: n("knownFiles"),
            unknown_files: n("unknownFiles"),
        }))
    }
}
