//! Manifest (delta) files: the calls of `/apps/{app}/files/…` and
//! `/apps/{app}/bundles/{version}/manifest`.

use bytes::Bytes;
use updraft_protocol::api::{Bundle, FilesQuery, MissingFiles, NewManifest, StoredFile};

use crate::{enc, Client, Result};

impl Client {
    /// `POST /apps/{app}/files/missing`: which of `sha256` (at most 10,000)
    /// the app has not stored; the ones it has are kept for a day from now.
    pub async fn missing_files(&self, app: &str, sha256: &[String]) -> Result<Vec<String>> {
        let q = FilesQuery {
            sha256: sha256.to_vec(),
        };
        let r: MissingFiles = self
            .post(&format!("/apps/{}/files/missing", enc(app)), &q)
            .await?;
        Ok(r.missing)
    }

    /// `PUT /apps/{app}/files/{sha256}`: stores `data`, which must hash to `sha256`.
    pub async fn upload_file(&self, app: &str, sha256: &str, data: Bytes) -> Result<StoredFile> {
        let url = self.url(&format!("/apps/{}/files/{}", enc(app), enc(sha256)));
        let req = self
            .http
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(data);
        self.json(req, &url).await
    }

    /// `PUT /apps/{app}/bundles/{version}/manifest`: gives an uploaded bundle
    /// its manifest of stored files (set once; the same one again is accepted).
    pub async fn set_manifest(&self, app: &str, version: &str, m: &NewManifest) -> Result<Bundle> {
        self.put(
            &format!("/apps/{}/bundles/{}/manifest", enc(app), enc(version)),
            m,
        )
        .await
    }
}
