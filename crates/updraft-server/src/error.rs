//! `ApiError`: the one error type handlers return. It maps to a status and the
//! fixed envelope `{"error","message","moreInfo"}`; internal details travel
//! on the reply to the request log, which writes them on the request's line
//! with its request id, and are never returned.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};
use updraft_protocol::error::{ErrorBody, SoftError};
use updraft_store::StoreError;

/// The envelope's `error` code, kept on the reply (as a response extension)
/// so the request log can name it without reading the body.
#[derive(Debug, Clone)]
pub(crate) struct ErrorCode(pub Box<str>);

/// The cause of an internal error, kept on the reply (a response extension)
/// for the request log's line; never sent to the client.
#[derive(Debug, Clone)]
pub(crate) struct ErrorCause(pub Box<str>);

/// An error reply.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) body: ErrorBody,
    pub(crate) retry_after: Option<u64>,
    /// What went wrong inside, for the log only ([`ErrorCause`]).
    pub(crate) cause: Option<Box<str>>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::new(code, message),
            retry_after: None,
            cause: None,
        }
    }

    pub(crate) fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub(crate) fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub(crate) fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than the limit of {limit} bytes"),
        )
    }

    /// A full queue: the client should retry after `seconds`.
    pub(crate) fn busy(status: StatusCode, seconds: u64) -> Self {
        let mut e = Self::new(
            status,
            "too_many_requests",
            "the server is busy; retry shortly",
        );
        e.body
            .more_info
            .insert("retryAfterSeconds".into(), seconds.into());
        e.retry_after = Some(seconds);
        e
    }

    /// Capgo's answer for an app it does not serve: 429 `on_premise_app`,
    /// deliberately without a retry hint so the plugin keeps no block.
    pub(crate) fn unknown_app(app_id: &str) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "on_premise_app",
            "On-premise app detected",
        );
        e.body.more_info.insert("app_id".into(), app_id.into());
        e
    }

    /// A 500 whose cause (`context: err`) the request log writes, with the
    /// request id the client also got.
    pub(crate) fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; see the server log",
        );
        e.cause = Some(format!("{context}: {err}").into());
        e
    }

    /// The same reply with another `error` code.
    pub(crate) fn with_code(mut self, code: &str) -> Self {
        self.body.error = code.to_string();
        self
    }

    pub(crate) fn with_info(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.more_info.insert(key.into(), value.into());
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::not_found(m),
            StoreError::Conflict(m) => Self::conflict(m),
            StoreError::Revoked(m) => Self::new(StatusCode::CONFLICT, "bundle_revoked", m),
            StoreError::Invalid(m) => Self::bad_request("invalid_request", m),
            StoreError::UnknownBundle(m) => Self::bad_request("unknown_bundle", m),
            StoreError::UnknownChannel(m) => Self::bad_request("unknown_channel", m),
            StoreError::UnknownCohort(m) => Self::bad_request("unknown_cohort", m),
            StoreError::Backend(m) | StoreError::Unavailable(m) => Self::internal("store", m),
        }
    }
}

impl From<updraft_blob::BlobError> for ApiError {
    fn from(e: updraft_blob::BlobError) -> Self {
        match e {
            updraft_blob::BlobError::NotFound(m) => Self::not_found(format!("{m} not found")),
            // An operator's to fix: no retry hint.
            other @ updraft_blob::BlobError::Refused(_) => Self::internal("file storage", other),
            // The store is down or refuses: the same request may work soon
            // (and a load balancer may retry it on another node).
            other @ updraft_blob::BlobError::Storage(_) => {
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the file storage did not answer; retry shortly",
                );
                e.cause = Some(format!("file storage: {other}").into());
                e.retry_after = Some(5);
                e
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = ErrorCode(self.body.error.as_str().into());
        let mut res = (self.status, Json(self.body)).into_response();
        res.extensions_mut().insert(code);
        if let Some(cause) = self.cause {
            res.extensions_mut().insert(ErrorCause(cause));
        }
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

/// A soft error at HTTP 200 with `moreInfo` spread flat (Capgo's `simpleError200`);
/// the request log treats it as an error reply.
pub(crate) fn soft(code: &str, message: impl Into<String>, extra: &[(&str, Value)]) -> Response {
    let body = SoftError {
        error: code.into(),
        message: message.into(),
        extra: extra
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect::<Map<_, _>>(),
    };
    let mut res = (StatusCode::OK, Json(body)).into_response();
    res.extensions_mut().insert(ErrorCode(code.into()));
    res
}

/// Handler result.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
