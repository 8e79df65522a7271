//! Capgo "v2" bundle encryption, byte for byte as `@capgo/cli` writes it and
//! the `@capgo/capacitor-updater` plugin reads it (reference/capgo-cli.md §3,
//! plugin-protocol.md §4):
//!
//! - RSA-2048 keys as PKCS#1 PEM; the key id is the first 20 characters of the
//!   public key's PEM body.
//! - The zip is AES-128-CBC (PKCS#7) encrypted with a random key and IV.
//! - `session_key = base64(iv) + ":" + base64(rsa_private_encrypt(aes_key))`, where
//!   "private encrypt" is PKCS#1 v1.5 block type 1 without a DigestInfo.
//! - The checksum is the SHA-256 of the plaintext zip; for an encrypted bundle the
//!   32 digest bytes are private-encrypted and written as 512 hex characters.
//!
//! This is authenticity, not secrecy: the public key ships inside every app, so
//! anyone holding the app can recover a session key. Only the private-key holder
//! can make a bundle the app accepts.
//!
//! No I/O: randomness is passed in.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand_core::CryptoRngCore;
use rsa::pkcs1::{
    DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey, EncodeRsaPublicKey,
};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// The only key size the plugin accepts (it insists on 256-byte RSA blocks).
pub(crate) const KEY_BITS: usize = 2048;
const BLOCK: usize = KEY_BITS / 8;

/// Why a key, session key, checksum or payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A key file or PEM that cannot be used (unreadable, or not RSA-2048).
    #[error("{0}")]
    Key(String),
    /// A session key that does not parse or does not open with the public key.
    #[error("invalid session key: {0}")]
    SessionKey(String),
    /// An encrypted checksum that does not open with the public key.
    #[error("invalid encrypted checksum: {0}")]
    Checksum(String),
    /// The ciphertext does not decrypt (wrong key, or a damaged file).
    #[error("decryption failed: {0}")]
    Decrypt(String),
}

fn key_err(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Key(e.to_string())
}

/// An RSA-2048 private key (signs session keys and checksums).
#[derive(Clone)]
pub struct PrivateKey(RsaPrivateKey);

/// An RSA-2048 public key (what the app ships in `publicKey`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(RsaPublicKey);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl PrivateKey {
    /// A new random RSA-2048 key (exponent 65537, as Node's `generateKeyPairSync`).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Result<Self, CryptoError> {
        RsaPrivateKey::new(rng, KEY_BITS).map(Self).map_err(key_err)
    }

    /// Parses a PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`) RSA-2048 key.
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let pem = pem.trim();
        if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            return Err(CryptoError::Key("this is a PKCS#8 private key (BEGIN PRIVATE KEY); Capgo-compatible keys are PKCS#1 (BEGIN RSA PRIVATE KEY): convert it with `openssl rsa -in KEY -traditional` or create one with `updraft key create`".into()));
        }
        if !pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            return Err(CryptoError::Key(
                "not a PKCS#1 PEM private key (expected -----BEGIN RSA PRIVATE KEY-----)".into(),
            ));
        }
        let k = RsaPrivateKey::from_pkcs1_pem(pem)
            .map_err(|e| CryptoError::Key(format!("unreadable RSA private key: {e}")))?;
        check_bits(k.size())?;
        Ok(Self(k))
    }

    /// PKCS#1 PEM, LF line endings.
    pub fn to_pem(&self) -> String {
        self.0
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .expect("an in-memory RSA key always encodes")
            .to_string()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.to_public_key())
    }

    /// RSA "private encrypt": PKCS#1 v1.5 type-1 padding, no DigestInfo
    /// (Node's `privateEncrypt` with `RSA_PKCS1_PADDING`).
    pub(crate) fn private_encrypt(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0
            .sign(Pkcs1v15Sign::new_unprefixed(), msg)
            .map_err(key_err)
    }
}

fn check_bits(size_bytes: usize) -> Result<(), CryptoError> {
    if size_bytes * 8 != KEY_BITS {
        return Err(CryptoError::Key(format!(
            "the key is RSA-{}; the plugin only accepts RSA-2048 keys",
            size_bytes * 8
        )));
    }
    Ok(())
}

