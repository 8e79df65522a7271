//! Content-addressed bundle storage: each blob lives under `bundles/<sha256>.zip`
//! and never changes, so it can be served with a strong ETag and cached forever.
//! Backed by `object_store` (local disk by default, in memory for tests).

use std::ops::Range;
use std::path::Path as FsPath;
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
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("storage error: {0}")]
    Storage(String),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => Self::NotFound(path),
            other => Self::Storage(other.to_string()),
        }
    }
}

/// Bundle blob storage.
#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

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
                            tracing::info!(file = %e.path().display(), "removed a partial bundle file left by a crash")
                        }
                        Err(err) => {
                            tracing::warn!(file = %e.path().display(), error = %err, "cannot remove a partial bundle file")
                        }
                    }
                }
            }
        }
        let fs = LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self {
            store: Arc::new(fs),
        })
    }

    /// Blobs in memory (tests).
    pub fn memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
        }
    }

    /// Stores the file at `file` under `sha256` (the caller computed and
    /// verified it). The blob becomes visible only once fully written. A blob
    /// already stored under that name is kept only if its bytes really hash
    /// to it; a damaged one (a bad disk, a hand edit) is replaced.
    pub async fn put_file(&self, sha256: &str, file: &FsPath) -> Result<(), BlobError> {
        if self.size(sha256).await?.is_some() {
            if self.hash_of(sha256).await? == sha256 {
                return Ok(()); // content-addressed: same bytes already stored
            }
            tracing::warn!(
                sha256,
                "a stored bundle file did not match its hash; replacing it"
            );
        }
        let upload = self.store.put_multipart(&key(sha256)).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut f = tokio::fs::File::open(file)
            .await
            .map_err(|e| BlobError::Storage(e.to_string()))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f
                .read(&mut buf)
                .await
                .map_err(|e| BlobError::Storage(e.to_string()))?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(())
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

    /// Streams the blob, or the byte range of it.
    pub async fn get(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let res = self.store.get_opts(&key(sha256), opts).await?;
        Ok(res
            .into_stream()
            .map(|r| r.map_err(BlobError::from))
            .boxed())
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
}
