//! Bundle upload (the zip streamed to a temporary file, checked, then stored
//! content-addressed) and external registration (a bundle hosted elsewhere,
//! optionally with a per-file manifest), each with its checksum and encryption
//! checked before anything is kept.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use updraft_core::checksum::HOW_TO_ENCRYPT;
use updraft_core::layout::check_layout;
use updraft_protocol::api::*;
use updraft_store::NewBundle;

use super::api::{check_min_version, check_version, created, known_app, JsonBody};
use super::bundle_checks::{check_session_key, plain_checksum, public_key_for, Encryption};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::rejection::{Path, Query};
use crate::state::AppState;

/// Query parameters of a bundle upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadParams {
    /// A semver version (such as 1.2.3 or 1.2.3-beta.1; no leading `v`), never used before in the app.
    // No `pattern`: schemathesis 4.32.5 crashes on this one in a query parameter.
    #[param(example = "1.0.1")]
    pub(crate) version: String,
    /// The checksum devices verify; computed by the server when omitted for a plain bundle.
    #[serde(default)]
    pub(crate) checksum: Option<String>,
    /// Hex SHA-256 of the uploaded bytes; verified when given.
    #[serde(default)]
    pub(crate) sha256: Option<String>,
    #[serde(default)]
    pub(crate) session_key: Option<String>,
    #[serde(default)]
    pub(crate) key_id: Option<String>,
    /// The app's public key (PKCS#1 PEM) for an encrypted bundle: checked
    /// against the session key and checksum, and used to make the checksum
    /// Capgo's Electron updater verifies.
    #[serde(default)]
    pub(crate) public_key: Option<String>,
    #[serde(default)]
    pub(crate) min_update_version: Option<String>,
    /// JSON array text of native packages.
    #[serde(default)]
    pub(crate) native_packages: Option<String>,
    #[serde(default)]
    pub(crate) link: Option<String>,
    #[serde(default)]
    pub(crate) comment: Option<String>,
    /// Also point this channel at the new bundle (an ordinary deploy; a
    /// critical one is `PATCH …/channels/{name}` with `critical`, which also
    /// keeps a boolean out of this query: schemathesis 4.32.5 crashes on one
    /// among these parameters).
    #[serde(default)]
    pub(crate) channel: Option<String>,
}