impl PublicKey {
    /// Parses a PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`) RSA-2048 key, as in
    /// `plugins.CapacitorUpdater.publicKey`.
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let pem = pem.trim();
        if !pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
            return Err(CryptoError::Key(
                "not a PKCS#1 PEM public key (expected -----BEGIN RSA PUBLIC KEY-----)".into(),
            ));
        }
        let k = RsaPublicKey::from_pkcs1_pem(pem)
            .map_err(|e| CryptoError::Key(format!("unreadable RSA public key: {e}")))?;
        check_bits(k.size())?;
        Ok(Self(k))
    }

    /// PKCS#1 PEM, LF line endings, with a trailing newline (as Node writes it).
    pub fn to_pem(&self) -> String {
        self.0
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .expect("an in-memory RSA key always encodes")
    }

    /// The key id the plugin sends (`key_id`): see [`key_id`].
    pub fn key_id(&self) -> String {
        key_id(&self.to_pem())
    }

    /// RSA "public decrypt" of a type-1 block: what the plugin does to a session
    /// key or an encrypted checksum. The input must be exactly 256 bytes.
    pub(crate) fn public_decrypt(&self, block: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if block.len() != BLOCK {
            return Err(CryptoError::Decrypt(format!(
                "an RSA-2048 block is {BLOCK} bytes, got {}",
                block.len()
            )));
        }
        let c = BigUint::from_bytes_be(block);
        if &c >= self.0.n() {
            return Err(CryptoError::Decrypt(
                "block out of range for this key".into(),
            ));
        }
        let m = c.modpow(self.0.e(), self.0.n()).to_bytes_be();
        let mut em = vec![0u8; BLOCK - m.len()];
        em.extend_from_slice(&m);
        // 00 01 FF..FF 00 || message, with at least 8 bytes of FF.
        if em[0] != 0 || em[1] != 1 {
            return Err(CryptoError::Decrypt(
                "not signed by the matching private key (bad padding)".into(),
            ));
        }
        let sep = em[2..]
            .iter()
            .position(|&b| b != 0xff)
            .map(|i| i + 2)
            .filter(|&i| em[i] == 0 && i >= 10)
            .ok_or_else(|| {
                CryptoError::Decrypt("not signed by the matching private key (bad padding)".into())
            })?;
        Ok(em[sep + 1..].to_vec())
    }
}

/// The plugin's `calcKeyId`: the PEM with its armour lines and all whitespace
/// removed, first 20 characters.
pub fn key_id(public_pem: &str) -> String {
    let body: String = public_pem
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    body.chars().take(20).collect()
}

