//! Who may send a notification: the HTTP Basic credentials configured for the webhook in
//! Adyen's Customer Area, and each item's `additionalData.hmacSignature`:
//! `base64(HMAC-SHA256(hex_decode(key), data_to_sign))`, where `data_to_sign` joins
//! `pspReference:originalReference:merchantAccountCode:merchantReference:amount.value:
//! amount.currency:eventCode:success` (a missing field is an empty string, nothing escaped).
//!
//! The work per request is bounded before any hashing: a signature is at most
//! [`MAX_SIGNATURE_CHARS`] characters and must decode to exactly 32 bytes; each key's MAC is
//! computed once per item and compared in constant time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The base64 of 32 bytes is 44 characters; anything longer is not a signature.
pub const MAX_SIGNATURE_CHARS: usize = 64;

/// A webhook's HMAC key, as Adyen shows it (hex).
#[derive(Clone)]
pub struct HmacKey(Vec<u8>);

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key itself is never echoed: it is a secret.
    #[error("the Adyen HMAC key is not hex (an even number of 0-9, a-f digits)")]
    NotHex,
}

impl HmacKey {
    pub fn parse(hex_key: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| KeyError::NotHex)?;
        if bytes.is_empty() {
            return Err(KeyError::NotHex);
        }
        Ok(HmacKey(bytes))
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(data);
        mac
    }

    /// `base64(HMAC-SHA256(key, data))`: what Adyen would send (for the simulator and tests).
    pub fn sign(&self, data: &[u8]) -> String {
        STANDARD.encode(self.mac(data).finalize().into_bytes())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the notification item has no hmacSignature")]
    Missing,
    #[error("the hmacSignature is not the base64 of an HMAC-SHA256")]
    Malformed,
    #[error("no HMAC key signs this notification item")]
    Mismatch,
}

/// Checks `signature` (base64) over `data` against each key (two during a rotation).
pub fn verify(data: &[u8], signature: &str, keys: &[HmacKey]) -> Result<(), SignatureError> {
    if signature.is_empty() {
        return Err(SignatureError::Missing);
    }
    if signature.len() > MAX_SIGNATURE_CHARS {
        return Err(SignatureError::Malformed);
    }
    let signature = STANDARD
        .decode(signature)
        .map_err(|_| SignatureError::Malformed)?;
    if signature.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    if keys
        .iter()
        .any(|key| key.mac(data).verify_slice(&signature).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Whether an `Authorization` header carries exactly the Basic credentials `user` and
/// `password`. Compared as SHA-256 digests, so the time taken says nothing about how much of
/// a guess was right.
pub fn basic_credentials_match(header: Option<&str>, user: &str, password: &str) -> bool {
    let Some(encoded) = header.map(str::trim).and_then(|h| {
        h.strip_prefix("Basic ")
            .or_else(|| h.strip_prefix("basic "))
    }) else {
        return false;
    };
    // A header longer than any credentials we would configure is refused unread.
    if encoded.len() > 1024 {
        return false;
    }
    let Ok(sent) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{user}:{password}");
    let (sent, expected) = (Sha256::digest(&sent), Sha256::digest(expected.as_bytes()));
    sent.iter()
        .zip(expected.iter())
        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
        == 0
}

/// The header Adyen sends for `user` and `password` (for the simulator and tests).
pub fn basic_credentials(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> HmacKey {
        HmacKey::parse("00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF").unwrap()
    }

    #[test]
    fn a_signature_verifies_with_either_key_of_a_rotation() {
        let old = key();
        let new = HmacKey::parse("ff").unwrap();
        let signed = new.sign(b"data");
        assert_eq!(verify(b"data", &signed, &[old.clone(), new]), Ok(()));
        assert_eq!(
            verify(b"data", &signed, &[old]),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn what_is_not_a_signature_is_refused_before_any_hashing() {
        let keys = [key()];
        assert_eq!(verify(b"d", "", &keys), Err(SignatureError::Missing));
        assert_eq!(
            verify(b"d", &"A".repeat(10_000), &keys),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"d", "not base64!", &keys),
            Err(SignatureError::Malformed)
        );
        // 16 bytes, well formed, but not the size of an HMAC-SHA256.
        assert_eq!(
            verify(b"d", &STANDARD.encode([0u8; 16]), &keys),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_key_that_is_not_hex_is_refused_without_echoing_it() {
        assert_eq!(HmacKey::parse("BadKey").unwrap_err(), KeyError::NotHex);
        assert_eq!(HmacKey::parse("").unwrap_err(), KeyError::NotHex);
        assert!(!KeyError::NotHex.to_string().contains("BadKey"));
        assert_eq!(format!("{:?}", key()), "HmacKey(…)");
    }

    #[test]
    fn basic_credentials_must_match_exactly() {
        let header = basic_credentials("adyen", "adyen-dev");
        assert!(basic_credentials_match(Some(&header), "adyen", "adyen-dev"));
        assert!(!basic_credentials_match(
            Some(&header),
            "adyen",
            "adyen-dev2"
        ));
        assert!(!basic_credentials_match(
            Some(&header),
            "adyen2",
            "adyen-dev"
        ));
        assert!(!basic_credentials_match(None, "adyen", "adyen-dev"));
        assert!(!basic_credentials_match(
            Some("Bearer abc"),
            "adyen",
            "adyen-dev"
        ));
        assert!(!basic_credentials_match(
            Some("Basic %%%"),
            "adyen",
            "adyen-dev"
        ));
        let long = format!("Basic {}", "A".repeat(5000));
        assert!(!basic_credentials_match(Some(&long), "adyen", "adyen-dev"));
    }
}
