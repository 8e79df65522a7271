//! Content-addressed bundle storage: each blob lives under `bundles/<sha256>.zip`
//! and never changes, so it can be served with a strong ETag and cached forever.
//! Backed by `object_store`: local disk by default, an S3-compatible bucket
//! ([`Blobs::s3`]) when nodes share one, in memory for tests; local files
//! are read for downloads by [`file_chunks`], in large chunks.

#![deny(missing_docs)]

mod file_chunks;

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use tokio::io::AsyncReadExt;

/// A blob storage failure.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No blob has this SHA-256 (hex).
    #[error("blob {0} not found")]
    NotFound(String),
    /// The object store failed (disk, network): retrying may work.
    #[error("storage error: {0}")]
    Storage(String),
    /// The object store refused this server (a wrong or insufficient key):
    /// retrying does not help until an operator fixes it.
    #[error("storage refused: {0}")]
    Refused(String),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => Self::NotFound(path),
            e @ (object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }) => Self::Refused(e.to_string()),
            other => Self::Storage(other.to_string()),
        }
    }
}

/// Where an S3-compatible bucket is and how to reach it.
#[derive(Clone, Default)]
pub struct S3Settings {
    /// The bucket's name.
    pub bucket: String,
    /// The store's URL for a store other than AWS (`http://127.0.0.1:3900`,
    /// `https://<account>.r2.cloudflarestorage.com`); `http://` is allowed
    /// only when given here.
    pub endpoint: Option<String>,
    /// The region (`auto` for R2; Garage's own name); absent: `AWS_REGION`,
    /// else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which self-hosted
    /// stores need; otherwise virtual-hosted (the bucket in the host name;
    /// with an endpoint, the endpoint must name the bucket itself).
    pub path_style: bool,
    /// Every key under this prefix (`prod/`): one bucket for several servers.
    pub prefix: Option<String>,
    /// The access key id; the environment's when absent.
    pub access_key_id: Option<String>,
    /// The secret access key; the environment's when absent.
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    /// Everything but the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Bundle blob storage.
#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store: downloads read its files directly.
    local: Option<PathBuf>,
    /// A bucket's own client (it signs URLs) and its key prefix.
    bucket: Option<(Arc<object_store::aws::AmazonS3>, String)>,
}

/// A blob opened for reading: its size, and its bytes on demand.
#[derive(Debug)]
pub struct Blob {
    /// Its length in bytes.
    pub size: u64,
    source: Source,
}

#[derive(Debug)]
enum Source {
    File(std::fs::File),
    Store(Arc<dyn ObjectStore>, Path),
}

impl Blob {
    /// Streams the blob, or the byte range of it (within `0..size`).
    pub async fn stream(
        self,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        match self.source {
            Source::File(f) => Ok(file_chunks::stream(f, range.unwrap_or(0..self.size))),
            Source::Store(store, key) => {
                let opts = GetOptions {
                    range: range.map(GetRange::Bounded),
                    ..Default::default()
                };
                let res = store.get_opts(&key, opts).await?;
                Ok(res
                    .into_stream()
                    .map(|r| r.map_err(BlobError::from))
                    .boxed())
            }
        }
    }
}

/// Files up to this size go to a bucket in one `PUT`; larger ones in parts.
const SINGLE_PUT_MAX: u64 = 5 * 1024 * 1024;

fn key(sha256: &str) -> Path {
    Path::from(format!("bundles/{sha256}.zip"))
}

