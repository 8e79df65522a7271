//! Dashboard sessions: the browser holds a random token in a cookie; the
//! server keeps its hash with the hash of the API key it was opened with
//! ([`updraft_store::SessionStore`]). [`Signed`] reads the cookie on every
//! page and re-checks the key through [`crate::auth::key_by_hash`], so a
//! page is exactly as allowed as the API with that key, and a deleted or
//! expired key ends its sessions at once, on every node.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use updraft_store::DashSession;

use super::layout::PageError;
use crate::auth::{hash_secret, key_by_hash, Auth};
use crate::state::AppState;

/// The cookie's name.
pub(crate) const COOKIE: &str = "updraft_session";
/// A session unused this long ends (12 hours).
pub(crate) const IDLE_MS: i64 = 12 * 3_600_000;
/// A session ends this long after sign-in whatever happens (7 days), and
/// never after its key expires.
pub(crate) const MAX_MS: i64 = 7 * 86_400_000;
/// Length of a session token (alphanumerics, about 238 bits).
const TOKEN_LEN: usize = 40;

/// A signed-in page request: the session's key, as the API would see it,
/// and the session's CSRF token for the forms it renders.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub(crate) auth: Auth,
    pub(crate) csrf: String,
    pub(crate) token_hash: String,
}

/// The CSRF token of a session: derived from its secret token, so it needs
/// no storage and cannot be guessed without the cookie.
pub(crate) fn csrf_of(token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(b"updraft dashboard csrf");
    hex::encode(mac.finalize().into_bytes())
}

/// The session token the request's cookie carries, when well-formed.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .find(|t| t.len() == TOKEN_LEN && t.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_string)
}

/// Opens a session for the key whose secret hashes to `key_hash` (already
/// checked live, expiring at `key_expires`); returns the token to set.
pub(crate) async fn open(
    state: &AppState,
    key_hash: &str,
    key_expires: Option<i64>,
) -> Result<String, PageError> {
    let token = crate::auth::new_secret();
    let token = token.trim_start_matches("upd_").to_string();
    let now = state.now_ms();
    let expires_at = key_expires.map_or(now + MAX_MS, |k| k.min(now + MAX_MS));
    state
        .store
        .create_session(&DashSession {
            token_hash: hash_secret(&token),
            key_hash: key_hash.to_string(),
            created_at: now,
            // The store keeps it within the absolute expiry.
            idle_until: now + IDLE_MS,
            expires_at,
        })
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(token)
}

/// The `Set-Cookie` value for `token`; `None` clears the cookie.
pub(crate) fn cookie(state: &AppState, token: Option<&str>) -> String {
    // Secure when the browser reaches the server over TLS: the server's own,
    // or a proxy's in front of an https public URL.
    let secure = state.config.tls.cert.is_some()
        || state
            .config
            .server
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => format!(
            "{COOKIE}={t}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            MAX_MS / 1000
        ),
        None => format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let Some(token) = presented_token(&parts.headers) else {
            return Err(PageError::SignIn);
        };
        let token_hash = hash_secret(&token);
        let now = state.now_ms();
        let session = state
            .store
            .touch_session(&token_hash, now, now + IDLE_MS)
            .await
            .map_err(crate::error::ApiError::from)?
            .ok_or(PageError::SignIn)?;
        let key = match key_by_hash(state, &session.key_hash).await {
            Ok(k) => k,
            Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => {
                // The key was deleted or expired: so is every session it opened.
                state
                    .store
                    .end_session(&token_hash)
                    .await
                    .map_err(crate::error::ApiError::from)?;
                return Err(PageError::SignIn);
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(checked) = parts.extensions.get::<crate::access_log::KeyChecked>() {
            checked.mark();
        }
        Ok(Signed {
            auth: Auth(key),
            csrf: csrf_of(&token),
            token_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_session_cookie_is_read() {
        let token = "a".repeat(TOKEN_LEN);
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            format!("other=1; {COOKIE}={token}; x=2").parse().unwrap(),
        );
        assert_eq!(presented_token(&h), Some(token.clone()));
        let mut bad = HeaderMap::new();
        bad.append(header::COOKIE, format!("{COOKIE}=short").parse().unwrap());
        bad.append(
            header::COOKIE,
            format!("{COOKIE}x={token}; {COOKIE}={}!", "b".repeat(TOKEN_LEN - 1))
                .parse()
                .unwrap(),
        );
        assert_eq!(presented_token(&bad), None);
    }

    #[test]
    fn the_csrf_token_depends_on_the_session() {
        assert_eq!(csrf_of("a"), csrf_of("a"));
        assert_ne!(csrf_of("a"), csrf_of("b"));
        assert_eq!(csrf_of("a").len(), 64);
    }
}
