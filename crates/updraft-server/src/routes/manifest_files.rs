//! Manifest (delta) files of an app: which ones the server lacks, uploading
//! one (streamed, content-addressed, verified against its name), and the
//! manifest that names them for an uploaded bundle. Devices fetch the files
//! at `/files/<sha256>` (see `files`); an app names and learns of only its
//! own files.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use updraft_protocol::api::*;
use updraft_store::STORED_FILE_PREFIX;

use super::api::{created, known_app, JsonBody};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::Path;
use crate::state::AppState;

/// Most hashes one `files/missing` call may ask about.
const MAX_QUERY: usize = 10_000;
/// Most files one manifest may list.
const MAX_MANIFEST: usize = 50_000;
/// The manifest call's body limit (when `max_json_bytes` is smaller): 50,000
/// entries with 512-hex encrypted hashes take about 32 MB.
pub(crate) const MANIFEST_JSON_BYTES: usize = 32 << 20;

/// A lower-case hex SHA-256.
pub(crate) fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_sha256(s: &str) -> ApiResult<()> {
    if is_sha256(s) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_sha256",
            format!("{s:?} is not a lower-case hex SHA-256 (64 characters)"),
        ))
    }
}

/// Checks a manifest's entries as the plugin will read them: safe relative
/// names, none naming the same file as another (`a.js` and `a.js.br` are
/// the same file on the device), and a hash of the form the bundle's devices
/// verify (64 hex; 512 hex when the bundle is encrypted, 64 or 512 when
/// `encrypted` is unknown).
pub(crate) fn check_entries(entries: &[ManifestEntry], encrypted: Option<bool>) -> ApiResult<()> {
    let bad = |m: String| ApiError::bad_request("invalid_manifest", m);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let mut names = std::collections::HashSet::new();
    for e in entries {
        updraft_core::layout::check_entry_name(&e.file_name).map_err(|err| bad(err.to_string()))?;
        let target = e.file_name.strip_suffix(".br").unwrap_or(&e.file_name);
        if target.split('/').any(|seg| seg.is_empty() || seg == ".") {
            return Err(bad(format!(
                "manifest entry {} is not a file path (an empty or \".\" segment, or a trailing /)",
                e.file_name
            )));
        }
        if !names.insert(target) {
            return Err(bad(format!(
                "manifest lists {} twice (a name with and without .br is the same file on the device)",
                e.file_name
            )));
        }
        let hash_ok = match encrypted {
            Some(false) => is_sha256(&e.file_hash),
            Some(true) => hex(&e.file_hash, 512),
            None => hex(&e.file_hash, 64) || hex(&e.file_hash, 512),
        };
        if !hash_ok {
            let want = match encrypted {
                Some(false) => "a lower-case hex SHA-256 (64 characters)",
                Some(true) => {
                    "the RSA-encrypted SHA-256 (512 hex characters) of an encrypted bundle"
                }
                None => "a hex SHA-256 (64 hex, or 512 hex when encrypted)",
            };
            return Err(bad(format!(
                "manifest entry {} needs {want} as file_hash",
                e.file_name
            )));
        }
    }
    // A file cannot also be a folder of another entry (`a` beside `a/b`).
    for n in &names {
        let mut at = 0;
        while let Some(i) = n[at..].find('/') {
            at += i;
            if names.contains(&n[..at]) {
                return Err(bad(format!(
                    "manifest lists {} both as a file and as a folder of {n}",
                    &n[..at]
                )));
            }
            at += 1;
        }
    }
    Ok(())
}

/// `POST /api/v1/apps/{app_id}/files/missing`.
#[utoipa::path(
    post,
    path = "/apps/{app_id}/files/missing",
    tag = "bundles",
    summary = r#"Which of these files the app has not stored yet"#,
    description = r#"Needs an API key of mode `upload` or higher. Upload the missing ones, then name them all in a manifest; the ones the app has are kept for at least 24 hours from this call even if no bundle names them yet."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    request_body = FilesQuery,
    responses((status = 200, description = "The missing ones.", body = MissingFiles)),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn missing_files(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(q): JsonBody<FilesQuery>,
) -> ApiResult<Json<MissingFiles>> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    if q.sha256.len() > MAX_QUERY {
        return Err(ApiError::bad_request(
            "too_many_files",
            format!("ask about at most {MAX_QUERY} files per call"),
        ));
    }
    for h in &q.sha256 {
        check_sha256(h)?;
    }
    let missing = s
        .store
        .missing_files(&app_id, &q.sha256, s.now_ms())
        .await?;
    Ok(Json(MissingFiles { missing }))
}

/// `PUT /api/v1/apps/{app_id}/files/{sha256}`: the file's bytes are the raw body.
#[utoipa::path(
    put,
    path = "/apps/{app_id}/files/{sha256}",
    tag = "bundles",
    summary = r#"Store one manifest file"#,
    description = r#"Needs an API key of mode `upload` or higher. The body is the bytes devices download for the entry (the file, or its Brotli stream for a `.br` name; encrypted when the bundle is), streamed; they must hash to `sha256`. Storing a file the app has again is accepted."#,
    params(
        ("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"),
        ("sha256" = String, Path, description = "Lower-case hex SHA-256 of the body.", pattern = "^[0-9a-f]{64}$")
    ),
    request_body(content = crate::openapi::ZipBody, content_type = "application/octet-stream", description = "The file's bytes; any content type is accepted."),
    responses((status = 201, description = "Stored.", body = StoredFile)),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn upload_file(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, sha)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Response> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    check_sha256(&sha)?;
    let spooled = super::spool::spool(&s, body, |_| {}).await?;
    let got = spooled.sha256;
    if got != sha {
        return Err(ApiError::bad_request(
            "checksum_mismatch",
            format!("the uploaded bytes hash to {got}, not {sha}: the upload was corrupted; retry"),
        ));
    }
    // Capped by max_bundle_bytes long before i64 ends.
    let size = i64::try_from(spooled.size).unwrap_or(i64::MAX);
    // Held while stored and recorded (see bundle uploads).
    s.holding_file(&sha, async {
        s.blobs.put_file(&sha, spooled.file.path()).await?;
        Ok::<_, ApiError>(s.store.add_file(&app_id, &sha, size, s.now_ms()).await?)
    })
    .await?;
    Ok(created(StoredFile { sha256: sha, size }))
}

