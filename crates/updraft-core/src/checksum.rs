//! The bundle checksum each client verifies, and the rules a checksum must
//! follow before a bundle is accepted:
//!
//! - plain bundle: lowercase hex SHA-256 of the zip (64 hex), for every client;
//! - encrypted bundle, native plugins: the SHA-256 of the plaintext zip
//!   RSA-private-encrypted into a 256-byte block, as 512 hex characters (or,
//!   read by the plugin when the text is not hex, the base64 of that block);
//!   a 64-hex checksum makes every Android and iOS device fail `checksum_fail`;
//! - encrypted bundle, Capgo's Electron updater: it hashes the zip as
//!   downloaded (still encrypted) and compares it with the served checksum
//!   AES-decrypted with the bundle's own key, so it needs
//!   `base64(AES-128-CBC(key, iv, lowercase_hex(sha256(encrypted zip))))`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use sha2::{Digest, Sha256};

use crate::crypto::{PublicKey, SessionKey};

/// How to make a checksum the plugin can verify (shown with every refusal).
pub const HOW_TO_ENCRYPT: &str = "make it with `updraft bundle encrypt` (or `npx @capgo/cli bundle encrypt ZIP CHECKSUM`), which prints the encrypted checksum next to the session key";

/// Why a checksum is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    /// Not the form the client verifies.
    #[error("{0}")]
    Form(String),
    /// Well formed, but it does not open with the app's public key.
    #[error("{0}")]
    Key(String),
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks that `checksum` has the form devices verify and returns it
/// normalised (hex lowercased; base64 kept as is). For an encrypted bundle that
/// is a 256-byte RSA block as 512 hex characters or as base64, read exactly as
/// the plugin reads it (pure hex is hex, anything else is base64).
pub fn check_form(checksum: &str, encrypted: bool) -> Result<String, ChecksumError> {
    let c = checksum.trim();
    if !encrypted {
        return if is_hex(c, 64) {
            Ok(c.to_ascii_lowercase())
        } else {
            Err(ChecksumError::Form(
                "the checksum of an unencrypted bundle must be the lowercase hex SHA-256 of the zip (64 hex characters)".into(),
            ))
        };
    }
    let all_hex = !c.is_empty() && c.bytes().all(|b| b.is_ascii_hexdigit());
    if all_hex && c.len() == 512 {
        return Ok(c.to_ascii_lowercase());
    }
    let plugin_reads = if all_hex {
        format!("{} hex characters", c.len())
    } else {
        match B64.decode(c) {
            Ok(block) if block.len() == 256 => return Ok(c.to_string()),
            Ok(block) => format!("base64 of {} bytes", block.len()),
            Err(_) => "neither hex nor base64".into(),
        }
    };
    let plain = if is_hex(c, 64) {
        " (this looks like a plain SHA-256: Android and iOS would fail every download with checksum_fail)"
    } else {
        ""
    };
    Err(ChecksumError::Form(format!(
        "an encrypted bundle (with a session key) needs its checksum RSA-encrypted with the app's private key: 512 hex characters (or the base64 of the 256-byte block); got {plugin_reads}{plain}; {HOW_TO_ENCRYPT}"
    )))
}

/// An encrypted bundle's session key and checksum, opened with the public key.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The bundle's AES key and IV.
    pub session: SessionKey,
    /// What the checksum decrypts to: the SHA-256 (hex) of the plaintext zip.
    pub plain_sha256: String,
}

/// Checks an encrypted bundle against the app's public key as a device will:
/// the session key must open (16-byte IV and AES key) and the checksum must
/// decrypt to a 32-byte SHA-256.
pub fn check_with_key(
    public: &PublicKey,
    checksum: &str,
    session_key: &str,
) -> Result<Opened, ChecksumError> {
    let sk = SessionKey::open(session_key, public).map_err(|e| {
        ChecksumError::Key(format!(
            "the session key does not open with the app's public key ({e}): devices with that key would refuse the bundle"
        ))
    })?;
    let digest = crate::crypto::decrypt_checksum(public, checksum).map_err(|e| {
        ChecksumError::Key(format!(
            "the checksum does not open with the app's public key ({e}): devices with that key would refuse the bundle"
        ))
    })?;
    if digest.len() != 64 {
        return Err(ChecksumError::Key(format!(
            "the checksum opens to {} bytes, not a 32-byte SHA-256 (a legacy V2 checksum?); current plugins would fail checksum_fail; {HOW_TO_ENCRYPT}",
            digest.len() / 2
        )));
    }
    Ok(Opened {
        session: sk,
        plain_sha256: digest,
    })
}

/// The SHA-256 of an AES-128-CBC ciphertext's plaintext, fed in pieces (so a
/// large upload is checked without holding it in memory): what a device
/// compares with the decrypted checksum.
pub struct PlaintextSha256 {
    dec: cbc::Decryptor<aes::Aes128>,
    hasher: Sha256,
    pending: Vec<u8>,
    /// The last decrypted block, held back until the end for its padding.
    last: Option<[u8; 16]>,
}

impl PlaintextSha256 {
    /// Starts hashing a ciphertext encrypted with `sk`.
    pub fn new(sk: &SessionKey) -> Self {
        Self {
            dec: cbc::Decryptor::new(&sk.key.into(), &sk.iv.into()),
            hasher: Sha256::new(),
            pending: Vec::new(),
            last: None,
        }
    }