/// The AES key and IV of one encrypted bundle.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// AES-128 key.
    pub key: [u8; 16],
    /// AES-CBC initialisation vector.
    pub iv: [u8; 16],
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl SessionKey {
    /// A fresh random key and IV.
    pub fn random(rng: &mut impl CryptoRngCore) -> Self {
        let mut key = [0u8; 16];
        let mut iv = [0u8; 16];
        rng.fill_bytes(&mut key);
        rng.fill_bytes(&mut iv);
        Self { key, iv }
    }

    /// `base64(iv):base64(private_encrypt(key))`, the `session_key` devices get.
    pub(crate) fn seal(&self, private: &PrivateKey) -> Result<String, CryptoError> {
        let enc = private.private_encrypt(&self.key)?;
        Ok(format!("{}:{}", B64.encode(self.iv), B64.encode(enc)))
    }

    /// Recovers the key from a `session_key` string with the public key, checking
    /// what iOS checks (two parts, strict base64, 16-byte IV and key).
    pub fn open(sealed: &str, public: &PublicKey) -> Result<Self, CryptoError> {
        let parts: Vec<&str> = sealed.trim().split(':').collect();
        let [iv_b64, key_b64] = parts[..] else {
            return Err(CryptoError::SessionKey(
                "expected base64(iv):base64(key), with exactly one ':'".into(),
            ));
        };
        let iv = B64
            .decode(iv_b64)
            .map_err(|e| CryptoError::SessionKey(format!("IV is not base64: {e}")))?;
        let enc = B64
            .decode(key_b64)
            .map_err(|e| CryptoError::SessionKey(format!("key is not base64: {e}")))?;
        let key = public
            .public_decrypt(&enc)
            .map_err(|e| CryptoError::SessionKey(e.to_string()))?;
        let iv: [u8; 16] = iv
            .try_into()
            .map_err(|_| CryptoError::SessionKey("the IV must be 16 bytes".into()))?;
        let key: [u8; 16] = key.try_into().map_err(|_| {
            CryptoError::SessionKey("the AES key must be 16 bytes (AES-128)".into())
        })?;
        Ok(Self { key, iv })
    }

    /// AES-128-CBC with PKCS#7 padding; no header, no IV prefix.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        Aes128CbcEnc::new(&self.key.into(), &self.iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext)
    }

    /// The inverse of [`SessionKey::encrypt`]; a wrong key or a tampered file
    /// almost always fails the padding check.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
            return Err(CryptoError::Decrypt(format!(
                "AES-CBC ciphertext must be a non-empty multiple of 16 bytes, got {}",
                ciphertext.len()
            )));
        }
        Aes128CbcDec::new(&self.key.into(), &self.iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
            .map_err(|_| {
                CryptoError::Decrypt("bad padding: wrong session key or a corrupted file".into())
            })
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The encrypted checksum ("V3"): the 32 raw digest bytes private-encrypted,
/// as 512 lowercase hex characters.
pub fn encrypt_checksum(private: &PrivateKey, sha256_hex: &str) -> Result<String, CryptoError> {
    let raw = hex::decode(sha256_hex)
        .ok()
        .filter(|r| r.len() == 32)
        .ok_or_else(|| CryptoError::Checksum("expected a 64-character hex SHA-256".into()))?;
    Ok(hex::encode(private.private_encrypt(&raw)?))
}

/// What the plugin does with an encrypted checksum: hex if it is pure hex,
/// base64 otherwise; must be a 256-byte block; returns the recovered bytes as
/// lowercase hex (a SHA-256 for bundles made by current CLIs).
pub fn decrypt_checksum(public: &PublicKey, checksum: &str) -> Result<String, CryptoError> {
    let c = checksum.trim();
    let block = if !c.is_empty() && c.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(c).map_err(|e| CryptoError::Checksum(e.to_string()))?
    } else {
        B64.decode(c)
            .map_err(|e| CryptoError::Checksum(format!("neither hex nor base64: {e}")))?
    };
    if block.len() != BLOCK {
        return Err(CryptoError::Checksum(format!(
            "the bundle checksum is not encrypted (expected a {BLOCK}-byte RSA block, got {} bytes)",
            block.len()
        )));
    }
    Ok(hex::encode(public.public_decrypt(&block)?))
}

/// An encrypted bundle: what to upload and what to tell devices.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The AES-encrypted zip.
    pub ciphertext: Vec<u8>,
    /// SHA-256 of the plaintext zip (hex).
    pub plain_sha256: String,
    /// [`encrypt_checksum`] of it (512 hex).
    pub checksum: String,
    /// `base64(iv):base64(rsa(key))`.
    pub session_key: String,
    /// The AES key and IV themselves: a manifest bundle's files are
    /// encrypted with them too.
    pub key: SessionKey,
}

