//! The "update available" reply for one bundle and one client: the URL, the
//! checksum form that client verifies (native plugins and Capgo's Electron
//! updater differ for encrypted bundles), the manifest when the plugin supports
//! it, and the bundle's link and comment when the app exposes them. A bundle the
//! client could not install is a [`Denial`] (`kind: blocked`) instead of a
//! download that must fail.

use updraft_protocol::api::{App, Bundle, BundleStorage, ManifestEntry};
use updraft_protocol::device::UpdateAvailable;

use crate::checksum::electron_checksum;
use crate::crypto::{PublicKey, SessionKey};
use crate::decide::Denial;
use crate::trace::{note, Trace};
use crate::validate::{DeviceRequest, Platform};
use crate::version::plugin_supports_manifest;

/// Builds the reply offering `b` to the device of `req`. `base_url` gives the
/// server's public URL (no trailing slash); it is asked for only when the
/// reply links to this server's files.
pub(crate) fn offer(
    b: &Bundle,
    req: &DeviceRequest,
    app: &App,
    base_url: &dyn Fn() -> String,
    trace: &mut Trace,
) -> Result<UpdateAvailable, Denial> {
    let electron = req.platform == Some(Platform::Electron);
    let plugin = req.plugin_version.as_deref().unwrap_or("unknown");
    let manifest = !b.manifest.is_empty()
        && req
            .plugin_semver()
            .is_some_and(|v| plugin_supports_manifest(&v));
    if !b.manifest.is_empty() {
        if manifest {
            note!(
                trace,
                "bundle {} has a manifest of {} files; plugin {plugin} reads manifests: sent",
                b.version,
                b.manifest.len()
            );
        } else {
            note!(
                trace,
                "bundle {} has a manifest; plugin {plugin} cannot read manifests: not sent",
                b.version
            );
        }
    }
    let url = match b.storage {
        BundleStorage::External => match &b.external_url {
            Some(u) => u.clone(),
            // The plugin requires a parseable url even for manifest replies;
            // only a plugin that gets the manifest never downloads it.
            None if manifest => format!("{}/files/manifest-only.zip", base_url()),
            None => {
                let who = if electron {
                    "Capgo's Electron updater".to_string()
                } else {
                    format!("plugin {plugin} (manifests need 5.10.0, 6.25.0, 7.0.35 or later)")
                };
                return Err(Denial::new(
                    "manifest_not_supported",
                    format!(
                        "Bundle {} is manifest-only (no zip URL) and {who} cannot download a manifest",
                        b.version
                    ),
                ));
            }
        },
        BundleStorage::Stored => format!(
            "{}/files/{}.zip",
            base_url(),
            b.blob_sha256.as_deref().unwrap_or_default()
        ),
    };
    let checksum = if electron && !b.session_key.is_empty() {
        // Electron hashes the zip still encrypted and compares it with the
        // checksum AES-decrypted with the session key: the native form fails.
        let made = match &b.electron_checksum {
            Some(c) => Some(c.clone()),
            None => stored_electron_checksum(b, app),
        };
        match made {
            Some(c) => {
                note!(
                    trace,
                    "bundle {} is encrypted: Capgo's Electron updater gets its own checksum form",
                    b.version
                );
                c
            }
            None => {
                return Err(Denial::new(
                    "electron_checksum_unavailable",
                    format!(
                        "Bundle {} is encrypted and the server does not know its Electron checksum (registered without the app's public key or the encrypted zip's SHA-256), so Capgo's Electron updater could not verify it",
                        b.version
                    ),
                ))
            }
        }
    } else {
        b.checksum.clone()
    };
    let expose = app.expose_metadata;
    if expose {
        note!(
            trace,
            "the app exposes metadata: link and comment sent when set"
        );
    }
    Ok(UpdateAvailable {
        version: b.version.clone(),
        url,
        checksum,
        session_key: b.session_key.clone(),
        session_key_camel: electron.then(|| b.session_key.clone()),
        manifest: manifest.then(|| absolute(&b.manifest, base_url)),
        patches: None,
        link: b.link.as_ref().filter(|l| expose && !l.is_empty()).cloned(),
        comment: b
            .comment
            .as_ref()
            .filter(|c| expose && !c.is_empty())
            .cloned(),
        critical: None,
    })
}

/// For a stored encrypted bundle uploaded before the server knew the app's
/// public key: the blob is the encrypted zip, so its hash and the session key
/// opened with the app's key give the Electron form.
fn stored_electron_checksum(b: &Bundle, app: &App) -> Option<String> {
    let blob = b.blob_sha256.as_deref()?;
    let public = PublicKey::from_pem(app.public_key.as_deref()?).ok()?;
    let sk = SessionKey::open(&b.session_key, &public).ok()?;
    electron_checksum(&sk, blob).ok()
}

/// The manifest as sent: entries naming a file stored on this server (a
/// path, `/files/<sha256>`) get the server's base URL; the plugin needs
/// absolute URLs. External entries are absolute already.
fn absolute(entries: &[ManifestEntry], base_url: &dyn Fn() -> String) -> Vec<ManifestEntry> {
    if !entries.iter().any(|e| e.download_url.starts_with('/')) {
        return entries.to_vec();
    }
    let base = base_url();
    entries
        .iter()
        .map(|e| match e.download_url.strip_prefix('/') {
            Some(path) => ManifestEntry {
                download_url: format!("{base}/{path}"),
                ..e.clone()
            },
            None => e.clone(),
        })
        .collect()
}
