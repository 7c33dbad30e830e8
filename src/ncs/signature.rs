//! `Agora-Signature-V2`: hex(HMAC-SHA256(NCS secret, raw body)). Only the
//! V2 header is checked; the SHA-1 one beside it adds nothing.

use axum::http::HeaderValue;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::agora::Secret;

/// The header carrying the signature (header names are case-insensitive).
pub const HEADER: &str = "agora-signature-v2";

/// Bytes in a SHA-256 digest.
const DIGEST_LEN: usize = 32;

/// Why a callback's signature was refused. Deliberately says nothing of
/// what was expected: an answer that did would be a signing oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Agora-Signature-V2 header")]
    Missing,
    #[error("the Agora-Signature-V2 header is not a hex SHA-256 digest")]
    Malformed,
    #[error("the Agora-Signature-V2 header does not match the body")]
    Mismatch,
}

/// Checks `header` against the body signed with `secret`, in constant time.
pub fn verify(
    secret: &Secret,
    header: Option<&HeaderValue>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let claimed = header
        .to_str()
        .ok()
        .and_then(|text| hex::decode(text.trim()).ok())
        .filter(|digest| digest.len() == DIGEST_LEN)
        .ok_or(SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    // `verify_slice` compares in constant time, so timing reveals nothing
    // of the right digest.
    mac.verify_slice(&claimed)
        .map_err(|_| SignatureError::Mismatch)
}

/// The signature of `body` under `secret`, as Agora sends it (lowercase
/// hex): for tests and for tools that replay notices.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2: key "Jefe".
    #[test]
    fn matches_the_rfc_4231_vector() {
        let secret = Secret::new("Jefe");
        let body = b"what do ya want for nothing?";
        let digest = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(sign(&secret, body), digest);
        let upper = HeaderValue::from_str(&digest.to_uppercase()).unwrap();
        assert_eq!(verify(&secret, Some(&upper), body), Ok(()));
    }

    #[test]
    fn refuses_missing_malformed_and_wrong_signatures() {
        let secret = Secret::new("Jefe");
        let body = b"{}";
        let good = sign(&secret, body);
        assert_eq!(verify(&secret, None, body), Err(SignatureError::Missing));
        for malformed in ["", "zz", "sha256=00", &good[..32]] {
            let header = HeaderValue::from_str(malformed).unwrap();
            assert_eq!(
                verify(&secret, Some(&header), body),
                Err(SignatureError::Malformed),
                "{malformed:?}"
            );
        }
        let other = HeaderValue::from_str(&sign(&Secret::new("other"), body)).unwrap();
        assert_eq!(
            verify(&secret, Some(&other), body),
            Err(SignatureError::Mismatch)
        );
        let good = HeaderValue::from_str(&good).unwrap();
        assert_eq!(
            verify(&secret, Some(&good), b"{} "),
            Err(SignatureError::Mismatch),
            "one byte more is another body"
        );
    }
}
