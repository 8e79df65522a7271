//! Standard Webhooks signing (<https://www.standardwebhooks.com>): the secret
//! is `whsec_` and base64 of 32 random bytes; the HMAC-SHA256 key is those
//! bytes; each delivery carries `webhook-id`, `webhook-timestamp` (Unix
//! seconds) and `webhook-signature`, `v1,<base64 HMAC of "id.timestamp.body">`
//! once per secret signing (two while a rotated-out secret's grace lasts).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The prefix of every secret.
const PREFIX: &str = "whsec_";

/// A new random secret.
pub(crate) fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The HMAC key of a secret: the bytes its base64 part decodes to (the
/// whole text's bytes for a secret that is not in that form).
fn key_of(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(PREFIX)
        .and_then(|b| STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` header's value for `body` sent as message `id` at
/// `timestamp`, one `v1,` signature per secret, space-separated.
pub(crate) fn signature(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(&key_of(s)).expect("HMAC takes keys of any length");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference
    /// libraries (their test suites sign this message with this secret).
    #[test]
    fn signs_as_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(
                &[secret],
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                body
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn new_secrets_are_random_32_byte_keys() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(key_of(&a).len(), 32);
        assert!(a.starts_with("whsec_"));
    }

    #[test]
    fn each_secret_signs_once() {
        let two = signature(&[new_secret(), new_secret()], "msg_1", 1, b"{}");
        assert_eq!(two.split(' ').count(), 2);
        assert!(two.split(' ').all(|s| s.starts_with("v1,")));
    }
}
