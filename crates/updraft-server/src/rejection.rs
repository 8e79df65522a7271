//! The one owner of the rule "every error reply is the JSON error envelope".
//!
//! axum's own rejections (a path parameter of the wrong type, a malformed
//! query string, a body that cannot be read) become [`ApiError`]s through the
//! [`Path`] and [`Query`] wrappers and the `From` impls here (the body
//! extractor `JsonBody` uses the `Bytes` one), with a precise
//! code. [`envelope_errors`] then rewrites any error reply that is still not
//! JSON — a 405 from the router, a body limit or timeout hit by a plain
//! `Bytes` extractor — into the envelope, keeping its status and headers
//! (such as `Allow`). The dashboard's error pages (HTML) stay as they are.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::FromRequestParts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCode};

/// `axum::extract::Path` whose rejection is the JSON envelope
/// (`invalid_path_parameter`, 400).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub T);

/// `axum::extract::Query` whose rejection is the JSON envelope
/// (`invalid_query`, 400).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        match r {
            PathRejection::FailedToDeserializePathParams(e) => {
                ApiError::bad_request("invalid_path_parameter", e.body_text())
            }
            other => ApiError::internal("path parameters", other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        from_status(r.status(), &r.body_text())
    }
}

/// An envelope for a bare status: the code is the status's reason in
/// snake case (`method_not_allowed`, `payload_too_large`, …).
fn from_status(status: StatusCode, message: &str) -> ApiError {
    let reason = status.canonical_reason().unwrap_or("error");
    let code = reason.to_ascii_lowercase().replace([' ', '-'], "_");
    let message = if message.trim().is_empty() {
        reason.to_string()
    } else {
        message.trim().to_string()
    };
    ApiError::new(status, &code, message)
}

/// Marks a reply rendered for people (a dashboard page, errors included),
/// which stays as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HtmlPage;

/// Whether a reply is already the envelope, or a dashboard page.
fn is_final(res: &Response) -> bool {
    res.extensions().get::<HtmlPage>().is_some()
        || res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
}

/// Rewrites a non-JSON error reply into the envelope (middleware).
pub(crate) async fn envelope_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_final(&res) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // Rejections and framework replies are short; a longer text is not a message.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .unwrap_or_default();
    let mut err = from_status(status, &text);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        if let Some(allow) = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
        {
            err.body.message = format!("this path does not accept that method; it accepts {allow}");
        } else {
            err.body.message = "this path does not accept that method".into();
        }
    }
    let (envelope, body) = err.into_response().into_parts();
    if let Some(code) = envelope.extensions.get::<ErrorCode>() {
        parts.extensions.insert(code.clone());
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, body)
}
