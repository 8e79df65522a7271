//! Checking a call to an inbound hook: an HMAC-SHA256 of the raw body with
//! the hook's secret, in GitHub's form (`X-Hub-Signature-256: sha256=<hex>`,
//! keyed with the secret's text, the call named by `X-GitHub-Delivery`) or
//! in Standard Webhooks' (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64>`, keyed as that scheme says, the
//! timestamp within five minutes of the server's clock). Comparisons are in
//! constant time. A call is known by what its signature covers: GitHub's
//! form signs the body alone, so the body's hash is its id (a captured call
//! sent again under another `X-GitHub-Delivery` is still the same call);
//! Standard Webhooks' signs its `webhook-id`, which is the id.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::webhooks::sign;

/// How far a Standard Webhooks timestamp may be from the server's clock.
pub(crate) const TOLERANCE_SECS: i64 = 300;

/// The longest delivery id kept.
const MAX_ID: usize = 128;

/// A call whose signature holds, and the id it is known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// `github:<hex SHA-256 of the body>` or `sw:<webhook-id>`.
    pub(crate) delivery_id: String,
    /// GitHub's event name (`X-GitHub-Event`), when the call is GitHub's.
    pub(crate) github_event: Option<String>,
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn unsigned(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::unauthorized(code, message)
}

fn checked_id(id: &str, name: &str) -> Result<String, ApiError> {
    if id.is_empty() || id.len() > MAX_ID || id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_delivery_id",
            format!("{name} must be 1 to {MAX_ID} printable characters"),
        ));
    }
    Ok(id.to_string())
}

/// Checks the call's signature with `secret` at `now_secs`.
pub(crate) fn verify(
    h: &HeaderMap,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<Verified, ApiError> {
    if let Some(sigs) = header(h, "webhook-signature") {
        let id = header(h, "webhook-id")
            .ok_or_else(|| unsigned("invalid_signature", "webhook-signature without webhook-id"))?;
        let ts: i64 = header(h, "webhook-timestamp")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| {
                unsigned(
                    "invalid_signature",
                    "webhook-timestamp must be Unix seconds",
                )
            })?;
        if now_secs.abs_diff(ts) > TOLERANCE_SECS.unsigned_abs() {
            return Err(unsigned(
                "stale_timestamp",
                format!("webhook-timestamp is more than {TOLERANCE_SECS} s from the server's clock: a replay, or a clock to set"),
            ));
        }
        let want = sign::signature(&[secret.to_string()], id, ts, body);
        let ok = sigs
            .split(' ')
            .any(|s| bool::from(s.as_bytes().ct_eq(want.as_bytes())));
        if !ok {
            return Err(unsigned(
                "invalid_signature",
                "the signature does not match the body and this hook's secret",
            ));
        }
        return Ok(Verified {
            delivery_id: format!("sw:{}", checked_id(id, "webhook-id")?),
            github_event: None,
        });
    }
    if let Some(sig) = header(h, "x-hub-signature-256") {
        let given = sig
            .strip_prefix("sha256=")
            .and_then(|hex_sig| hex::decode(hex_sig).ok())
            .ok_or_else(|| {
                unsigned(
                    "invalid_signature",
                    "X-Hub-Signature-256 must be sha256=<hex>",
                )
            })?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        if mac.verify_slice(&given).is_err() {
            return Err(unsigned(
                "invalid_signature",
                "the signature does not match the body and this hook's secret",
            ));
        }
        return Ok(Verified {
            delivery_id: format!("github:{}", hex::encode(Sha256::digest(body))),
            github_event: header(h, "x-github-event").map(str::to_string),
        });
    }
    Err(unsigned(
        "missing_signature",
        "a hook call is signed: X-Hub-Signature-256 (GitHub) or webhook-signature (Standard Webhooks)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    /// GitHub's documented example: secret "It's a Secret to Everybody",
    /// payload "Hello, World!".
    #[test]
    fn github_signatures_verify_as_github_documents() {
        let h = headers(&[
            (
                "x-hub-signature-256",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".into(),
            ),
            (
                "x-github-delivery",
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
            ),
            ("x-github-event", "release".into()),
        ]);
        let v = verify(&h, b"Hello, World!", "It's a Secret to Everybody", 0).unwrap();
        assert_eq!(
            v.delivery_id,
            "github:dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f",
            "the body's SHA-256, whatever X-GitHub-Delivery says"
        );
        assert_eq!(v.github_event.as_deref(), Some("release"));
        let bad = verify(&h, b"Hello, World?", "It's a Secret to Everybody", 0).unwrap_err();
        assert_eq!(bad.body.error, "invalid_signature");
    }

    #[test]
    fn standard_webhooks_signatures_verify_within_the_window() {
        let secret = sign::new_secret();
        let sig = sign::signature(std::slice::from_ref(&secret), "msg_1", 1_000, b"{}");
        let h = headers(&[
            ("webhook-id", "msg_1".into()),
            ("webhook-timestamp", "1000".into()),
            ("webhook-signature", format!("v1,bm90IHRoaXM= {sig}")),
        ]);
        assert_eq!(
            verify(&h, b"{}", &secret, 1_200).unwrap().delivery_id,
            "sw:msg_1"
        );
        assert_eq!(
            verify(&h, b"{}", &secret, 1_301).unwrap_err().body.error,
            "stale_timestamp"
        );
        assert_eq!(
            verify(&h, b"{} ", &secret, 1_000).unwrap_err().body.error,
            "invalid_signature"
        );
        assert_eq!(
            verify(&h, b"{}", &sign::new_secret(), 1_000)
                .unwrap_err()
                .body
                .error,
            "invalid_signature"
        );
        assert_eq!(
            verify(&HeaderMap::new(), b"{}", &secret, 0)
                .unwrap_err()
                .body
                .error,
            "missing_signature"
        );
    }
}
