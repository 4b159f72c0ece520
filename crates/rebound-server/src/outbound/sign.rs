//! Standard Webhooks signing of outbound deliveries: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed by the
//! base64-decoded part of a `whsec_…` secret. During a rotation both the new and the previous
//! secret sign (space-separated signatures), so a receiver with either verifies.

use base64::Engine;
use rebound_core::signature::{sign_standard_webhooks, standard_webhooks_key};
use rebound_core::Millis;
use rebound_store::outbound::Subscription;

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    )
}

/// The secrets that sign at `now`: the current one, and the previous one until its overlap
/// ends.
pub fn signing_secrets(sub: &Subscription, now: Millis) -> Vec<&str> {
    let mut secrets = vec![sub.secret.as_str()];
    if let (Some(old), Some(until)) = (&sub.previous_secret, sub.previous_until) {
        if now < until {
            secrets.push(old.as_str());
        }
    }
    secrets
}

/// The `webhook-signature` value: one `v1,<base64>` per secret, space-separated.
pub fn signature(secrets: &[&str], id: &str, timestamp: &str, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| sign_standard_webhooks(&standard_webhooks_key(s), id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use rebound_core::signature::verify_standard_webhooks;

    use super::*;

    #[test]
    fn every_signing_secret_verifies() {
        let (new, old) = (new_secret(), new_secret());
        assert!(new.starts_with("whsec_") && new.len() > 40);
        let sig = signature(&[&new, &old], "msg_1", "1700000000", b"{}");
        assert_eq!(sig.split(' ').count(), 2);
        for s in [&new, &old] {
            let key = standard_webhooks_key(s);
            assert!(
                verify_standard_webhooks(
                    &key,
                    "msg_1",
                    "1700000000",
                    &sig,
                    b"{}",
                    1_700_000_000_000
                )
                .is_ok(),
                "{s}"
            );
        }
    }
}
