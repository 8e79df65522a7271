//! Shared server state handed to every handler.

use std::sync::Arc;

use axum::http::HeaderMap;
use updraft_blob::Blobs;
use updraft_store::Store;

use crate::config::Config;
use crate::snapshot::Snapshots;
use crate::writer::Writer;

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub blobs: Blobs,
    pub snapshots: Arc<Snapshots>,
    pub writer: Writer,
    pub config: Arc<Config>,
}

impl AppState {
    /// The external base URL: `UPDRAFT_PUBLIC_URL`, else derived from `Host`.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(u) = &self.config.public_url {
            return u.clone();
        }
        let scheme = if self.config.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| self.config.listen.to_string());
        format!("{scheme}://{host}")
    }
}
