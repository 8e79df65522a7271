//! Manifest (delta) files of an app: which ones the server lacks, an uploaded
//! file, and the manifest that names them for an uploaded bundle.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/apps/{app_id}/files/missing`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilesQuery {
    /// Lower-case hex SHA-256 of the bytes a client would upload (the file,
    /// or its Brotli stream); at most 10,000 (more is a 400).
    // No `maxItems`: a schema fuzzer would send bodies past the JSON limit to
    // break it and get a 413 rather than the 400 it expects.
    pub sha256: Vec<String>,
}

/// The answer to `POST /api/v1/apps/{app_id}/files/missing`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MissingFiles {
    /// The hashes the app has no file for, each once, in the order asked;
    /// the others are kept for at least 24 hours from now.
    pub missing: Vec<String>,
}

/// A file stored for the app.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredFile {
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: i64,
}

/// One file of an uploaded bundle's manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestFileRef {
    /// The file's path in the bundle, `/`-separated; with `.br` when the stored bytes are Brotli.
    #[schema(example = "js/app.js.br")]
    pub file_name: String,
    /// Lower-case hex SHA-256 of the file as the device stores it (plain,
    /// decompressed), or its RSA-encrypted form (512 hex) for an encrypted bundle.
    pub file_hash: String,
    /// The stored file that holds its bytes (see `PUT /apps/{app_id}/files/{sha256}`).
    pub sha256: String,
}

/// `PUT /api/v1/apps/{app_id}/bundles/{version}/manifest`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewManifest {
    /// Every file of the bundle, at most 50,000 (more is a 400).
    // No `maxItems`, as for `FilesQuery::sha256`.
    pub files: Vec<ManifestFileRef>,
}
