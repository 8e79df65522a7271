//! Bundle files: `GET`/`HEAD /files/{sha256}.zip` (a bundle's zip) and
//! `/files/{sha256}` (a manifest file, sent as opaque bytes: a `.br` entry's
//! Brotli stream is the plugin's to decode, so no `Content-Encoding`).
//! Content-addressed and immutable, with a strong ETag, `Range` (206/416)
//! and long-lived caching. With `[storage] download_base_url` or
//! `presign_secs` a stored file is answered with a 302 to the bucket (its
//! public URL, or a presigned one) instead, after checking it exists.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

use crate::config::Downloads;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Parses a single `bytes=` range against `size`. `Ok(None)`: serve everything.
fn parse_range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: answer with the whole file
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            if n == 0 || size == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size - 1)
        }
        (s, "") => (s.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (s, e) => {
            let (s, e): (u64, u64) = (s.parse().map_err(|_| ())?, e.parse().map_err(|_| ())?);
            (s, e.min(size.saturating_sub(1)))
        }
    };
    if start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// A 302 to `to`, cached as `cache`.
fn redirect(to: &str, cache: &'static str) -> ApiResult<Response> {
    let location = header::HeaderValue::from_str(to)
        .map_err(|e| ApiError::internal("a redirect's location", e))?;
    let mut res = StatusCode::FOUND.into_response();
    res.headers_mut().insert(header::LOCATION, location);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache),
    );
    Ok(res)
}

/// Serves one bundle file.
pub(crate) async fn bundle_file(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let sha = file.strip_suffix(".zip").unwrap_or(&file);
    if sha.len() != 64
        || !sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(ApiError::not_found("no such bundle file"));
    }
    match &state.config.storage.downloads {
        Downloads::Stream => {}
        Downloads::Redirect(base) => {
            if state.blobs.size(sha).await?.is_none() {
                return Err(ApiError::not_found("no such bundle file"));
            }
            let to = format!("{base}/{}", state.blobs.bucket_key(sha));
            // The file under that URL never changes; the base URL might.
            return redirect(&to, "public, max-age=3600");
        }
        Downloads::Presign(valid) => {
            if state.blobs.size(sha).await?.is_none() {
                return Err(ApiError::not_found("no such bundle file"));
            }
            let Some(to) = state.blobs.presigned_url(sha, *valid).await? else {
                return Err(ApiError::internal("presigning", "no bucket to presign for"));
            };
            // A link that expires must not be cached past its time.
            return redirect(&to, "private, no-store");
        }
    }
    let Some(blob) = state.blobs.open(sha).await? else {
        return Err(ApiError::not_found("no such bundle file"));
    };
    let size = blob.size;
    let etag = format!("\"{sha}\"");
    let mut res = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(
            header::CACHE_CONTROL,
            "public, max-age=31536000, immutable, no-transform",
        )
        .header(
            header::CONTENT_TYPE,
            if file.ends_with(".zip") {
                "application/zip"
            } else {
                "application/octet-stream"
            },
        );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(res
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .expect("response")
            .into_response());
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        // If-Range with another validator: serve the whole file.
        Some(r)
            if headers
                .get(header::IF_RANGE)
                .is_none_or(|v| v.to_str().ok() == Some(etag.as_str())) =>
        {
            parse_range(r, size)
        }
        _ => Ok(None),
    };
    let (status, start, end) = match range {
        Ok(Some((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e),
        Ok(None) => (StatusCode::OK, 0, size.saturating_sub(1)),
        Err(()) => {
            // A fresh reply: the file's validator and year-long caching must
            // not let a cache keep this error in place of the file.
            return Ok(Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::ACCEPT_RANGES, "bytes")
                .header(header::CACHE_CONTROL, "no-store")
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .body(Body::empty())
                .expect("response")
                .into_response());
        }
    };
    let len = if size == 0 { 0 } else { end - start + 1 };
    res = res.status(status).header(header::CONTENT_LENGTH, len);
    if status == StatusCode::PARTIAL_CONTENT {
        res = res.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
    }
    if method == Method::HEAD || len == 0 {
        return Ok(res.body(Body::empty()).expect("response").into_response());
    }
    let sha = sha.to_string();
    let stream = blob.stream(Some(start..end + 1)).await?.inspect_err(move |e| {
        // The status line is sent: the client sees a body cut short (and its
        // checksum fails); the operator sees why.
        tracing::error!(sha256 = %sha, error = %e, "a bundle file could not be read to the end");
    });
    Ok(res
        .body(Body::from_stream(stream))
        .expect("response")
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=50-1000", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=5-1", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
    }
}
