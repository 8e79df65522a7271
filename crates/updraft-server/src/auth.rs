//! API keys: generation, hashing, and the `Auth` extractor with its mode and
//! app allow-list checks. Keys are stored as SHA-256 hashes only.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use updraft_protocol::api::{ApiKey, KeyMode};

use crate::error::ApiError;
use crate::state::AppState;

/// A new random secret: `upd_` and 40 alphanumerics (about 238 bits).
pub(crate) fn new_secret() -> String {
    format!(
        "upd_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
    )
}

/// The stored form of a secret.
pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The authenticated key of a management request.
#[derive(Debug, Clone)]
pub(crate) struct Auth(pub ApiKey);

impl Auth {
    /// Requires at least `mode`.
    pub(crate) fn require(&self, mode: KeyMode) -> Result<(), ApiError> {
        if self.0.mode >= mode {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this API key has mode {}; this operation needs {} or higher",
                self.0.mode.as_str(),
                mode.as_str()
            )))
        }
    }

    /// Whether the key may see `app_id`.
    pub(crate) fn can_see(&self, app_id: &str) -> bool {
        self.0.apps.is_empty() || self.0.apps.iter().any(|a| a == app_id)
    }

    /// Whether `other` lies within this key's reach: every app it may touch is
    /// one this key may touch. Keys only see and manage keys within their reach.
    pub(crate) fn reaches(&self, other: &ApiKey) -> bool {
        self.0.apps.is_empty()
            || (!other.apps.is_empty() && other.apps.iter().all(|a| self.can_see(a)))
    }

    /// Requires at least `mode` on `app_id`.
    pub(crate) fn require_app(&self, mode: KeyMode, app_id: &str) -> Result<(), ApiError> {
        self.require(mode)?;
        if self.can_see(app_id) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this API key is not allowed to access app {app_id}"
            )))
        }
    }
}

/// Reads the key from `Authorization: Bearer K`, Capgo's raw `authorization: K`,
/// or `capgkey: K`.
fn presented_key(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get("capgkey").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    let v = parts.headers.get("authorization")?.to_str().ok()?.trim();
    let v = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .unwrap_or(v);
    Some(v.trim().to_string())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = presented_key(parts).filter(|k| !k.is_empty()) else {
            return Err(ApiError::unauthorized(
                "no_key_provided",
                "send an API key as `Authorization: Bearer <key>`",
            ));
        };
        let key = key_by_hash(state, &hash_secret(&secret)).await?;
        if let Some(checked) = parts.extensions.get::<crate::access_log::KeyChecked>() {
            checked.mark();
        }
        Ok(Auth(key))
    }
}

/// The live key whose secret hashes to `hash`: 401 when there is none or it
/// has expired. The API's bearer keys and the dashboard's sessions (which
/// keep the hash of the key they were opened with) both come through here,
/// so both re-check the key on every request.
pub(crate) async fn key_by_hash(state: &AppState, hash: &str) -> Result<ApiKey, ApiError> {
    let found = state.store.find_api_key(hash).await?;
    let Some(stored) = found.filter(|k| bool::from(k.hash.as_bytes().ct_eq(hash.as_bytes())))
    else {
        return Err(ApiError::unauthorized(
            "invalid_apikey",
            "this API key is not valid",
        ));
    };
    if stored.key.expires_at.is_some_and(|t| t <= state.now_ms()) {
        return Err(ApiError::unauthorized(
            "invalid_apikey",
            "this API key has expired; create a new one",
        ));
    }
    Ok(stored.key)
}
