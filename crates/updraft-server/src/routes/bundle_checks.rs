//! What a bundle upload or external registration says about its checksum and
//! encryption, checked before anything is stored: a bundle the server accepts
//! must be one every client can verify (see `updraft_core::checksum`).

use updraft_core::checksum::{self, ChecksumError, Opened, PlaintextSha256};
use updraft_core::crypto::PublicKey;

use crate::error::{ApiError, ApiResult};
use updraft_protocol::api::App;

fn invalid(e: ChecksumError) -> ApiError {
    match e {
        ChecksumError::Form(m) => ApiError::bad_request("invalid_checksum", m),
        ChecksumError::Key(m) => ApiError::bad_request("key_mismatch", m),
    }
}

/// `base64(iv):base64(encrypted key)`, the shape every plugin splits.
pub(crate) fn check_session_key(key: &str) -> ApiResult<()> {
    let parts: Vec<&str> = key.split(':').collect();
    let b64 = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
    };
    if parts.len() == 2 && parts.iter().all(|p| b64(p)) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_session_key",
            "session_key must be base64(iv):base64(encrypted key)",
        ))
    }
}

/// The checksum of an unencrypted bundle, lowercased.
pub(crate) fn plain_checksum(c: &str) -> ApiResult<String> {
    checksum::check_form(c, false).map_err(invalid)
}

/// Parses a public key as the plugin reads `publicKey` (PKCS#1 PEM, RSA-2048).
pub(crate) fn checked_public_key(pem: &str) -> ApiResult<PublicKey> {
    PublicKey::from_pem(pem)
        .map_err(|e| ApiError::bad_request("invalid_public_key", format!("public_key: {e}")))
}

/// The public key to check a bundle with: the one sent with it, else the
/// app's. Both given and different is refused: devices of that app would
/// refuse the bundle.
pub(crate) fn public_key_for(sent: Option<&str>, app: &App) -> ApiResult<Option<PublicKey>> {
    let sent = sent
        .filter(|p| !p.trim().is_empty())
        .map(checked_public_key)
        .transpose()?;
    let stored = app
        .public_key
        .as_deref()
        .map(checked_public_key)
        .transpose()?;
    match (sent, stored) {
        (Some(s), Some(a)) if s != a => Err(ApiError::bad_request(
            "key_mismatch",
            format!(
                "the public key sent ({}) is not the app's ({}): devices of app {} would refuse this bundle",
                s.key_id(),
                a.key_id(),
                app.app_id
            ),
        )),
        (s, a) => Ok(s.or(a)),
    }
}

/// The encryption facts of one bundle, once checked.
pub(crate) struct Encryption {
    /// The checksum native plugins verify (normalised).
    pub(crate) checksum: String,
    /// The key id devices send, from the public key when one was given.
    pub(crate) key_id: Option<String>,
    /// The opened session key and checksum, when the public key is known.
    opened: Option<Opened>,
}

impl Encryption {
    /// Checks an encrypted bundle's session key and checksum: their form
    /// always, and with the app's public key that they open with it and that
    /// `key_id`, when given, is that key's.
    pub(crate) fn check(
        session_key: &str,
        checksum: &str,
        public_key: Option<&PublicKey>,
        key_id: Option<&str>,
    ) -> ApiResult<Self> {
        check_session_key(session_key)?;
        let checksum = checksum::check_form(checksum, true).map_err(invalid)?;
        let Some(public) = public_key else {
            return Ok(Self {
                checksum,
                key_id: key_id.map(str::to_string),
                opened: None,
            });
        };
        let own_id = public.key_id();
        if let Some(k) = key_id.filter(|k| *k != own_id) {
            return Err(ApiError::bad_request(
                "key_mismatch",
                format!("key_id {k:?} is not the id of the public key given ({own_id:?})"),
            ));
        }
        let opened = checksum::check_with_key(public, &checksum, session_key).map_err(invalid)?;
        Ok(Self {
            checksum,
            key_id: Some(own_id),
            opened: Some(opened),
        })
    }

    /// The checksum the Electron updater verifies, given the SHA-256 of the
    /// encrypted zip as served; `None` without the public key.
    pub(crate) fn electron_checksum(&self, encrypted_sha256: &str) -> ApiResult<Option<String>> {
        match &self.opened {
            Some(o) => checksum::electron_checksum(&o.session, encrypted_sha256)
                .map(Some)
                .map_err(|e| ApiError::bad_request("invalid_encrypted_sha256", e.to_string())),
            None => Ok(None),
        }
    }

    /// Whether the public key was given (so the Electron form can be made).
    pub(crate) fn has_key(&self) -> bool {
        self.opened.is_some()
    }

    /// A hasher of the plaintext, to check the uploaded bytes against the
    /// checksum as a device will; `None` without the public key.
    pub(crate) fn plaintext_hasher(&self) -> Option<PlaintextSha256> {
        self.opened
            .as_ref()
            .map(|o| PlaintextSha256::new(&o.session))
    }

    /// Checks what the uploaded zip decrypted to against the checksum.
    pub(crate) fn verify_plaintext(&self, hasher: PlaintextSha256) -> ApiResult<()> {
        let Some(o) = &self.opened else {
            return Ok(());
        };
        let actual = hasher.finish().map_err(|e| {
            ApiError::bad_request(
                "checksum_mismatch",
                format!("{e}; devices would refuse this bundle"),
            )
        })?;
        if actual != o.plain_sha256 {
            return Err(ApiError::bad_request(
                "checksum_mismatch",
                format!(
                    "the upload decrypts to a zip whose SHA-256 is {actual}, but the checksum says {}: every device would fail checksum_fail",
                    o.plain_sha256
                ),
            ));
        }
        Ok(())
    }
}
