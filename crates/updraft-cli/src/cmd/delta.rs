//! `--delta`: an uploaded bundle also gets its per-file manifest, so plugins
//! that read manifests download only the files they do not hold. Only the
//! files the server does not have for the app are uploaded (content-addressed:
//! the same bytes in any earlier bundle are sent once, four at a time), then
//! the manifest naming them all is set on the bundle.
//!
//! An encrypted bundle's files are encrypted one by one with the zip's AES
//! key and IV after compression, and each `file_hash` is signed (the
//! plugin's order: decrypt, decode, hash). Empty files are left out of an
//! encrypted manifest, as Capgo's CLI does: the plugin cannot decrypt an
//! empty file. They stay in the zip.

use std::collections::HashSet;

use futures::StreamExt as _;
use serde_json::json;
use updraft_client::Client;
use updraft_core::archive::FileEntry;
use updraft_core::crypto::{encrypt_checksum, sha256_hex, PrivateKey, SessionKey};
use updraft_core::manifest::{manifest_files, ManifestFile};
use updraft_protocol::api::{ChannelPatch, ManifestFileRef, NewManifest};

use crate::error::{CliError, CliResult};
use crate::Ctx;

/// Files uploaded at once.
const UPLOADS_AT_ONCE: usize = 4;

/// Hashes one `files/missing` call may ask about.
const ASK_AT_ONCE: usize = 10_000;

/// What an encrypted bundle's files are encrypted and signed with.
pub(crate) struct FileKey<'a> {
    /// The zip's AES key and IV.
    pub(crate) session: SessionKey,
    /// The app's signing key.
    pub(crate) private: &'a PrivateKey,
}

/// What `--delta` did.
pub(crate) struct DeltaReport {
    /// Empty files left out (an encrypted manifest cannot hold them).
    pub(crate) left_out: usize,
    /// Files in the manifest.
    pub(crate) files: usize,
    /// Files uploaded (the others the server had).
    pub(crate) uploaded: usize,
    /// Bytes uploaded.
    pub(crate) uploaded_bytes: u64,
    /// Bytes a device with none of the files downloads as a manifest.
    pub(crate) manifest_bytes: u64,
}

impl DeltaReport {
    /// One line for people.
    pub(crate) fn text(&self) -> String {
        let mut s = format!(
            "manifest of {} files ({} as a manifest): uploaded {} ({}), the server had the rest",
            self.files,
            crate::output::size(self.manifest_bytes),
            self.uploaded,
            crate::output::size(self.uploaded_bytes),
        );
        if self.left_out > 0 {
            s.push_str(&format!(
                "
{} empty files left out of the encrypted manifest (the plugin cannot decrypt an empty file; the zip has them)",
                self.left_out
            ));
        }
        s
    }

    /// The `manifest` object of `--json` output.
    pub(crate) fn json(&self) -> serde_json::Value {
        json!({
            "files": self.files,
            "bytes": self.manifest_bytes,
            "uploaded_files": self.uploaded,
            "uploaded_bytes": self.uploaded_bytes,
            "empty_files_left_out": self.left_out,
        })
    }
}