/// `POST /api/v1/apps/{app_id}/bundles?version=…`: the zip is the raw body, streamed.
#[utoipa::path(
    post,
    path = "/apps/{app_id}/bundles",
    tag = "bundles",
    summary = r#"Upload a bundle zip"#,
    description = r#"Needs an API key of mode `upload` or higher. The zip is the raw body, streamed. The server hashes it, checks the checksum and, for plain zips, the layout (index.html at the root or under one folder; no '..', absolute or backslash paths). The checksum is of the plaintext zip: computed by the server when omitted for a plain bundle, required (the RSA-encrypted form, 512 hex) with `session_key`."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app"), UploadParams),
    request_body(content = crate::openapi::ZipBody, content_type = "application/octet-stream", description = "The bundle zip (for an encrypted bundle, the encrypted zip); any content type is accepted."),
    responses((status = 201, description = "Stored; `channel` is the channel pointed at it, when `channel` was given.", body = UploadedBundle)),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn upload_bundle(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    Query(p): Query<UploadParams>,
    body: Body,
) -> ApiResult<Response> {
    let app = known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    check_version(&p.version)?;
    // Refused before the body is read and stored: an upload onto a channel
    // that does not exist would otherwise keep the bundle and answer an
    // error, and the client's retry would find the version taken.
    if let Some(name) = &p.channel {
        if s.store.get_channel(&app_id, name).await?.is_none() {
            return Err(ApiError::bad_request(
                "unknown_channel",
                format!("channel {name:?} is not a channel of app {app_id}: create it first (`updraft channel create {name}`)"),
            ));
        }
    }
    let public_key = public_key_for(p.public_key.as_deref(), &app)?;
    let session_key = p.session_key.clone().unwrap_or_default();
    let encryption = if session_key.is_empty() {
        if let Some(c) = &p.checksum {
            plain_checksum(c)?;
        }
        None
    } else {
        check_session_key(&session_key)?;
        let Some(c) = &p.checksum else {
            return Err(ApiError::bad_request(
                "missing_checksum",
                format!("an encrypted bundle needs its checksum (the plaintext zip's SHA-256 RSA-encrypted with the app's private key); {HOW_TO_ENCRYPT}"),
            ));
        };
        Some(Encryption::check(
            &session_key,
            c,
            public_key.as_ref(),
            p.key_id.as_deref().filter(|k| !k.is_empty()),
        )?)
    };
    let native_packages = p
        .native_packages
        .as_deref()
        .map(|t| {
            serde_json::from_str::<Value>(t).map_err(|e| {
                ApiError::bad_request(
                    "invalid_native_packages",
                    format!("native_packages must be JSON: {e}"),
                )
            })
        })
        .transpose()?;
    let meta = BundleMeta {
        min_update_version: p.min_update_version.clone(),
        native_packages,
        link: p.link.clone(),
        comment: p.comment.clone(),
    };
    check_min_version(&meta)?;
    if s.store.get_bundle(&app_id, &p.version).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "bundle {} already exists in app {app_id} (version names are never reused, even after a delete); bump the version",
            p.version
        )));
    }

    // With the public key, the plaintext is hashed too, as a device will.
    let mut plain = encryption.as_ref().and_then(Encryption::plaintext_hasher);
    let spooled = super::spool::spool(&s, body, |chunk| {
        if let Some(p) = plain.as_mut() {
            p.update(chunk);
        }
    })
    .await?;
    let (tmp, size) = (spooled.file, spooled.size);
    if size == 0 {
        return Err(ApiError::bad_request(
            "empty_bundle",
            "the request body is empty; send the zip as the body",
        ));
    }
    let sha = spooled.sha256;
    if let Some(expected) = &p.sha256 {
        if !expected.eq_ignore_ascii_case(&sha) {
            return Err(ApiError::bad_request("checksum_mismatch", format!("the uploaded bytes hash to {sha}, not {expected}: the upload was corrupted; retry")));
        }
    }
    let (checksum, key_id, electron_checksum) = if let Some(enc) = &encryption {
        if let Some(p) = plain {
            enc.verify_plaintext(p)?;
        }
        // The blob is the encrypted zip as served, so its hash is what Electron hashes.
        (
            enc.checksum.clone(),
            enc.key_id.clone(),
            enc.electron_checksum(&sha)?,
        )
    } else {
        if let Some(c) = &p.checksum {
            if !c.eq_ignore_ascii_case(&sha) {
                return Err(ApiError::bad_request(
                    "checksum_mismatch",
                    format!("the zip's SHA-256 is {sha} but the checksum given is {c}; the upload was corrupted or the checksum is wrong"),
                ));
            }
        }
        // Only a plain zip can be read; an encrypted one is opaque to the server.
        let path = tmp.path().to_path_buf();
        let names = tokio::task::spawn_blocking(move || -> Result<Vec<String>, String> {
            let f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
            let z = zip::ZipArchive::new(f).map_err(|e| format!("not a valid zip file: {e}"))?;
            Ok(z.file_names().map(str::to_string).collect())
        })
        .await
        .map_err(|e| ApiError::internal("zip check task", e))?
        .map_err(|e| ApiError::bad_request("invalid_zip", e))?;
        check_layout(names.iter().map(String::as_str))
            .map_err(|e| ApiError::bad_request("invalid_zip", e.to_string()))?;
        (
            sha.clone(),
            p.key_id.clone().filter(|k| !k.is_empty()),
            None,
        )
    };
    let new = NewBundle {
        app_id: app_id.clone(),
        version: p.version.clone(),
        checksum,
        session_key,
        key_id,
        electron_checksum,
        storage: BundleStorage::Stored,
        blob_sha256: Some(sha.clone()),
        // Capped by max_bundle_bytes long before i64 ends.
        size: Some(i64::try_from(size).unwrap_or(i64::MAX)),
        external_url: None,
        manifest: Vec::new(),
        meta,
    };
    // Held while it is stored and recorded: no sweep removes it before the
    // bundle row exists; a failed upload's file is swept after the grace.
    let bundle = s
        .holding_file(&sha, async {
            s.blobs.put_file(&sha, tmp.path()).await?;
            Ok::<_, ApiError>(s.store.create_bundle(&new, &s.stamp(&auth)).await?)
        })
        .await?;
    let channel = match &p.channel {
        Some(name) => Some(assign(&s, &auth, &app_id, name, &p.version).await?),
        None => None,
    };
    Ok(created(UploadedBundle { bundle, channel }))
}

