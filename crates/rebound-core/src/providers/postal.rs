//! Postal: one JSON event per POST, `{"event","timestamp","payload","uuid"}`, signed with the
//! Postal server's RSA key: `X-Postal-Signature-256` (SHA-256) when present — and then no
//! fallback — else the legacy `X-Postal-Signature` (SHA-1), over the raw body.

use base64::Engine;
use serde_json::Value;

use super::{objects, str_field, ParseError, SourceAuth};
use crate::address::first_domain;
use crate::event::dedup_key;
use crate::reason::{classify, find_status};
use crate::signature::VerifyError;
use crate::{
    Address, Attribution, BounceClass, Event, EventKind, Millis, Recipient, WebhookRequest,
};

/// Checks that a key is an RSA public key (base64 SPKI, PEM armour tolerated).
pub fn check_public_key(key: &str) -> Result<(), String> {
    let der = super::sendgrid::decode_public_key(key).ok_or("public_key is not base64")?;
    aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        &der,
    )
    .map(|_| ())
    .map_err(|_| "public_key is not an RSA public key (base64, as Postal shows it)".to_string())
}

pub(super) fn verify(req: &WebhookRequest, auth: SourceAuth<'_>) -> Result<(), VerifyError> {
    use aws_lc_rs::signature::{
        ParsedPublicKey, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256,
    };
    let key = auth
        .config
        .and_then(|c| c.get("public_key"))
        .and_then(Value::as_str)
        .and_then(super::sendgrid::decode_public_key)
        .ok_or(VerifyError::NoSecret)?;
    let (alg, sig): (
        &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
        &str,
    ) = match (
        req.header("x-postal-signature-256"),
        req.header("x-postal-signature"),
    ) {
        (Some(s), _) => (&RSA_PKCS1_2048_8192_SHA256, s),
        (None, Some(s)) => (&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, s),
        (None, None) => return Err(VerifyError::Missing),
    };
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig.trim())
        .map_err(|_| VerifyError::Invalid)?;
    if sig.is_empty() {
        return Err(VerifyError::Invalid);
    }
    let key = ParsedPublicKey::new(alg, &key).map_err(|_| VerifyError::NoSecret)?;
    key.verify_sig(&req.body, &sig)
        .map_err(|_| VerifyError::Invalid)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let mut out = Vec::new();
    for (i, v) in objects(&req.body)?.iter().enumerate() {
        let event = str_field(v, "event")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'event'")))?;
        let payload = v.get("payload").cloned().unwrap_or(Value::Null);
        // Dispatch on the payload's shape: a bounce carries `original_message` and `bounce`
        // (some senders label it MessageDelayed).
        let bounced = payload.get("original_message").is_some() && payload.get("bounce").is_some();
        let message = if bounced {
            payload.get("original_message")
        } else {
            payload.get("message")
        };
        let Some(message) = message else { continue };
        // Incoming messages are not about a recipient rebound mails.
        if str_field(message, "direction") == Some("incoming") {
            continue;
        }
        let Some(to) = str_field(message, "to") else {
            continue;
        };
        let addr = Address::parse(to).map_err(|e| ParseError::new(format!("item {i}: to: {e}")))?;
        let status = str_field(&payload, "status");
        let (kind, class) = if bounced {
            (EventKind::Bounce, Some(BounceClass::Hard))
        } else {
            match (event, status) {
                ("MessageDeliveryFailed", Some("SoftFail")) => {
                    (EventKind::Bounce, Some(BounceClass::Soft))
                }
                ("MessageDeliveryFailed", _) => (EventKind::Bounce, Some(BounceClass::Hard)),
                ("MessageDelayed", _) => (EventKind::Deferred, None),
                ("MessageSent", _) => (EventKind::Delivery, None),
                ("MessageLoaded", _) => (EventKind::Open, None),
                ("MessageLinkClicked", _) => (EventKind::Click, None),
                _ => (EventKind::Other, None),
            }
        };
        let diag = str_field(&payload, "output")
            .or_else(|| str_field(&payload, "details"))
            .map(str::to_string);
        let reason = (kind == EventKind::Bounce).then(|| classify(None, diag.as_deref()));
        let occurred_at = v
            .get("timestamp")
            .and_then(Value::as_f64)
            .map(|t| (t * 1000.0) as Millis)
            .unwrap_or(req.received_at as Millis);
        let uuid = str_field(v, "uuid").map(str::to_string);
        let message_id = str_field(message, "message_id").map(str::to_string);
        let dedup_key = dedup_key(
            "postal",
            uuid.as_deref(),
            &[
                event,
                addr.key(),
                message_id.as_deref().unwrap_or(""),
                &occurred_at.to_string(),
            ],
        );
        out.push(Event {
            recipient: Recipient::Email(addr),
            attribution: Attribution::Recipient,
            kind,
            class,
            reason,
            status: diag.as_deref().and_then(find_status),
            diagnostic: diag,
            message_id,
            sending_domain: first_domain([str_field(message, "from")]),
            provider_event_id: uuid,
            occurred_at,
            dedup_key,
            details: serde_json::json!({ "event": event, "status": status }),
        });
    }
    Ok(out)
}
