//! SendGrid Event Webhook: a JSON array of events, signed with ECDSA P-256 / SHA-256 over
//! the timestamp header's bytes followed by the raw body; the public key is the base64 DER
//! SubjectPublicKeyInfo shown in SendGrid's settings (source config `public_key`).

use base64::Engine;
use serde_json::Value;

use super::{address_field, classify_or, objects, reason_of, str_field, ParseError, SourceAuth};
use crate::event::dedup_key;
use crate::reason::find_status;
use crate::signature::VerifyError;
use crate::{
    Attribution, BounceClass, Event, EventKind, Millis, Reason, Recipient, WebhookRequest,
};

/// Signature header.
pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
/// Timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";
/// Tolerance for the signed timestamp, both ways (SendGrid sets none; 10 minutes here).
pub const TOLERANCE_SECS: i64 = 10 * 60;

/// Decodes a public key as SendGrid shows it (base64 DER SPKI, PEM armour tolerated).
pub fn decode_public_key(key: &str) -> Option<Vec<u8>> {
    let b64: String = key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .filter(|k| !k.is_empty())
}

/// Checks that a key is a usable P-256 public key; the message says what is wrong.
pub fn check_public_key(key: &str) -> Result<(), String> {
    use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_ASN1};
    let der = decode_public_key(key).ok_or("public_key is not base64")?;
    ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &der)
        .map(|_| ())
        .map_err(|_| {
            "public_key is not a P-256 public key (base64 DER, as SendGrid shows it)".to_string()
        })
}

pub(super) fn verify(
    req: &WebhookRequest,
    auth: SourceAuth<'_>,
    now: Millis,
) -> Result<(), VerifyError> {
    let key = auth
        .config
        .and_then(|c| c.get("public_key"))
        .and_then(Value::as_str)
        .and_then(decode_public_key)
        .ok_or(VerifyError::NoSecret)?;
    verify_with(
        &key,
        req.header(TIMESTAMP_HEADER),
        req.header(SIGNATURE_HEADER),
        &req.body,
        now,
    )
}

/// Verifies a SendGrid signature with a DER SPKI public key.
pub fn verify_with(
    key_der: &[u8],
    ts: Option<&str>,
    sig: Option<&str>,
    body: &[u8],
    now: Millis,
) -> Result<(), VerifyError> {
    use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_ASN1};
    let (ts, sig) = (
        ts.ok_or(VerifyError::Missing)?,
        sig.ok_or(VerifyError::Missing)?,
    );
    let t: i64 = ts.trim().parse().map_err(|_| VerifyError::Timestamp)?;
    if t.checked_sub(now.div_euclid(1000))
        .is_none_or(|d| d.abs() > TOLERANCE_SECS)
    {
        return Err(VerifyError::Timestamp);
    }
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig.trim())
        .map_err(|_| VerifyError::Invalid)?;
    if sig.is_empty() {
        return Err(VerifyError::Invalid);
    }
    let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key_der)
        .map_err(|_| VerifyError::NoSecret)?;
    let mut msg = ts.as_bytes().to_vec();
    msg.extend_from_slice(body);
    key.verify_sig(&msg, &sig).map_err(|_| VerifyError::Invalid)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let mut out = Vec::new();
    for (i, v) in objects(&req.body)?.iter().enumerate() {
        let event = str_field(v, "event")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'event'")))?;
        let addr = address_field(v, "email", i)?;
        let diag = str_field(v, "reason")
            .or_else(|| str_field(v, "response"))
            .map(str::to_string);
        let (kind, class) = match event {
            "bounce" => match (str_field(v, "type"), str_field(v, "bounce_classification")) {
                (Some("blocked"), _) => (EventKind::Bounce, Some(BounceClass::Soft)),
                (_, Some("Technical" | "technical" | "Content" | "content")) => {
                    (EventKind::Bounce, Some(BounceClass::Soft))
                }
                _ => (EventKind::Bounce, Some(BounceClass::Hard)),
            },
            "dropped" => match str_field(v, "reason") {
                Some("Bounced Address") | Some("Invalid") => {
                    (EventKind::Bounce, Some(BounceClass::Hard))
                }
                Some("Unsubscribed Address") => (EventKind::Unsubscribe, None),
                Some("Spam Reporting Address") => (EventKind::Complaint, None),
                _ => (EventKind::Other, None),
            },
            "deferred" => (EventKind::Deferred, None),
            "delivered" => (EventKind::Delivery, None),
            "spamreport" => (EventKind::Complaint, None),
            "unsubscribe" | "group_unsubscribe" => (EventKind::Unsubscribe, None),
            "open" => (EventKind::Open, None),
            "click" => (EventKind::Click, None),
            _ => (EventKind::Other, None),
        };
        let status = str_field(v, "status")
            .map(str::to_string)
            .or_else(|| diag.as_deref().and_then(find_status));
        let reason = reason_of(kind, || {
            let hint = match (str_field(v, "reason"), str_field(v, "type")) {
                (Some("Bounced Address"), _) => Some(Reason::UserUnknown),
                (Some("Invalid"), _) => Some(Reason::SyntaxError),
                (_, Some("blocked")) => Some(Reason::Blocked),
                _ => None,
            };
            classify_or(status.as_deref(), diag.as_deref(), hint)
        });
        let occurred_at = v
            .get("timestamp")
            .and_then(Value::as_i64)
            .map(|t| t * 1000)
            .unwrap_or(req.received_at);
        let id = str_field(v, "sg_event_id").map(str::to_string);
        let message_id = str_field(v, "sg_message_id")
            .or_else(|| str_field(v, "smtp-id"))
            .map(str::to_string);
        let dedup_key = dedup_key(
            "sendgrid",
            id.as_deref(),
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
            status,
            diagnostic: diag,
            message_id,
            sending_domain: None,
            provider_event_id: id,
            occurred_at,
            dedup_key,
            details: serde_json::json!({ "event": event, "type": v.get("type"), "bounce_classification": v.get("bounce_classification"), "category": v.get("category") }),
        });
    }
    Ok(out)
}
