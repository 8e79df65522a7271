//! Checking an offered bundle as the plugin does (reference: plugin-protocol
//! §4), on files rather than in memory: what can be decided from the offer
//! alone is decided before downloading ([`expected_checksum`]); the download is
//! then decrypted and hashed in one streaming pass ([`decrypt_file`],
//! [`hash_file`]).

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use sha2::{Digest, Sha256};
use updraft_core::crypto::{self, PublicKey, SessionKey};

use crate::check::Offer;
use crate::DeviceError;

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

const CHUNK: usize = 64 * 1024;

/// What an offer must be decrypted with and hash to, or the plugin's failure
/// action when the offer alone already shows it cannot install:
///
/// - a `publicKey` and no checksum: `checksum_required`;
/// - an encrypted bundle (a `session_key`) without a `publicKey`, or with a
///   session key that does not open: `decrypt_fail`;
/// - an encrypted bundle whose checksum is not an RSA block of the app's key
///   (hex, or base64 when not pure hex, of exactly 256 bytes; a plain 64-hex
///   SHA-256 is not): `download_fail`, which is what phones report when their
///   `decryptChecksum` throws after the download;
/// - a non-hex checksum on a plain bundle that the key does not open:
///   `checksum_fail`.
pub(crate) fn expected_checksum(
    offer: &Offer,
    public: Option<&PublicKey>,
) -> Result<(Option<SessionKey>, Option<String>), DeviceError> {
    if public.is_some() && offer.checksum.is_empty() {
        return Err(DeviceError::failed(
            "checksum_required",
            "publicKey is set but the bundle has no checksum",
        ));
    }
    let session = if offer.session_key.is_empty() {
        None
    } else {
        let public = public.ok_or_else(|| {
            DeviceError::failed(
                "decrypt_fail",
                "the bundle is encrypted but no publicKey is configured",
            )
        })?;
        let sk = SessionKey::open(&offer.session_key, public)
            .map_err(|e| DeviceError::failed("decrypt_fail", e.to_string()))?;
        let sha = crypto::decrypt_checksum(public, &offer.checksum).map_err(|e| {
            DeviceError::failed(
                "download_fail",
                format!("an encrypted bundle needs an RSA-encrypted checksum: {e}"),
            )
        })?;
        return Ok((Some(sk), Some(sha)));
    };
    let c = offer.checksum.as_str();
    let expected = if c.is_empty() {
        None
    } else if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(c.to_string())
    } else {
        let public = public.ok_or_else(|| {
            DeviceError::failed("checksum_fail", "encrypted checksum but no publicKey")
        })?;
        Some(
            crypto::decrypt_checksum(public, c)
                .map_err(|e| DeviceError::failed("checksum_fail", e.to_string()))?,
        )
    };
    Ok((session, expected))
}

/// Lowercase hex SHA-256 of a file, read in chunks.
pub(crate) fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// AES-128-CBC/PKCS#7-decrypts `src` into `dst` in one pass with bounded
/// memory; returns the SHA-256 of the plaintext. A wrong key or a damaged file
/// fails (`decrypt_fail`) on the padding or the length.
pub(crate) fn decrypt_file(src: &Path, dst: &Path, sk: &SessionKey) -> Result<String, DeviceError> {
    let fail = |m: String| DeviceError::failed("decrypt_fail", m);
    let mut dec = Aes128CbcDec::new(&sk.key.into(), &sk.iv.into());
    let mut input = std::fs::File::open(src)?;
    let mut out = BufWriter::new(std::fs::File::create(dst)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let (mut filled, mut total) = (0usize, 0u64);
    let mut held: Option<[u8; 16]> = None;
    loop {
        let n = input.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
        total += n as u64;
        let whole = filled / 16 * 16;
        for block in buf[..whole].chunks_exact_mut(16) {
            dec.decrypt_block_mut(GenericArray::from_mut_slice(block));
            let mut plain = [0u8; 16];
            plain.copy_from_slice(block);
            if let Some(prev) = held.replace(plain) {
                hasher.update(prev);
                out.write_all(&prev)?;
            }
        }
        buf.copy_within(whole..filled, 0);
        filled -= whole;
    }
    let last = match held {
        Some(last) if filled == 0 => last,
        _ => {
            return Err(fail(format!(
                "AES-CBC ciphertext must be a non-empty multiple of 16 bytes, got {total}"
            )))
        }
    };
    let pad = last[15] as usize;
    if pad == 0 || pad > 16 || !last[16 - pad..].iter().all(|&b| b as usize == pad) {
        return Err(fail(
            "bad padding: wrong session key or a corrupted file".into(),
        ));
    }
    hasher.update(&last[..16 - pad]);
    out.write_all(&last[..16 - pad])?;
    out.into_inner()
        .map_err(|e| DeviceError::Io(e.into_error()))?
        .sync_all()?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_decryption_matches_the_whole_buffer_one() {
        let sk = SessionKey {
            key: [7; 16],
            iv: [9; 16],
        };
        let d = tempfile::tempdir().unwrap();
        for len in [
            0usize,
            1,
            15,
            16,
            17,
            CHUNK - 1,
            CHUNK,
            CHUNK + 5,
            3 * CHUNK + 16,
        ] {
            let plain: Vec<u8> = (0..len)
                .map(|i| u8::try_from(i * 31 % 251).unwrap())
                .collect();
            let (src, dst) = (d.path().join("c"), d.path().join("p"));
            std::fs::write(&src, sk.encrypt(&plain)).unwrap();
            let sha = decrypt_file(&src, &dst, &sk).unwrap();
            assert_eq!(std::fs::read(&dst).unwrap(), plain, "{len}");
            assert_eq!(sha, crypto::sha256_hex(&plain));
            assert_eq!(hash_file(&dst).unwrap(), sha);
        }
        let src = d.path().join("c");
        std::fs::write(&src, [1u8; 33]).unwrap();
        let e = decrypt_file(&src, &d.path().join("p"), &sk).unwrap_err();
        assert_eq!(e.action(), Some("decrypt_fail"));
    }
}