async fn assign(
    s: &AppState,
    auth: &Auth,
    app_id: &str,
    name: &str,
    version: &str,
) -> ApiResult<Channel> {
    auth.require_app(KeyMode::Upload, app_id)?;
    let patch = ChannelPatch {
        bundle: Some(Some(version.to_string())),
        ..Default::default()
    };
    Ok(s.store
        .update_channel(app_id, name, &patch, &s.stamp(auth))
        .await?
        .channel)
}

/// `POST /api/v1/apps/{app_id}/bundles/external`: register a bundle hosted elsewhere.
#[utoipa::path(
    post,
    path = "/apps/{app_id}/bundles/external",
    tag = "bundles",
    summary = r#"Register a bundle hosted on your own storage"#,
    description = r#"Needs an API key of mode `upload` or higher. Give `external_url` (the zip), `manifest` (its files), or both."#,
    params(("app_id" = String, Path, description = "The app id, in reverse-domain form (com.example.app).", example = "com.example.app")),
    request_body = NewExternalBundle,
    responses((status = 201, description = "Registered.", body = Bundle)),
    security(("bearer" = ["upload"]))
)]
pub(crate) async fn register_external(
    State(s): State<AppState>,
    auth: Auth,
    Path(app_id): Path<String>,
    JsonBody(b): JsonBody<NewExternalBundle>,
) -> ApiResult<Response> {
    let app = known_app(&s, &auth, KeyMode::Upload, &app_id).await?;
    check_version(&b.version)?;
    let public_key = public_key_for(b.public_key.as_deref(), &app)?;
    let is_url = |u: &str| u.starts_with("https://") || u.starts_with("http://");
    match &b.external_url {
        Some(u) if !is_url(u) => {
            return Err(ApiError::bad_request(
                "invalid_protocol",
                "external_url must be an absolute http(s) URL",
            ))
        }
        None if b.manifest.is_empty() => {
            return Err(ApiError::bad_request(
                "missing_external_url",
                "give external_url (the zip), manifest (its files), or both",
            ))
        }
        _ => {}
    }
    super::manifest_files::check_entries(&b.manifest, None)?;
    if let Some(e) = b.manifest.iter().find(|e| !is_url(&e.download_url)) {
        return Err(ApiError::bad_request(
            "invalid_manifest",
            format!(
                "manifest entry {} needs an absolute http(s) download_url",
                e.file_name
            ),
        ));
    }
    let session_key = b.session_key.clone().unwrap_or_default();
    let key_id = b.key_id.clone().filter(|k| !k.is_empty());
    let (checksum, key_id, electron_checksum) = if session_key.is_empty() {
        (plain_checksum(&b.checksum)?, key_id, None)
    } else {
        let enc = Encryption::check(
            &session_key,
            &b.checksum,
            public_key.as_ref(),
            key_id.as_deref(),
        )?;
        let electron = match b.encrypted_sha256.as_deref().filter(|s| !s.is_empty()) {
            Some(_) if !enc.has_key() => {
                return Err(ApiError::bad_request(
                    "missing_public_key",
                    "encrypted_sha256 needs the app's public key, which opens the session key the Electron checksum is made with: send public_key, or set it on the app (PATCH /api/v1/apps/{app_id} with public_key)",
                ))
            }
            Some(h) => enc.electron_checksum(h)?,
            None => None,
        };
        (enc.checksum.clone(), enc.key_id.clone(), electron)
    };
    check_min_version(&b.meta)?;
    let new = NewBundle {
        app_id: app_id.clone(),
        version: b.version.clone(),
        checksum,
        session_key,
        key_id,
        electron_checksum,
        storage: BundleStorage::External,
        blob_sha256: None,
        size: None,
        external_url: b.external_url.clone(),
        manifest: b.manifest.clone(),
        meta: b.meta.clone(),
    };
    let bundle = s.store.create_bundle(&new, &s.stamp(&auth)).await?;
    Ok(created(bundle))
}
