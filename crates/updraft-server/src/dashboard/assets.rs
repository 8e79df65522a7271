//! The dashboard's stylesheet and script, compiled into the binary (no CDN,
//! no build step) and served under a path that names their content's hash,
//! so browsers may keep them for a year and a new build is never stale.

use std::sync::LazyLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::rejection::Path;

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

/// The first 12 hex digits of the SHA-256 of `text`.
fn short_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..12].to_string()
}

/// `/ui/assets/app.<hash>.css`.
pub(crate) static CSS_PATH: LazyLock<String> =
    LazyLock::new(|| format!("/ui/assets/app.{}.css", short_hash(CSS)));
/// `/ui/assets/app.<hash>.js`.
pub(crate) static JS_PATH: LazyLock<String> =
    LazyLock::new(|| format!("/ui/assets/app.{}.js", short_hash(JS)));

/// `GET /ui/assets/{name}`: the stylesheet or the script by its current
/// name; 404 for any other (an old hash included).
pub(crate) async fn serve(Path(name): Path<String>) -> Response {
    let path = format!("/ui/assets/{name}");
    let (body, kind) = if path == *CSS_PATH {
        (CSS, "text/css; charset=utf-8")
    } else if path == *JS_PATH {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return crate::error::ApiError::not_found(format!("no asset {name}")).into_response();
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}