/// Uploads the files of `files`' manifest the server lacks for `app`, then
/// sets the manifest on bundle `version` (uploaded already), encrypting
/// each file with `key` when the bundle is encrypted.
pub(crate) async fn upload_manifest(
    ctx: &Ctx,
    client: &Client,
    app: &str,
    version: &str,
    files: &[FileEntry],
    key: Option<&FileKey<'_>>,
) -> CliResult<DeltaReport> {
    let mut manifest =
        manifest_files(files).map_err(|e| CliError::fail("manifest_failed", e.to_string()))?;
    let mut left_out = 0;
    if let Some(k) = key {
        let before = manifest.len();
        manifest.retain(|f| f.size > 0);
        left_out = before - manifest.len();
        if manifest.is_empty() {
            return Err(CliError::usage(
                "manifest_failed",
                "every file of the build is empty: an encrypted manifest cannot hold any",
            ));
        }
        seal_files(&mut manifest, k)?;
    }
    let shas: Vec<String> = manifest.iter().map(|f| sha256_hex(&f.body)).collect();
    let mut missing = HashSet::new();
    for chunk in shas.chunks(ASK_AT_ONCE) {
        missing.extend(client.missing_files(app, chunk).await?);
    }
    let mut sent = HashSet::new();
    let todo: Vec<(&String, &[u8])> = manifest
        .iter()
        .zip(&shas)
        .filter(|(_, sha)| missing.contains(*sha) && sent.insert(*sha))
        .map(|(f, sha)| (sha, f.body.as_slice()))
        .collect();
    let uploaded_bytes: u64 = todo.iter().map(|(_, b)| b.len() as u64).sum();
    let bar = ctx.out.bytes_bar(
        uploaded_bytes,
        &format!("Uploading {} of {} files", todo.len(), manifest.len()),
    );
    let mut uploads = futures::stream::iter(todo.iter().map(|(sha, body)| {
        let data = bytes::Bytes::copy_from_slice(body);
        async move {
            client
                .upload_file(app, sha, data)
                .await
                .map(|_| body.len() as u64)
        }
    }))
    .buffer_unordered(UPLOADS_AT_ONCE);
    while let Some(sent) = uploads.next().await {
        match sent {
            Ok(n) => bar.inc(n),
            Err(e) => {
                bar.finish_and_clear();
                return Err(e.into());
            }
        }
    }
    drop(uploads);
    bar.finish_and_clear();
    let refs = manifest
        .iter()
        .zip(&shas)
        .map(|(f, sha)| ManifestFileRef {
            file_name: f.file_name(),
            file_hash: f.hash.clone(),
            sha256: sha.clone(),
        })
        .collect();
    client
        .set_manifest(app, version, &NewManifest { files: refs })
        .await?;
    Ok(DeltaReport {
        left_out,
        files: manifest.len(),
        uploaded: todo.len(),
        uploaded_bytes,
        manifest_bytes: manifest.iter().map(|f| f.body.len() as u64).sum(),
    })
}

/// Encrypts each file's body with the bundle's key and signs its hash.
fn seal_files(manifest: &mut [ManifestFile], k: &FileKey<'_>) -> CliResult<()> {
    for f in manifest {
        f.body = k.session.encrypt(&f.body);
        f.hash = encrypt_checksum(k.private, &f.hash)?;
    }
    Ok(())
}

/// `--delta`'s steps after the zip: the manifest, then the channel.
/// The channel a bundle moves onto once it is complete, and whether that
/// deploy is critical.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Onto<'a> {
    pub(crate) channel: &'a str,
    pub(crate) critical: bool,
}

pub(crate) async fn delta_then_channel(
    ctx: &Ctx,
    client: &Client,
    app: &str,
    version: &str,
    onto: Option<Onto<'_>>,
    files: &[FileEntry],
    key: Option<&FileKey<'_>>,
) -> CliResult<(DeltaReport, Option<String>)> {
    let report = upload_manifest(ctx, client, app, version, files, key).await?;
    let served_on = match onto {
        Some(o) => {
            let patch = ChannelPatch {
                bundle: Some(Some(version.to_string())),
                critical: o.critical.then_some(true),
                ..Default::default()
            };
            Some(
                client
                    .update_channel(app, o.channel, &patch)
                    .await?
                    .channel
                    .name,
            )
        }
        None => None,
    };
    Ok((report, served_on))
}

/// Finishes a `--delta` run that stopped after its zip (same build, same version).
pub(crate) async fn finish_delta(
    ctx: &Ctx,
    client: &Client,
    app: &str,
    version: &str,
    onto: Option<Onto<'_>>,
    files: &[FileEntry],
    checksum: &str,
) -> CliResult<()> {
    let (r, served_on) = delta_then_channel(ctx, client, app, version, onto, files, None).await?;
    ctx.out.result(
        || {
            format!(
                "Finished {app} {version}{}\n{}",
                match &served_on {
                    Some(c) => format!(", now served on channel {c}"),
                    None => String::new(),
                },
                r.text(),
            )
        },
        json!({
            "app_id": app,
            "bundle": version,
            "checksum": checksum,
            "resumed": true,
            "channel": served_on,
            "manifest": r.json(),
        }),
    );
    Ok(())
}