/// `PUT /api/v1/apps/{app_id}/bundles/{version}/manifest`.
#[utoipa::path(
    put,
    path = "/apps/{app_id}/bundles/{version}/manifest",
    tag = "bundles",
    summary = r#"Give an uploaded bundle its manifest, so plugins that can fetch only the files they lack do"#,
    description = r#"Needs an API key of mode `upload` or higher. Every file must be stored first (`PUT /apps/{app_id}/files/{sha256}`). For a plain bundle the manifest must install exactly what the zip does: the same files, the zip's hashes, each stored file holding those bytes (Brotli-decoded for a `.br` name); `manifest_mismatch` otherwise. Set once: the same manifest again is accepted, another is refused. Devices whose plugin reads manifests get it with each file's absolute URL; the others keep downloading the zip. The body may be up to 32 MiB (or `max_json_bytes` if larger)."#,
    params(
        ("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"),
        ("version" = String, Path, description = "The bundle version name.", example = "1.0.0")
    ),
    request_body = NewManifest,
    responses((status = 200, description = "The bundle with its manifest.", body = Bundle)),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn set_manifest(
    State(s): State<AppState>,
    auth: Auth,
    Path((app_id, version)): Path<(String, String)>,
    JsonBody(m): JsonBody<NewManifest>,
) -> ApiResult<Json<Bundle>> {
    known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    let bundle = s
        .store
        .get_bundle(&app_id, &version)
        .await?
        .filter(|b| !b.deleted)
        .ok_or_else(|| {
            ApiError::not_found(format!("bundle {version} not found in app {app_id}"))
        })?;
    if bundle.storage != BundleStorage::Stored {
        return Err(ApiError::bad_request(
            "external_bundle",
            "an external bundle's manifest is given when it is registered (POST /apps/{app_id}/bundles/external)",
        ));
    }
    if m.files.is_empty() || m.files.len() > MAX_MANIFEST {
        return Err(ApiError::bad_request(
            "invalid_manifest",
            format!("a manifest lists 1 to {MAX_MANIFEST} files"),
        ));
    }
    for f in &m.files {
        check_sha256(&f.sha256)?;
    }
    let entries: Vec<ManifestEntry> = m
        .files
        .iter()
        .map(|f| ManifestEntry {
            file_name: f.file_name.clone(),
            file_hash: f.file_hash.clone(),
            download_url: format!("{STORED_FILE_PREFIX}{}", f.sha256),
        })
        .collect();
    check_entries(&entries, Some(!bundle.session_key.is_empty()))?;
    // Set once: the same manifest again changes nothing, another is refused
    // before anything is read (the store checks again in its transaction).
    if !bundle.manifest.is_empty() {
        if bundle.manifest == entries {
            return Ok(Json(bundle));
        }
        return Err(ApiError::conflict(format!(
            "bundle {version} already has a manifest of {} files; upload a new version instead",
            bundle.manifest.len()
        )));
    }
    // Only the app's own files are read, and each is kept from now on.
    let shas: Vec<String> = m.files.iter().map(|f| f.sha256.clone()).collect();
    if let Some(sha) = s
        .store
        .missing_files(&app_id, &shas, s.now_ms())
        .await?
        .first()
    {
        let name = m
            .files
            .iter()
            .find(|f| &f.sha256 == sha)
            .map_or("", |f| f.file_name.as_str());
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("manifest entry {name} names {STORED_FILE_PREFIX}{sha}, which is not a file of app {app_id}: upload it first"),
        ));
    }
    super::manifest_check::check(
        &s.blobs,
        &bundle,
        &entries,
        s.config.limits.max_bundle_bytes,
    )
    .await?;
    let bundle = s
        .store
        .set_manifest(&app_id, &version, &entries, &s.stamp(&auth))
        .await?;
    if bundle.session_key.is_empty() {
        prepare_patches(&s, &app_id, &version).await;
    }
    Ok(Json(bundle))
}

/// Queues patches to the new bundle from the app's latest other plain
/// manifest bundles (see `crate::patches`); a failure only costs the first
/// devices their patches.
async fn prepare_patches(s: &AppState, app_id: &str, version: &str) {
    let Ok(mut all) = s.store.list_bundles(app_id).await else {
        return;
    };
    all.retain(|b| {
        !b.deleted && b.version != version && b.session_key.is_empty() && !b.manifest.is_empty()
    });
    all.sort_by_key(|b| std::cmp::Reverse((b.created_at, b.id)));
    let from: Vec<String> = all
        .into_iter()
        .take(crate::patches::PREPARE_FROM)
        .map(|b| b.version)
        .collect();
    s.patches.prepare(app_id, &from, version);
}
