//! Webhook signatures: HMAC-SHA256 over the raw request body, in the encodings the platforms
//! use, verified in constant time.
//!
//! Verification always runs over the bytes as received: LINE and Meta sign the exact body
//! (Meta escapes non-ASCII as `\uXXXX`, LINE does not), so re-serialised JSON would not match
//! on emoji or Japanese text. The comparison is `hmac`'s `verify_slice`, which compares in
//! constant time; decoding the header first only depends on the header, never on the secret.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How a platform writes the HMAC into its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    /// Text before the digest (`sha256=`), required when not empty.
    pub prefix: &'static str,
    pub encoding: Encoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Base64,
    /// Hex digits, either case.
    Hex,
}

impl Scheme {
    /// LINE `x-line-signature`: base64 of the HMAC, no prefix.
    pub const LINE: Scheme = Scheme {
        prefix: "",
        encoding: Encoding::Base64,
    };
    /// Meta `X-Hub-Signature-256`: `sha256=` and lowercase hex.
    pub const META: Scheme = Scheme {
        prefix: "sha256=",
        encoding: Encoding::Hex,
    };
    /// X `x-twitter-webhooks-signature`: `sha256=` and base64.
    pub const X: Scheme = Scheme {
        prefix: "sha256=",
        encoding: Encoding::Base64,
    };
    /// Earshot's generic webhook: `sha256=` and hex, as GitHub and most relays sign.
    pub const GENERIC: Scheme = Scheme {
        prefix: "sha256=",
        encoding: Encoding::Hex,
    };
}

/// Why a request's signature was refused. No variant carries the expected value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature header is not in the expected format")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

impl SignatureError {
    /// A short stable name for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing => "missing_signature",
            SignatureError::Malformed => "malformed_signature",
            SignatureError::Mismatch => "bad_signature",
        }
    }
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

/// The header value a platform would send for `body` signed with `secret`.
pub fn sign(secret: &[u8], body: &[u8], scheme: Scheme) -> String {
    let digest = hmac_sha256(secret, body);
    let encoded = match scheme.encoding {
        Encoding::Base64 => BASE64.encode(digest),
        Encoding::Hex => hex::encode(digest),
    };
    format!("{}{encoded}", scheme.prefix)
}

/// Checks `header` (the raw header value, if any) against the HMAC of `body` under `secret`,
/// in constant time.
pub fn verify(
    secret: &[u8],
    body: &[u8],
    header: Option<&[u8]>,
    scheme: Scheme,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let header = std::str::from_utf8(header)
        .map_err(|_| SignatureError::Malformed)?
        .trim();
    if header.is_empty() {
        return Err(SignatureError::Missing);
    }
    let encoded = header
        .strip_prefix(scheme.prefix)
        .ok_or(SignatureError::Malformed)?;
    let digest = match scheme.encoding {
        Encoding::Base64 => BASE64.decode(encoded).ok(),
        Encoding::Hex => hex::decode(encoded).ok(),
    }
    .ok_or(SignatureError::Malformed)?;
    let mut mac = keyed(secret);
    mac.update(body);
    mac.verify_slice(&digest)
        .map_err(|_| SignatureError::Mismatch)
}

