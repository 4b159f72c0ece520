//! Signature checks on raw bytes, all in constant time.
//!
//! Every comparison first checks lengths (a zero-length signature never matches — the
//! `v1,` bug of the reference Standard Webhooks verifier), then compares with
//! [`subtle::ConstantTimeEq`].

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Millis;

/// Standard Webhooks' tolerance for `webhook-timestamp`, both ways.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Why a signature was not accepted. Everything but `NoSecret` answers 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The request carries no signature.
    #[error("missing signature")]
    Missing,
    /// A signature is present but does not match.
    #[error("invalid signature")]
    Invalid,
    /// The signed timestamp is outside the tolerance (or not a number).
    #[error("timestamp outside the tolerance")]
    Timestamp,
    /// The source has no secret configured: rebound fails closed.
    #[error("the source has no signing secret configured")]
    NoSecret,
    /// Basic-auth credentials are missing or wrong.
    #[error("invalid credentials")]
    Credentials,
}

/// Constant-time equality of two byte strings; unequal lengths and empty inputs never match.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// HMAC-SHA256 of `parts` concatenated, keyed with `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Signs the way [`verify_hex_hmac`] checks: the lowercase hex HMAC-SHA256 of `body`.
pub fn sign_hex_hmac(secret: &[u8], body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret, &[body]))
}

/// Verifies a hex HMAC-SHA256 of `body` (optionally prefixed `sha256=`).
pub fn verify_hex_hmac(secret: &[u8], header: &str, body: &[u8]) -> Result<(), VerifyError> {
    if secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let h = header.trim();
    let h = h.strip_prefix("sha256=").unwrap_or(h);
    if h.is_empty() {
        return Err(VerifyError::Missing);
    }
    let given = hex::decode(h).map_err(|_| VerifyError::Invalid)?;
    let want = hmac_sha256(secret, &[body]);
    if ct_eq(&given, &want) {
        Ok(())
    } else {
        Err(VerifyError::Invalid)
    }
}

/// The key bytes of a Standard Webhooks secret: `whsec_<base64>` decodes, with or without
/// its `=` padding (the official `standardwebhooks` and `svix` packages take both as the
/// same key); anything else is used as it is.
pub fn standard_webhooks_key(secret: &str) -> Vec<u8> {
    use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose};
    const B64: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        general_purpose::PAD.with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    match secret.strip_prefix("whsec_") {
        Some(b64) => B64
            .decode(b64)
            .unwrap_or_else(|_| secret.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    }
}

/// The Standard Webhooks (and Svix) MAC: HMAC-SHA256 of `{id}.{timestamp}.{body}`.
fn standard_webhooks_mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    hmac_sha256(
        key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    )
}

/// Signs the Standard Webhooks (and Svix) way: the `v1,<base64>` value of
/// `webhook-signature` that [`verify_standard_webhooks`] accepts.
pub fn sign_standard_webhooks(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD
            .encode(standard_webhooks_mac(key, id, timestamp, body))
    )
}

