//! An uploaded body streamed to a temporary file under the data folder,
//! hashed and bounded by `max_bundle_bytes` as it arrives. A cut-off or
//! oversized upload fails here and the temporary file is removed: nothing
//! partial is kept.

use std::io::Write as _;

use axum::body::Body;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A body on disk: the file, the lower-case hex SHA-256 of its bytes, and their count.
pub(crate) struct Spooled {
    /// The temporary file (removed when dropped).
    pub(crate) file: NamedTempFile,
    /// Hex SHA-256 of the bytes.
    pub(crate) sha256: String,
    /// How many bytes.
    pub(crate) size: u64,
}

/// Streams `body` to a temporary file; `also` sees every chunk (to hash a
/// decrypted form as it passes, say).
pub(crate) async fn spool(
    s: &AppState,
    body: Body,
    mut also: impl FnMut(&[u8]),
) -> ApiResult<Spooled> {
    let tmp_dir = s.config.storage.data_dir.join("tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(|e| ApiError::internal("create tmp dir", e))?;
    let mut file =
        NamedTempFile::new_in(&tmp_dir).map_err(|e| ApiError::internal("create temp file", e))?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let limit = s.config.limits.max_bundle_bytes;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("upload_interrupted", format!("the upload was cut off: {e}"))
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::too_large(limit));
        }
        hasher.update(&chunk);
        also(&chunk);
        file.write_all(&chunk)
            .map_err(|e| ApiError::internal("write temp file", e))?;
    }
    file.flush()
        .map_err(|e| ApiError::internal("flush temp file", e))?;
    Ok(Spooled {
        file,
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}