    /// Decrypts and hashes the next piece of the ciphertext (any length).
    pub fn update(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
        let full = self.pending.len() / 16 * 16;
        for chunk in self.pending[..full].chunks_exact(16) {
            let mut block = aes::Block::clone_from_slice(chunk);
            self.dec.decrypt_block_mut(&mut block);
            if let Some(prev) = self.last.replace(block.into()) {
                self.hasher.update(prev);
            }
        }
        self.pending.drain(..full);
    }

    /// The plaintext's SHA-256 (hex), or why the ciphertext cannot be right
    /// (not whole blocks, or bad padding: a wrong key or a damaged file).
    pub fn finish(mut self) -> Result<String, ChecksumError> {
        let (Some(last), true) = (self.last, self.pending.is_empty()) else {
            return Err(ChecksumError::Key(
                "the encrypted zip is not whole AES blocks: it is damaged or not encrypted".into(),
            ));
        };
        let n = last[15] as usize;
        if n == 0 || n > 16 || last[16 - n..].iter().any(|&b| b as usize != n) {
            return Err(ChecksumError::Key(
                "the zip does not decrypt with this session key (bad padding)".into(),
            ));
        }
        self.hasher.update(&last[..16 - n]);
        Ok(hex::encode(self.hasher.finalize()))
    }
}

/// The checksum Capgo's Electron updater verifies for an encrypted bundle:
/// `base64(AES-128-CBC(key, iv, lowercase_hex(sha256(encrypted zip))))`.
/// `encrypted_sha256` is the hex SHA-256 of the zip exactly as served.
pub fn electron_checksum(sk: &SessionKey, encrypted_sha256: &str) -> Result<String, ChecksumError> {
    if !is_hex(encrypted_sha256, 64) {
        return Err(ChecksumError::Form(
            "the SHA-256 of the encrypted zip must be 64 hex characters".into(),
        ));
    }
    Ok(B64.encode(sk.encrypt(encrypted_sha256.to_ascii_lowercase().as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{seal_bundle, sha256_hex, PrivateKey};

    #[test]
    fn plain_checksums_are_64_hex() {
        assert_eq!(
            check_form(&"AB".repeat(32), false).unwrap(),
            "ab".repeat(32)
        );
        assert!(check_form(&"ab".repeat(31), false).is_err());
        assert!(check_form(&"ab".repeat(256), false).is_err());
    }

    #[test]
    fn encrypted_checksums_take_the_forms_the_plugin_reads() {
        let block = vec![7u8; 256];
        assert_eq!(
            check_form(&hex::encode(&block).to_uppercase(), true).unwrap(),
            hex::encode(&block)
        );
        let b64 = B64.encode(&block);
        assert_eq!(check_form(&b64, true).unwrap(), b64);
        // A plain SHA-256 with a session key is what broke every phone.
        let e = check_form(&"ab".repeat(32), true).unwrap_err().to_string();
        assert!(
            e.contains("plain SHA-256") && e.contains("bundle encrypt"),
            "{e}"
        );
        assert!(check_form(&B64.encode([1u8; 255]), true).is_err());
        assert!(check_form("not base64!", true).is_err());
        assert!(check_form(&"a".repeat(511), true).is_err());
    }

    #[test]
    fn checks_against_the_public_key_and_builds_the_electron_form() {
        let mut rng = rand_core::OsRng;
        let private = PrivateKey::generate(&mut rng).unwrap();
        let public = private.public_key();
        let s = seal_bundle(&private, b"PK zip", &mut rng).unwrap();
        let opened = check_with_key(&public, &s.checksum, &s.session_key).unwrap();
        assert_eq!(opened.plain_sha256, s.plain_sha256);
        let sk = opened.session;
        // The plaintext hash, fed in odd-sized pieces, is the zip's.
        let mut h = PlaintextSha256::new(&sk);
        for piece in s.ciphertext.chunks(7) {
            h.update(piece);
        }
        assert_eq!(h.finish().unwrap(), s.plain_sha256);
        let mut cut = PlaintextSha256::new(&sk);
        cut.update(&s.ciphertext[..s.ciphertext.len() - 3]);
        assert!(cut.finish().is_err());
        let mut wrong = PlaintextSha256::new(&SessionKey::random(&mut rng));
        wrong.update(&s.ciphertext);
        // A wrong key fails the padding, or (rarely) hashes to something else.
        assert!(wrong.finish().map_or(true, |h| h != s.plain_sha256));
        // The base64 form of the same block is just as good.
        let b64 = B64.encode(hex::decode(&s.checksum).unwrap());
        check_with_key(&public, &b64, &s.session_key).unwrap();

        let other = PrivateKey::generate(&mut rng).unwrap().public_key();
        assert!(matches!(
            check_with_key(&other, &s.checksum, &s.session_key),
            Err(ChecksumError::Key(_))
        ));
        // A 256-byte block that does not open to 32 bytes is refused.
        let wrong = hex::encode(private.private_encrypt(&[1u8; 48]).unwrap());
        assert!(check_with_key(&public, &wrong, &s.session_key).is_err());

        // What the Electron updater does: base64-decode, AES-decrypt, compare
        // with the SHA-256 of the encrypted file.
        let enc_sha = sha256_hex(&s.ciphertext);
        let e = electron_checksum(&sk, &enc_sha).unwrap();
        let opened = sk.decrypt(&B64.decode(&e).unwrap()).unwrap();
        assert_eq!(String::from_utf8(opened).unwrap(), enc_sha);
        assert!(electron_checksum(&sk, "xyz").is_err());
    }
}