impl Blobs {
    /// Blobs in a directory on local disk (created if missing). Staged
    /// writes left by a crash (`bundles/<sha>.zip#<n>`, never visible as
    /// blobs) are removed: the directory belongs to this process.
    pub fn local(dir: &FsPath) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| BlobError::Storage(format!("{}: {e}", dir.display())))?;
        if let Ok(entries) = std::fs::read_dir(dir.join("bundles")) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().contains('#') {
                    match std::fs::remove_file(e.path()) {
                        Ok(()) => {
                            tracing::info!(file = %e.path().display(), "removed a partial bundle file left by a crash");
                        }
                        Err(err) => {
                            tracing::warn!(file = %e.path().display(), error = %err, "cannot remove a partial bundle file");
                        }
                    }
                }
            }
        }
        let fs = LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self {
            store: Arc::new(fs),
            local: Some(dir.to_path_buf()),
            bucket: None,
        })
    }

    /// Blobs in an S3-compatible bucket (AWS S3, R2, GCS's S3 API, MinIO,
    /// Garage). Without keys here the credentials (and region) come from
    /// the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, an
    /// instance role, …). An upload is a
    /// multipart upload: the object appears only once complete, and one
    /// that fails is aborted.
    pub fn s3(s: &S3Settings) -> Result<Self, BlobError> {
        use object_store::aws::AmazonS3Builder;
        // Keys given here are the whole identity: no AWS_* variable (a
        // stray session token, an endpoint, `allow_http`) mixes in.
        let mut b = match (&s.access_key_id, &s.secret_access_key) {
            (Some(id), Some(secret)) => AmazonS3Builder::new()
                .with_access_key_id(id)
                .with_secret_access_key(secret),
            _ => AmazonS3Builder::from_env(),
        }
        .with_bucket_name(&s.bucket)
        .with_virtual_hosted_style_request(!s.path_style)
        // A download to a slow phone may take minutes: no limit on a whole
        // request, but on connecting; a store that is down fails in seconds.
        .with_client_options(
            object_store::ClientOptions::new()
                .with_timeout_disabled()
                .with_connect_timeout(std::time::Duration::from_secs(5)),
        )
        // After the client options, which hold it.
        .with_allow_http(
            s.endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://")),
        )
        .with_retry(object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(15),
            ..Default::default()
        });
        if let Some(r) = &s.region {
            b = b.with_region(r);
        }
        if let Some(e) = &s.endpoint {
            b = b.with_endpoint(e);
        }
        let bucket = Arc::new(b.build()?);
        let prefix = s
            .prefix
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_default();
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            bucket.clone()
        } else {
            let shared: Arc<dyn ObjectStore> = bucket.clone();
            Arc::new(object_store::prefix::PrefixStore::new(
                shared,
                prefix.as_str(),
            ))
        };
        Ok(Self {
            store,
            local: None,
            bucket: Some((bucket, prefix)),
        })
    }

    /// The blob's key in the bucket, its prefix included
    /// (`prod/bundles/<sha>.zip`): its path under a public base URL.
    pub fn bucket_key(&self, sha256: &str) -> String {
        let prefix = self.bucket.as_ref().map_or("", |(_, p)| p.as_str());
        Path::from(format!("{prefix}/{}", key(sha256))).to_string()
    }

    /// A URL of the blob in the bucket that anyone may `GET` for `valid`
    /// (S3 query-string signing; nothing is sent to the store). `None`
    /// without a bucket.
    pub async fn presigned_url(
        &self,
        sha256: &str,
        valid: std::time::Duration,
    ) -> Result<Option<String>, BlobError> {
        use object_store::signer::Signer as _;
        let Some((bucket, _)) = &self.bucket else {
            return Ok(None);
        };
        let path = Path::from(self.bucket_key(sha256));
        let url = bucket.signed_url(http::Method::GET, &path, valid).await?;
        Ok(Some(url.to_string()))
    }

    /// Checks that the store answers and lets this server in (one listing
    /// call): a wrong bucket, region or key stops the start, not the first
    /// upload.
    pub async fn check(&self) -> Result<(), BlobError> {
        let prefix = Path::from("bundles");
        let mut listing = self.store.list(Some(&prefix));
        match listing.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.into()),
        }
    }

    /// Whether the blobs live on this node's disk (not shared with other nodes).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// Blobs in memory (tests).
    pub fn memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
            local: None,
            bucket: None,
        }
    }

    /// Stores the file at `file` under `sha256` (the caller computed and
    /// verified it). The blob becomes visible only once fully written. On
    /// disk, a blob already stored under that name is kept only if its bytes
    /// really hash to it; a damaged one (a bad disk, a hand edit) is
    /// replaced. In a bucket it is always written again (one upload instead
    /// of a download to check it, and never trusting an object a removal
    /// still in flight may take).
    pub async fn put_file(&self, sha256: &str, file: &FsPath) -> Result<(), BlobError> {
        if self.is_local() && self.size(sha256).await?.is_some() {
            if self.hash_of(sha256).await? == sha256 {
                return Ok(()); // content-addressed: same bytes already stored
            }
            tracing::warn!(
                sha256,
                "a stored bundle file did not match its hash; replacing it"
            );
        }
        let mut f = tokio::fs::File::open(file)
            .await
            .map_err(|e| BlobError::Storage(e.to_string()))?;
        let len = f
            .metadata()
            .await
            .map_err(|e| BlobError::Storage(e.to_string()))?
            .len();
        if !self.is_local() && len <= SINGLE_PUT_MAX {
            // One request instead of three (a manifest's files are mostly
            // small); a single PUT is whole or absent too.
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            f.read_to_end(&mut bytes)
                .await
                .map_err(|e| BlobError::Storage(e.to_string()))?;
            self.store.put(&key(sha256), bytes.into()).await?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&key(sha256)).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut buf = vec![0u8; 1 << 20];
        let copied: Result<(), BlobError> = async {
            loop {
                let n = f
                    .read(&mut buf)
                    .await
                    .map_err(|e| BlobError::Storage(e.to_string()))?;
                if n == 0 {
                    return Ok(());
                }
                writer.wait_for_capacity(4).await?;
                writer.write(&buf[..n]);
            }
        }
        .await;
        match copied {
            // Finishing makes the object visible whole, or fails with none.
            Ok(()) => {
                writer.finish().await?;
                Ok(())
            }
            // Nothing half-written stays behind: the upload's parts are dropped.
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(sha256, error = %abort, "could not abort a failed bundle upload");
                }
                Err(e)
            }
        }
    }

    /// The SHA-256 (lowercase hex) of the stored bytes.
    async fn hash_of(&self, sha256: &str) -> Result<String, BlobError> {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        let mut stream = self.get(sha256, None).await?;
        while let Some(chunk) = stream.next().await {
            hasher.update(&chunk?);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// The blob's size, or `None` if it does not exist.
    pub async fn size(&self, sha256: &str) -> Result<Option<u64>, BlobError> {
        match self.store.head(&key(sha256)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the blob for reading, or `None` if it does not exist. A local
    /// file is opened once: the size and the bytes served are those of one
    /// file, even if the blob is deleted meanwhile.
    pub async fn open(&self, sha256: &str) -> Result<Option<Blob>, BlobError> {
        let Some(dir) = &self.local else {
            return Ok(self.size(sha256).await?.map(|size| Blob {
                size,
                source: Source::Store(self.store.clone(), key(sha256)),
            }));
        };
        // Names are hashes: anything else cannot be a blob (and must not
        // become a path).
        if sha256.is_empty() || !sha256.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let path = dir.join("bundles").join(format!("{sha256}.zip"));
        let opened = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&path)?;
            let size = f.metadata()?.len();
            Ok::<_, std::io::Error>((f, size))
        })
        .await
        .map_err(|e| BlobError::Storage(e.to_string()))?;
        match opened {
            Ok((f, size)) => Ok(Some(Blob {
                size,
                source: Source::File(f),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::Storage(format!(
                "opening bundle file {sha256}: {e}"
            ))),
        }
    }

    /// Streams the blob, or the byte range of it.
    pub async fn get(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        match self.open(sha256).await? {
            Some(blob) => blob.stream(range).await,
            None => Err(BlobError::NotFound(key(sha256).to_string())),
        }
    }

    /// Removes the blob (missing is fine).
    pub async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        match self.store.delete(&key(sha256)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_range_delete_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(&dir.path().join("blobs")).unwrap();
        let src = dir.path().join("src.zip");
        std::fs::write(&src, b"0123456789").unwrap();
        blobs.put_file("abc", &src).await.unwrap();
        assert_eq!(blobs.size("abc").await.unwrap(), Some(10));
        let part: Vec<Bytes> = blobs
            .get("abc", Some(2..5))
            .await
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
            .await;
        assert_eq!(part.concat(), b"234");
        // A damaged stored blob is replaced by a correct re-upload; a good one is kept.
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"0123456789"));
        blobs.put_file(&sha, &src).await.unwrap();
        let stored = dir.path().join("blobs/bundles").join(format!("{sha}.zip"));
        std::fs::write(&stored, b"012345").unwrap();
        blobs.put_file(&sha, &src).await.unwrap();
        assert_eq!(std::fs::read(&stored).unwrap(), b"0123456789");
        // Staged files left by a crash are removed when the storage opens.
        let staged = dir
            .path()
            .join("blobs/bundles")
            .join(format!("{sha}.zip#7"));
        std::fs::write(&staged, b"01").unwrap();
        let blobs = Blobs::local(&dir.path().join("blobs")).unwrap();
        assert!(!staged.exists());
        assert_eq!(blobs.size(&sha).await.unwrap(), Some(10));
        blobs.delete("abc").await.unwrap();
        assert_eq!(blobs.size("abc").await.unwrap(), None);
        assert!(matches!(
            blobs.get("abc", None).await,
            Err(BlobError::NotFound(_))
        ));
    }

    /// Local files are read in chunks: ranges that cross chunk boundaries,
    /// the whole file, one byte, and a file cut short under the reader.
    #[tokio::test]
    async fn local_files_stream_in_chunks_across_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(&dir.path().join("blobs")).unwrap();
        let bytes: Vec<u8> = (0..(2 * file_chunks::CHUNK + 1000))
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        let src = dir.path().join("src.zip");
        std::fs::write(&src, &bytes).unwrap();
        blobs.put_file("big", &src).await.unwrap();
        let chunk = file_chunks::CHUNK;
        let len = bytes.len() as u64;
        for range in [
            None,
            Some(0..1),
            Some(chunk - 3..chunk + 5),
            Some(10..len),
            Some(len - 1..len),
        ] {
            let want = match &range {
                None => &bytes[..],
                Some(r) => {
                    &bytes[usize::try_from(r.start).unwrap()..usize::try_from(r.end).unwrap()]
                }
            };
            let got: Vec<Bytes> = blobs
                .get("big", range.clone())
                .await
                .unwrap()
                .map(|b| b.unwrap())
                .collect()
                .await;
            assert_eq!(got.concat(), want, "{range:?}");
            assert!(got.iter().all(|c| c.len() as u64 <= chunk), "{range:?}");
        }
        // Opened, then cut short on disk: the stream fails instead of ending early.
        let blob = blobs.open("big").await.unwrap().unwrap();
        assert_eq!(blob.size, len);
        let stored = dir.path().join("blobs/bundles/big.zip");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&stored)
            .unwrap()
            .set_len(chunk + 10)
            .unwrap();
        let parts: Vec<Result<Bytes, BlobError>> = blob.stream(None).await.unwrap().collect().await;
        assert!(
            matches!(parts.last(), Some(Err(BlobError::Storage(_)))),
            "{parts:?}"
        );
        assert_eq!(blobs.open("nope").await.unwrap().map(|b| b.size), None);
    }
}
