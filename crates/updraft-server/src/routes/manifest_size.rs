//! `POST /updates/manifest_size`: how many bytes a device would download for
//! the manifest entries it still lacks (the plugin's `getBundleDownloadSize`
//! and `getLatest({includeBundleSize: true})`). The body is the plugin's
//! request plus `version` and `manifest` (Capgo also accepts `files`); the
//! reply is `{totalSize, knownFiles, unknownFiles, files}`, each file with its
//! `size` or `error: "size_unknown"`, as Capgo answers. Sizes are those of
//! the app's stored files: named by the entry's URL (`…/files/<sha256>`) or,
//! for the bundle `version` the app serves, by the entry's hash in its
//! manifest. Files of other apps and external URLs are unknown.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use updraft_store::stored_file;

use super::device::app_entry;
use super::manifest_files::is_sha256;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Most entries one request may ask about.
const MAX_FILES: usize = 50_000;

#[derive(Deserialize)]
struct SizeRequest {
    app_id: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default, alias = "files")]
    manifest: Vec<EntryIn>,
}

/// One asked entry: each field optional, as the plugins send them; other
/// fields are ignored, and an entry that is not an object refuses the body.
#[derive(Deserialize)]
struct EntryIn {
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    file_hash: Option<String>,
    #[serde(default)]
    download_url: Option<String>,
}

/// One file of the reply.
#[derive(Debug, Serialize, PartialEq)]
struct FileSize {
    file_name: Option<String>,
    file_hash: String,
    download_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

/// The reply.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManifestSize {
    total_size: i64,
    known_files: usize,
    unknown_files: usize,
    files: Vec<FileSize>,
}

/// The stored file a download URL names (`…/files/<sha256>`), if any.
fn url_sha(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let sha = path.rsplit_once("/files/")?.1;
    is_sha256(sha).then_some(sha)
}

/// The requested entries, each once (by name, hash and URL), without those
/// lacking a hash (Capgo skips them too).
fn entries(raw: Vec<EntryIn>) -> Vec<(Option<String>, String, Option<String>)> {
    let mut seen = HashSet::new();
    raw.into_iter()
        .filter_map(|v| {
            let hash = v.file_hash.filter(|h| !h.is_empty())?;
            let e = (v.file_name, hash, v.download_url);
            seen.insert(e.clone()).then_some(e)
        })
        .collect()
}

/// `POST /updates/manifest_size`.
pub(crate) async fn manifest_size(
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<ManifestSize>> {
    let req: SizeRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_json_body", format!("invalid request body: {e}"))
    })?;
    if req.manifest.len() > MAX_FILES {
        return Err(ApiError::bad_request(
            "too_many_files",
            format!("ask about at most {MAX_FILES} files"),
        ));
    }
    let entry = app_entry(&state, &req.app_id).await?;
    let wanted = entries(req.manifest);
    // The served bundle's manifest: its files by plain hash.
    let by_hash: HashMap<&str, &str> = req
        .version
        .as_deref()
        .and_then(|v| entry.bundle_ids.get(v))
        .and_then(|id| entry.view.bundles.get(id))
        .map(|b| {
            b.manifest
                .iter()
                .filter_map(|e| Some((e.file_hash.as_str(), stored_file(e)?)))
                .collect()
        })
        .unwrap_or_default();
    let sha_of = |(_, hash, url): &(Option<String>, String, Option<String>)| {
        url.as_deref()
            .and_then(url_sha)
            .or_else(|| by_hash.get(hash.as_str()).copied())
            .map(str::to_string)
    };
    let shas: Vec<String> = wanted.iter().filter_map(sha_of).collect();
    let sizes: HashMap<String, i64> = state
        .store
        .file_sizes(&req.app_id, &shas)
        .await?
        .into_iter()
        .collect();
    let mut reply = ManifestSize {
        total_size: 0,
        known_files: 0,
        unknown_files: 0,
        files: Vec::with_capacity(wanted.len()),
    };
    for e in &wanted {
        let size = sha_of(e).and_then(|sha| sizes.get(&sha).copied());
        match size {
            Some(n) => {
                reply.total_size += n;
                reply.known_files += 1;
            }
            None => reply.unknown_files += 1,
        }
        let (file_name, file_hash, download_url) = e.clone();
        reply.files.push(FileSize {
            file_name,
            file_hash,
            download_url,
            size,
            error: size.is_none().then_some("size_unknown"),
        });
    }
    Ok(Json(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_url_names_a_stored_file_by_its_last_files_segment() {
        let sha = "ab".repeat(32);
        assert_eq!(
            url_sha(&format!("https://u.example.com/files/{sha}")),
            Some(sha.as_str())
        );
        assert_eq!(
            url_sha(&format!("https://u.example.com/x/files/{sha}?k=1")),
            Some(sha.as_str())
        );
        assert_eq!(
            url_sha(&format!("https://u.example.com/files/{sha}.zip")),
            None
        );
        assert_eq!(url_sha("https://cdn.example.com/app.js"), None);
        assert_eq!(
            url_sha(&format!(
                "https://u.example.com/files/{}",
                sha.to_uppercase()
            )),
            None
        );
    }

    #[test]
    fn entries_without_a_hash_are_skipped_and_repeats_counted_once() {
        let raw = serde_json::json!([
            {"file_name": "a.js", "file_hash": "h1", "download_url": "u1"},
            {"file_name": "a.js", "file_hash": "h1", "download_url": "u1"},
            {"file_name": "b.js", "download_url": "u2"},
            {"file_hash": "h3", "size": 1},
        ]);
        let got = entries(serde_json::from_value(raw).unwrap());
        assert_eq!(
            got,
            vec![
                (Some("a.js".into()), "h1".into(), Some("u1".into())),
                (None, "h3".into(), None),
            ]
        );
    }
}