/// X's challenge-response check (CRC): `sha256=` + base64(HMAC-SHA256(consumer secret,
/// crc_token)), the `response_token` of the JSON answer.
pub fn x_crc_response(consumer_secret: &[u8], crc_token: &str) -> String {
    sign(consumer_secret, crc_token.as_bytes(), Scheme::X)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every expected value below was computed with OpenSSL, not with this code:
    //   printf 'The quick brown fox' | openssl dgst -sha256 -hmac 'channel-secret-1234' -binary | base64
    //   printf 'The quick brown fox' | openssl dgst -sha256 -hmac 'channel-secret-1234'
    //   printf '{"destination":"U1","events":[]}' | openssl dgst -sha256 -hmac 'line-secret' -binary | base64
    //   printf '{"text":"星空モバイル、繋がらない😡"}' | openssl dgst -sha256 -hmac 'app-secret' -hex
    //   printf 'challenge-token-42' | openssl dgst -sha256 -hmac 'consumer-secret' -binary | base64
    const FOX_BASE64: &str = "jKr+qOoPUhqrjFujsNnYP2n7450MiBj/pZDGiSlpCWE=";
    const FOX_HEX: &str = "8caafea8ea0f521aab8c5ba3b0d9d83f69fbe39d0c8818ffa590c68929690961";
    const LINE_EMPTY: &str = "DNgBQGS2AI7VpoEPQMFYfWsYi/gETypDxeTCyTwVEBY=";
    const META_JA_HEX: &str = "6bfe871c42faaa4d4ca78e4dcba1cfd30fcd150091fce87d76c58b820f12bb13";
    const X_CRC: &str = "sha256=TusubbjlBKsdcVk2wQmy5UVOGc7abUfwhf/yCUE45h8=";

    #[test]
    fn hmac_matches_openssl() {
        let fox = hmac_sha256(b"channel-secret-1234", b"The quick brown fox");
        assert_eq!(hex::encode(fox), FOX_HEX);
        assert_eq!(BASE64.encode(fox), FOX_BASE64);
    }

    #[test]
    fn line_signature() {
        let body = br#"{"destination":"U1","events":[]}"#;
        assert_eq!(sign(b"line-secret", body, Scheme::LINE), LINE_EMPTY);
        assert_eq!(
            verify(
                b"line-secret",
                body,
                Some(LINE_EMPTY.as_bytes()),
                Scheme::LINE
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                b"other-secret",
                body,
                Some(LINE_EMPTY.as_bytes()),
                Scheme::LINE
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn meta_signature_over_raw_utf8() {
        let body = r#"{"text":"星空モバイル、繋がらない😡"}"#.as_bytes();
        let header = format!("sha256={META_JA_HEX}");
        assert_eq!(sign(b"app-secret", body, Scheme::META), header);
        assert!(verify(b"app-secret", body, Some(header.as_bytes()), Scheme::META).is_ok());
        // Upper-case hex is the same digest.
        let upper = format!("sha256={}", META_JA_HEX.to_uppercase());
        assert!(verify(b"app-secret", body, Some(upper.as_bytes()), Scheme::META).is_ok());
        // The same JSON re-serialised with \u escapes is a different body.
        let escaped =
            serde_json::to_string(&serde_json::json!({"text": "星空モバイル、繋がらない😡"}))
                .map(|s| s.replace('星', "\\u661f"))
                .unwrap_or_default();
        assert_eq!(
            verify(
                b"app-secret",
                escaped.as_bytes(),
                Some(header.as_bytes()),
                Scheme::META
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn x_crc_matches_openssl() {
        assert_eq!(
            x_crc_response(b"consumer-secret", "challenge-token-42"),
            X_CRC
        );
        assert!(verify(
            b"consumer-secret",
            b"challenge-token-42",
            Some(X_CRC.as_bytes()),
            Scheme::X
        )
        .is_ok());
    }

    #[test]
    fn missing_and_malformed_headers_are_told_apart() {
        let body = b"The quick brown fox";
        let key = b"channel-secret-1234";
        assert_eq!(
            verify(key, body, None, Scheme::META),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(key, body, Some(b"  "), Scheme::META),
            Err(SignatureError::Missing)
        );
        // Right digest, no prefix.
        assert_eq!(
            verify(key, body, Some(FOX_HEX.as_bytes()), Scheme::META),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(key, body, Some(b"sha256=zz"), Scheme::META),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(key, body, Some(b"not base64!"), Scheme::LINE),
            Err(SignatureError::Malformed)
        );
        // A truncated digest is a mismatch, not a match of its prefix.
        let short = format!("sha256={}", &FOX_HEX[..32]);
        assert_eq!(
            verify(key, body, Some(short.as_bytes()), Scheme::META),
            Err(SignatureError::Mismatch)
        );
        let good = format!("sha256={FOX_HEX}");
        assert!(verify(key, body, Some(good.as_bytes()), Scheme::GENERIC).is_ok());
        assert_eq!(
            verify(
                key,
                b"The quick brown fox!",
                Some(good.as_bytes()),
                Scheme::GENERIC
            ),
            Err(SignatureError::Mismatch)
        );
    }
}
