//! The `/updates` "update available" reply for one bundle and one client:
//! the URL, the checksum form that client verifies (native plugins and Capgo's
//! Electron updater differ for encrypted bundles), and the manifest when the
//! plugin supports it. A bundle the client could not install is answered as
//! "no update" (`kind: blocked`) instead of a download that must fail.

use updraft_core::checksum::electron_checksum;
use updraft_core::crypto::{PublicKey, SessionKey};
use updraft_core::validate::{DeviceRequest, Platform};
use updraft_protocol::api::{App, Bundle, BundleStorage};
use updraft_protocol::device::{NoUpdate, ReplyKind, UpdateAvailable};

/// Builds the reply offering `b` to the device of `req`. `base` is the
/// server's public URL; `app` gives `expose_metadata` (send `link`/`comment`)
/// and the app's public key.
pub fn offer(
    b: &Bundle,
    req: &DeviceRequest,
    base: &str,
    app: &App,
) -> Result<UpdateAvailable, NoUpdate> {
    let expose = app.expose_metadata;
    let electron = req.platform == Some(Platform::Electron);
    let manifest = !b.manifest.is_empty() && plugin_supports_manifest(req);
    let url = match b.storage {
        BundleStorage::External => match &b.external_url {
            Some(u) => u.clone(),
            // The plugin requires a parseable url even for manifest replies;
            // only a plugin that gets the manifest never downloads it.
            None if manifest => format!("{base}/files/manifest-only.zip"),
            None => {
                let who = if electron {
                    "Capgo's Electron updater".to_string()
                } else {
                    format!(
                        "plugin {} (manifests need 5.10.0, 6.25.0, 7.0.35 or later)",
                        req.info.plugin_version.as_deref().unwrap_or("unknown")
                    )
                };
                return Err(blocked(
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
            base,
            b.blob_sha256.as_deref().unwrap_or_default()
        ),
    };
    let checksum = if electron && !b.session_key.is_empty() {
        // Electron hashes the zip still encrypted and compares it with the
        // checksum AES-decrypted with the session key: the native form fails.
        match b
            .electron_checksum
            .clone()
            .or_else(|| stored_electron_checksum(b, app))
        {
            Some(c) => c,
            None => {
                return Err(blocked(
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
    Ok(UpdateAvailable {
        version: b.version.clone(),
        url,
        checksum,
        session_key: b.session_key.clone(),
        session_key_camel: electron.then(|| b.session_key.clone()),
        manifest: manifest.then(|| b.manifest.clone()),
        link: b.link.clone().filter(|l| expose && !l.is_empty()),
        comment: b.comment.clone().filter(|c| expose && !c.is_empty()),
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

fn blocked(code: &str, message: String) -> NoUpdate {
    NoUpdate {
        error: code.into(),
        message,
        kind: ReplyKind::Blocked,
        extra: Default::default(),
    }
}

/// Manifest replies need plugin 5.10.0, 6.25.0, 7.0.35 or later (any 8.x).
/// Capgo's Electron updater reports 0.0.1 and so never gets one.
fn plugin_supports_manifest(req: &DeviceRequest) -> bool {
    use semver::Version;
    match req.plugin_semver() {
        Some(v) => match v.major {
            0..=4 => false,
            5 => v >= Version::new(5, 10, 0),
            6 => v >= Version::new(6, 25, 0),
            7 => v >= Version::new(7, 0, 35),
            _ => true,
        },
        None => false,
    }
}