/// Encrypts a zip the way `capgo bundle encrypt` does.
pub fn seal_bundle(
    private: &PrivateKey,
    zip: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Sealed, CryptoError> {
    let sk = SessionKey::random(rng);
    let plain_sha256 = sha256_hex(zip);
    Ok(Sealed {
        ciphertext: sk.encrypt(zip),
        checksum: encrypt_checksum(private, &plain_sha256)?,
        session_key: sk.seal(private)?,
        plain_sha256,
        key: sk,
    })
}

/// Decrypts a bundle with the public key and verifies it as the plugin does.
/// With `checksum` (encrypted or plain hex) the plaintext's SHA-256 must match.
pub fn open_bundle(
    public: &PublicKey,
    ciphertext: &[u8],
    session_key: &str,
    checksum: Option<&str>,
) -> Result<Vec<u8>, CryptoError> {
    let sk = SessionKey::open(session_key, public)?;
    let plain = sk.decrypt(ciphertext)?;
    if let Some(c) = checksum {
        let c = c.trim();
        let expected = if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) {
            c.to_ascii_lowercase()
        } else {
            decrypt_checksum(public, c)?
        };
        let actual = sha256_hex(&plain);
        if actual != expected {
            return Err(CryptoError::Checksum(format!(
                "the decrypted zip hashes to {actual}, but the checksum says {expected}"
            )));
        }
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plugin's own vectors (source in `vectors/README.md`).
    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../vectors/capgo-plugin-crypto-rsa.json")).unwrap()
    }

    #[test]
    fn plugin_rsa_vectors_decrypt() {
        let v = vectors();
        let public = PublicKey::from_pem(v["publicKeyPem"].as_str().unwrap()).unwrap();
        let cases = v["rsaPublicDecrypt"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let ct = hex::decode(case["input"]["ciphertextHex"].as_str().unwrap()).unwrap();
            let pt = public.public_decrypt(&ct).unwrap();
            assert_eq!(
                hex::encode(pt),
                case["expect"]["plaintextHex"].as_str().unwrap(),
                "{}",
                case["id"]
            );
        }
        for case in v["decryptChecksum"].as_array().unwrap() {
            let got = decrypt_checksum(&public, case["input"]["checksumHex"].as_str().unwrap());
            assert_eq!(
                got.unwrap(),
                case["expect"]["decryptedHex"].as_str().unwrap()
            );
        }
        for case in v["decryptChecksumInvalid"].as_array().unwrap() {
            let got = decrypt_checksum(&public, case["input"]["checksumHex"].as_str().unwrap());
            assert!(got.is_err(), "{} must be refused", case["id"]);
        }
    }

    #[test]
    fn plugin_key_id_and_key_load_vectors() {
        let v = vectors();
        for case in v["calcKeyId"].as_array().unwrap() {
            let pem = case["input"]["publicKeyPem"].as_str().unwrap();
            assert_eq!(key_id(pem), case["expect"]["keyId"].as_str().unwrap());
            assert_eq!(
                PublicKey::from_pem(pem).unwrap().key_id(),
                case["expect"]["keyId"].as_str().unwrap()
            );
        }
        for case in v["rsaPublicKeyLoad"].as_array().unwrap() {
            let loads =
                PublicKey::from_pem(case["input"]["publicKeyPem"].as_str().unwrap()).is_ok();
            assert_eq!(
                loads,
                case["expect"]["loads"].as_bool().unwrap(),
                "{}",
                case["id"]
            );
        }
    }

    /// The CLI-side vectors of reference/capgo-cli.md §8.2 (Node 20 `crypto`).
    #[test]
    fn capgo_cli_reference_vectors() {
        let sk = SessionKey {
            key: hex::decode("000102030405060708090a0b0c0d0e0f")
                .unwrap()
                .try_into()
                .unwrap(),
            iv: hex::decode("f0e0d0c0b0a090807060504030201000")
                .unwrap()
                .try_into()
                .unwrap(),
        };
        let ct = sk.encrypt(b"hello capgo\n");
        assert_eq!(hex::encode(&ct), "831edbfe746d298bb5c35ce49db6206e");
        assert_eq!(sk.decrypt(&ct).unwrap(), b"hello capgo\n");
        assert_eq!(
            sha256_hex(b"hello capgo\n"),
            "2f91a9c2e5ce416ae2bfedb0e29ac6a395c94616b679cf62c57173f0bf970ce5"
        );
        let pem = "-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEAxHTzYagQbaB5iLcF4sJcea6387Rf5GHdH4BK04hRUPrzlVDptDAo\n1RKkPx46qivjunjBnTZDSlWTJ2v5U2eotphVaxxIF3J2KsQAHc9RniTZvsMh1GHH\nsJccLOcEexKVwskvV5yeee55jPaNFX52RU+zgmCpMIGM8LluEjlYEGpm1hF9Bf51\nFO37/nMrph50C7UahzB+P1t6EOKrOkEsI3H+RR+H7wSdG3akcH6xqNW1ZVrUcGza\nKjgIAP/PrJdvHGsaSaaZtUgX/E027mh73o7g1GbROJSdhU6S4te2iImbWIzfn3JD\n2bePa9CPQjlQHfp/+7PTJI76HlD84re/PQIDAQAB\n-----END RSA PUBLIC KEY-----\n";
        let public = PublicKey::from_pem(pem).unwrap();
        assert_eq!(public.key_id(), "MIIBCgKCAQEAxHTzYagQ");
        let sealed = "8ODQwLCgkIBwYFBAMCAQAA==:btopBVStHh0nQEnDbLYc3zwTeuloAsqkwmFGnTi1Fr8vJQLi1wTQdvpLySp7ShqntVqPBpVu5YwS0E5SHKereH+dcXcsKUQveIYW52tuZXexDX+ZJxUqbkQR813jAcanu6WjYulLQqZqLLsvLWh20uJTMdoq6otT+y4IEMXVreB2SfEsCIES0snPRMHPsBBe54jYEmNTHwBfm02qGaSAWSp+WYppr+Fva1JrZzHUDWM9aDKDZwMQRARDQPgK61KbdcdY9IbA4DDhBPOc6XsmtXIWpvHaOOy4oZcURc6fLcIRUauVYuZXG02WKJGGENmuWCVTvsyFPdGkEA4hktG59A==";
        assert_eq!(SessionKey::open(sealed, &public).unwrap(), sk);
        let v3 = "3721a36f1bb0c5047e69f02158e45aef2f3cfb81a53259b9bbc794bc76c04b913c3b464270e0cf406b669e1edef20d3c2c7780fc53086e946f7e050c4d2e71c68e7c1c051519ed9d57ab1606baaed2ba5034b9026fd0728246f37b4a7af513a1b88ef312703397d3108b710739014cf7b918e96598cfe3b9d1a7e0a1a585cb5777d2782825f4afb5de1b4b8df7983bc27dd410046c84cb1705c5706954aba2af7a8e45e991d7709c1ac3c8e182c689d979cbb93300397053fab12d0b606d36fc5900af0c57004031d3811966a085882b06b702cfd84abd64a7fa7c21cdacf9f3029e6f258da0aac82032b7e301037331fd73e8195d4bba63e603ee663f2aa467";
        assert_eq!(
            decrypt_checksum(&public, v3).unwrap(),
            "2f91a9c2e5ce416ae2bfedb0e29ac6a395c94616b679cf62c57173f0bf970ce5"
        );
        // The legacy V2 (base64) form decrypts to the hex text read as base64: not a SHA-256.
        let v2 = "BVuCCn44RJsF9dO+1/WKCQA9clBIDCde4JFlCWT9Pel55sgk5HmiJ9D9AIN7HnoHaK0U+732HVZl+G+Oixoh8Zu0QYfxnaYNnKFRSc2coUwcVRJwcWmEM7IAodq8wNrExci9jA2bE1PeYuaXm2a9rAqH6Yko54ywh9N2DyrXiao7LNjVuC7cai8r41tRZgkQovreq0TYplUqYjiuZje6gbzrgBZ61GaQKX4UBpOQ36JdlXOLen2aLiZZYvrrkQ1QF3KS/qWAqDwPDj8k7mw9L/y/pADbkkeCfmbQw6o849JlB5olJ9esmi/wGvN7sBn83XfWANZ0S/Mta4dnAi53fg==";
        let got = decrypt_checksum(&public, v2).unwrap();
        assert_eq!(
            B64.encode(hex::decode(got).unwrap()),
            "2f91a9c2e5ce416ae2bfedb0e29ac6a395c94616b679cf62c57173f0bf970ce5"
        );
    }

    #[test]
    fn seal_and_open_round_trip_and_tampering_is_caught() {
        let mut rng = rand_core::OsRng;
        let private = PrivateKey::generate(&mut rng).unwrap();
        let public = PrivateKey::from_pem(&private.to_pem())
            .unwrap()
            .public_key();
        assert_eq!(public, PublicKey::from_pem(&public.to_pem()).unwrap());
        let zip = b"PK\x03\x04 pretend zip bytes".repeat(100);
        let s = seal_bundle(&private, &zip, &mut rng).unwrap();
        assert_eq!(s.checksum.len(), 512);
        assert_eq!(s.session_key.split(':').count(), 2);
        assert_eq!(
            open_bundle(&public, &s.ciphertext, &s.session_key, Some(&s.checksum)).unwrap(),
            zip
        );
        assert_eq!(
            decrypt_checksum(&public, &s.checksum).unwrap(),
            sha256_hex(&zip)
        );

        let mut tampered = s.ciphertext.clone();
        let mid = tampered.len() / 2;
        tampered[mid] ^= 1;
        assert!(open_bundle(&public, &tampered, &s.session_key, Some(&s.checksum)).is_err());

        let other = PrivateKey::generate(&mut rng).unwrap().public_key();
        assert!(SessionKey::open(&s.session_key, &other).is_err());
        assert!(decrypt_checksum(&other, &s.checksum).is_err());
    }

    #[test]
    fn refuses_pkcs8_and_garbage_keys_with_a_reason() {
        let e =
            PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .unwrap_err();
        assert!(e.to_string().contains("PKCS#8"), "{e}");
        assert!(PrivateKey::from_pem("hello").is_err());
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
        assert!(SessionKey::open(
            "only-one-part",
            &PrivateKey::generate(&mut rand_core::OsRng)
                .unwrap()
                .public_key()
        )
        .is_err());
    }
}
