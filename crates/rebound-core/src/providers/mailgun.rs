//! Mailgun webhooks: `{"signature":{"timestamp","token","signature"},"event-data":{…}}`.
//! The signature is hex HMAC-SHA256 of `timestamp + token` with the signing key; the body
//! is not signed. Tokens are cached by the HTTP layer to refuse replays.

use serde_json::Value;

use super::{objects, str_field, ParseError, SourceAuth};
use crate::address::first_domain;
use crate::event::id_dedup_key;
use crate::reason::{classify, find_status};
use crate::signature::{self, VerifyError};
use crate::{
    Address, Attribution, BounceClass, Event, EventKind, Millis, Reason, Recipient, WebhookRequest,
};

/// How far the signed timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 15 * 60;

fn signature_of(req: &WebhookRequest) -> Option<(String, String, String)> {
    let v: Value = serde_json::from_slice(&req.body).ok()?;
    let s = v.get("signature")?;
    let ts = match s.get("timestamp")? {
        Value::String(t) => t.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some((
        ts,
        str_field(s, "token")?.to_string(),
        str_field(s, "signature")?.to_string(),
    ))
}

/// The token of a signed request, for the replay cache.
pub fn token(req: &WebhookRequest) -> Option<String> {
    signature_of(req).map(|(_, t, _)| t)
}

/// Mailgun's MAC: HMAC-SHA256 of `timestamp + token` with the signing key.
fn mac(key: &str, timestamp: &str, token: &str) -> [u8; 32] {
    signature::hmac_sha256(key.as_bytes(), &[timestamp.as_bytes(), token.as_bytes()])
}

/// Signs like Mailgun does: the hex `signature.signature` for `timestamp` and `token`.
pub fn sign(key: &str, timestamp: &str, token: &str) -> String {
    hex::encode(mac(key, timestamp, token))
}

pub(super) fn verify(
    req: &WebhookRequest,
    auth: SourceAuth<'_>,
    now: Millis,
) -> Result<(), VerifyError> {
    let key = auth
        .secret
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::NoSecret)?;
    let (ts, token, sig) = signature_of(req).ok_or(VerifyError::Missing)?;
    let t: i64 = ts.parse().map_err(|_| VerifyError::Timestamp)?;
    if t.checked_sub(now.div_euclid(1000))
        .is_none_or(|d| d.abs() > TOLERANCE_SECS)
    {
        return Err(VerifyError::Timestamp);
    }
    let given = hex::decode(sig).map_err(|_| VerifyError::Invalid)?;
    let want = mac(key, &ts, &token);
    if signature::ct_eq(&given, &want) {
        Ok(())
    } else {
        Err(VerifyError::Invalid)
    }
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let mut out = Vec::new();
    for (i, v) in objects(&req.body)?.iter().enumerate() {
        let d = v
            .get("event-data")
            .filter(|d| d.is_object())
            .ok_or_else(|| ParseError::new(format!("item {i}: missing object 'event-data'")))?;
        let event = str_field(d, "event").ok_or_else(|| {
            ParseError::new(format!("item {i}: missing field 'event-data.event'"))
        })?;
        // `rejected` events name the recipient only in the message headers; events with no
        // recipient at all (e.g. `accepted` without details) have nothing to apply.
        let to_header = d
            .get("message")
            .and_then(|m| m.get("headers"))
            .and_then(|h| str_field(h, "to"));
        let Some(rcpt) = str_field(d, "recipient").or(to_header) else {
            continue;
        };
        let addr = Address::parse(rcpt)
            .map_err(|e| ParseError::new(format!("item {i}: recipient: {e}")))?;
        let severity = str_field(d, "severity");
        let status_obj = d.get("delivery-status");
        let code = status_obj
            .and_then(|s| s.get("code"))
            .and_then(Value::as_u64);
        let diag = status_obj
            .and_then(|s| str_field(s, "message").or_else(|| str_field(s, "description")))
            .map(str::to_string);
        let (kind, class) = match (event, severity) {
            ("failed", Some("permanent")) => (EventKind::Bounce, Some(BounceClass::Hard)),
            ("failed", _) => (EventKind::Deferred, None),
            ("rejected", _) => (EventKind::Other, None),
            ("complained", _) => (EventKind::Complaint, None),
            ("unsubscribed", _) => (EventKind::Unsubscribe, None),
            ("delivered", _) => (EventKind::Delivery, None),
            ("opened", _) => (EventKind::Open, None),
            ("clicked", _) => (EventKind::Click, None),
            _ => (EventKind::Other, None),
        };
        let text = match (code, &diag) {
            (Some(c), Some(m)) => format!("{c} {m}"),
            (Some(c), None) => c.to_string(),
            (None, Some(m)) => m.clone(),
            (None, None) => String::new(),
        };
        let (reason, status) = match kind {
            EventKind::Bounce => {
                let r = match str_field(d, "reason") {
                    Some("suppress-bounce") => Reason::UserUnknown,
                    Some("suppress-unsubscribe") | Some("suppress-complaint") => Reason::Rejected,
                    _ => classify(None, Some(&text)),
                };
                (Some(r), find_status(&text))
            }
            EventKind::Deferred => (None, find_status(&text)),
            EventKind::Complaint => (Some(Reason::Feedback), None),
            _ => (None, None),
        };
        let id = str_field(d, "id").map(str::to_string);
        let ts = d.get("timestamp").and_then(Value::as_f64);
        let occurred_at = ts
            .map(|t| (t * 1000.0) as Millis)
            .unwrap_or(req.received_at);
        let message_id = d
            .get("message")
            .and_then(|m| m.get("headers"))
            .and_then(|h| str_field(h, "message-id"))
            .map(str::to_string);
        let key = id.clone().unwrap_or_else(|| {
            format!(
                "{}:{}:{}:{}",
                message_id.as_deref().unwrap_or(""),
                addr.key(),
                event,
                ts.map(|t| t.to_string()).unwrap_or_default()
            )
        });
        out.push(Event {
            recipient: Recipient::Email(addr),
            attribution: Attribution::Recipient,
            kind,
            class,
            reason,
            status,
            diagnostic: diag,
            message_id,
            // The From header, else the envelope sender.
            sending_domain: first_domain([
                d.get("message")
                    .and_then(|m| m.get("headers"))
                    .and_then(|h| str_field(h, "from")),
                d.get("envelope").and_then(|e| str_field(e, "sender")),
            ]),
            provider_event_id: id,
            occurred_at,
            dedup_key: id_dedup_key("mailgun", &key),
            details: serde_json::json!({ "event": event, "severity": severity, "reason": str_field(d, "reason"), "code": code }),
        });
    }
    Ok(out)
}
