//! Bitnami's hybrid encryption, the decrypting half. A sealed value is a 2-byte
//! big-endian length, an RSA-OAEP (SHA-256) ciphertext of a 32-byte AES session
//! key under a label that names the scope, then AES-256-GCM of the value under
//! that session key with an all-zero nonce (each session key seals one value).
//! RustCrypto's `rsa` and `aes-gcm` do the cryptography.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rsa::Oaep;
use rsa::rand_core::OsRng;
use sealgate_core::SecretBytes;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::keys::BitnamiKey;

/// Length of the AES-256 session key kubeseal generates.
pub const SESSION_KEY_LEN: usize = 32;
/// Length of the AES-GCM tag at the end of the symmetric part.
const TAG_LEN: usize = 16;

/// Why a value could not be decrypted. Never contains the value or a key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HybridError {
    /// Shorter than the length prefix and the AES-GCM tag.
    #[error("is {len} bytes, too short to be a Bitnami sealed value")]
    TooShort {
        /// Length of the decoded value.
        len: usize,
    },
    /// The length prefix points past the end.
    #[error(
        "says its RSA part is {rsa_len} bytes but only {have} follow (truncated or not a Bitnami sealed value)"
    )]
    Truncated {
        /// The length the prefix announces.
        rsa_len: usize,
        /// The bytes present after the prefix.
        have: usize,
    },
    /// No key's RSA-OAEP decryption succeeds under the label.
    #[error("no key decrypts it")]
    NoKey,
    /// The RSA part decrypted to something that is not an AES-256 key.
    #[error("has a session key of {0} bytes, not {SESSION_KEY_LEN}")]
    SessionKey(usize),
    /// The session key was right but AES-GCM authentication failed.
    #[error("was altered (AES-GCM authentication failed)")]
    Tampered,
}

/// Decrypts one Bitnami sealed value (already base64-decoded) sealed under `label`,
/// trying every key in turn, as the Bitnami controller does.
pub fn decrypt(keys: &[BitnamiKey], sealed: &[u8], label: &str) -> Result<SecretBytes, HybridError> {
    let [hi, lo, rest @ ..] = sealed else {
        return Err(HybridError::TooShort { len: sealed.len() });
    };
    let rsa_len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if rest.len() < rsa_len {
        return Err(HybridError::Truncated {
            rsa_len,
            have: rest.len(),
        });
    }
    let (rsa_part, aes_part) = rest.split_at(rsa_len);
    if aes_part.len() < TAG_LEN {
        return Err(HybridError::TooShort { len: sealed.len() });
    }
    let session = keys
        .iter()
        .find_map(|key| {
            let padding = Oaep::new_with_label::<Sha256, _>(label);
            key.private()
                .decrypt_blinded(&mut OsRng, padding, rsa_part)
                .ok()
                .map(Zeroizing::new)
        })
        .ok_or(HybridError::NoKey)?;
    let cipher = Aes256Gcm::new_from_slice(&session).map_err(|_| HybridError::SessionKey(session.len()))?;
    let mut buffer = Zeroizing::new(aes_part.to_vec());
    cipher
        .decrypt_in_place(&Nonce::default(), b"", &mut *buffer)
        .map_err(|_| HybridError::Tampered)?;
    Ok(SecretBytes::from(buffer))
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use aes_gcm::aead::Aead;
    use rsa::RsaPublicKey;

    /// kubeseal's HybridEncrypt, rebuilt from RustCrypto parts to make test inputs.
    pub fn encrypt(public: &RsaPublicKey, value: &[u8], label: &str) -> Vec<u8> {
        let session = [7u8; SESSION_KEY_LEN];
        let rsa_part = public
            .encrypt(&mut OsRng, Oaep::new_with_label::<Sha256, _>(label), &session)
            .unwrap();
        let aes_part = Aes256Gcm::new_from_slice(&session)
            .unwrap()
            .encrypt(&Nonce::default(), value)
            .unwrap();
        let mut out = (rsa_part.len() as u16).to_be_bytes().to_vec();
        out.extend(rsa_part);
        out.extend(aes_part);
        out
    }

    pub fn test_key() -> BitnamiKey {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/bitnami");
        super::super::keys::load(&[dir.join("controller.key.pem")])
            .unwrap()
            .remove(0)
    }

    #[test]
    fn round_trip_and_every_way_to_fail() {
        let key = test_key();
        let public = key.private().to_public_key();
        let sealed = encrypt(&public, b"v", "shop/db");
        let keys = std::slice::from_ref(&key);
        assert_eq!(decrypt(keys, &sealed, "shop/db").unwrap().expose(), b"v");
        assert_eq!(decrypt(keys, &sealed, "shop/other"), Err(HybridError::NoKey));
        assert_eq!(decrypt(&[], &sealed, "shop/db"), Err(HybridError::NoKey));

        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(decrypt(keys, &tampered, "shop/db"), Err(HybridError::Tampered));

        assert_eq!(
            decrypt(keys, &[1], "shop/db"),
            Err(HybridError::TooShort { len: 1 })
        );
        assert_eq!(
            decrypt(keys, &[0xff, 0xff, 0], "shop/db"),
            Err(HybridError::Truncated {
                rsa_len: 65535,
                have: 1
            })
        );
        assert!(matches!(
            decrypt(keys, &sealed[..sealed.len() - 17], "shop/db"),
            Err(HybridError::TooShort { .. })
        ));
        // A zero-length RSA part is refused by RSA, not indexed out of bounds.
        let mut no_rsa = vec![0, 0];
        no_rsa.extend([0u8; 32]);
        assert_eq!(decrypt(keys, &no_rsa, "shop/db"), Err(HybridError::NoKey));
    }
}