/// Verifies Standard Webhooks (and Svix) signing: `v1,<base64 HMAC-SHA256>` over
/// `{id}.{timestamp}.{body}`, several space-separated signatures accepted, the timestamp
/// within [`TOLERANCE_SECS`] of `now` either way.
pub fn verify_standard_webhooks(
    key: &[u8],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: Millis,
) -> Result<(), VerifyError> {
    if key.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    if id.is_empty() || id.contains('.') || timestamp.contains('.') {
        return Err(VerifyError::Invalid);
    }
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::Timestamp)?;
    let now_s = now.div_euclid(1000);
    if ts
        .checked_sub(now_s)
        .is_none_or(|d| d.abs() > TOLERANCE_SECS)
    {
        return Err(VerifyError::Timestamp);
    }
    let want = standard_webhooks_mac(key, id, timestamp, body);
    let mut any = false;
    for sig in signatures.split(' ').filter(|s| !s.is_empty()) {
        any = true;
        let Some((version, b64)) = sig.split_once(',') else {
            continue;
        };
        if version != "v1" {
            continue;
        }
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            continue;
        };
        if ct_eq(&given, &want) {
            return Ok(());
        }
    }
    if any {
        Err(VerifyError::Invalid)
    } else {
        Err(VerifyError::Missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    use super::sign_standard_webhooks as sign;

    #[test]
    fn hex_hmac_accepts_raw_body_only() {
        let body = br#"{"a": 1}"#;
        let sig = sign_hex_hmac(b"s3cret", body);
        assert_eq!(verify_hex_hmac(b"s3cret", &sig, body), Ok(()));
        assert_eq!(
            verify_hex_hmac(b"s3cret", &format!("sha256={sig}"), body),
            Ok(())
        );
        assert_eq!(
            verify_hex_hmac(b"s3cret", &sig, br#"{"a":1}"#),
            Err(VerifyError::Invalid)
        );
        assert_eq!(
            verify_hex_hmac(b"other", &sig, body),
            Err(VerifyError::Invalid)
        );
        assert_eq!(
            verify_hex_hmac(b"s3cret", "", body),
            Err(VerifyError::Missing)
        );
        assert_eq!(
            verify_hex_hmac(b"s3cret", "sha256=", body),
            Err(VerifyError::Missing)
        );
        assert_eq!(
            verify_hex_hmac(b"s3cret", "zz", body),
            Err(VerifyError::Invalid)
        );
        assert_eq!(verify_hex_hmac(b"", &sig, body), Err(VerifyError::NoSecret));
        for n in 0..sig.len() / 2 {
            assert!(
                verify_hex_hmac(b"s3cret", &sig[..n * 2], body).is_err(),
                "truncated to {n}"
            );
        }
    }

    #[test]
    fn standard_webhooks_vectors() {
        let key = b"0123456789abcdef0123456789abcdef";
        let ts = (NOW / 1000).to_string();
        let good = sign(key, "msg_1", &ts, b"{}");
        let v = |sigs: &str, ts: &str| verify_standard_webhooks(key, "msg_1", ts, sigs, b"{}", NOW);
        assert_eq!(v(&good, &ts), Ok(()));
        assert_eq!(v("v1,", &ts), Err(VerifyError::Invalid));
        assert_eq!(v("", &ts), Err(VerifyError::Missing));
        assert_eq!(v(&format!("v1,bad {good}"), &ts), Ok(()));
        assert_eq!(v("v1,AAAA v1,BBBB", &ts), Err(VerifyError::Invalid));
        assert_eq!(
            v(&good.replacen("v1", "v2", 1), &ts),
            Err(VerifyError::Invalid)
        );
        // Truncated signatures never pass.
        let b64 = &good[3..];
        for n in 0..b64.len() {
            assert!(v(&format!("v1,{}", &b64[..n]), &ts).is_err());
        }
        // Tolerance: ±299 s accepted, ±301 s rejected.
        for (delta, ok) in [(-301, false), (-299, true), (299, true), (301, false)] {
            let t = (NOW / 1000 + delta).to_string();
            let r = v(&sign(key, "msg_1", &t, b"{}"), &t);
            assert_eq!(r.is_ok(), ok, "delta {delta}");
        }
        assert_eq!(v(&good, "abc"), Err(VerifyError::Timestamp));
        assert_eq!(
            v(&good, "99999999999999999999999"),
            Err(VerifyError::Timestamp)
        );
        assert_eq!(
            verify_standard_webhooks(key, "a.b", &ts, &good, b"{}", NOW),
            Err(VerifyError::Invalid)
        );
    }

    #[test]
    fn whsec_secrets_decode() {
        assert_eq!(standard_webhooks_key("whsec_aGVsbG8="), b"hello");
        assert_eq!(standard_webhooks_key("plain"), b"plain");
    }
}
