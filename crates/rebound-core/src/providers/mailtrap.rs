//! Mailtrap: `{"events":[…]}` per POST, signed with the lowercase hex HMAC-SHA256 of the raw
//! body (key: the webhook's signing secret) in `Mailtrap-Signature`.

use serde_json::Value;

use super::{address_field, reason_of, str_field, ParseError, SourceAuth};
use crate::event::dedup_key;
use crate::reason::{classify, find_status};
use crate::signature::{self, VerifyError};
use crate::{Attribution, BounceClass, Event, EventKind, Millis, Recipient, WebhookRequest};

pub(super) fn verify(req: &WebhookRequest, auth: SourceAuth<'_>) -> Result<(), VerifyError> {
    let secret = auth
        .secret
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::NoSecret)?;
    let sig = req
        .header("mailtrap-signature")
        .ok_or(VerifyError::Missing)?;
    signature::verify_hex_hmac(secret.as_bytes(), sig, &req.body)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let v: Value = serde_json::from_slice(&req.body).map_err(ParseError::json)?;
    let items = match v.get("events") {
        Some(Value::Array(a)) => a.clone(),
        _ => super::objects(&req.body)?,
    };
    let mut out = Vec::new();
    for (i, e) in items.iter().enumerate() {
        let event = str_field(e, "event")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'event'")))?;
        let addr = address_field(e, "email", i)?;
        let (kind, class) = match event {
            "bounce" => (EventKind::Bounce, Some(BounceClass::Hard)),
            "soft bounce" | "soft_bounce" => (EventKind::Bounce, Some(BounceClass::Soft)),
            "spam" => (EventKind::Complaint, None),
            "unsubscribe" => (EventKind::Unsubscribe, None),
            "delivery" => (EventKind::Delivery, None),
            "open" => (EventKind::Open, None),
            "click" => (EventKind::Click, None),
            // suspension, reject: Mailtrap did not send; timeline only.
            _ => (EventKind::Other, None),
        };
        let diag = str_field(e, "response")
            .or_else(|| str_field(e, "reason"))
            .map(str::to_string);
        let reason = reason_of(kind, || classify(None, diag.as_deref()));
        let occurred_at = e
            .get("timestamp")
            .and_then(Value::as_i64)
            .map(|t| t * 1000)
            .unwrap_or(req.received_at as Millis);
        let id = str_field(e, "event_id").map(str::to_string);
        let message_id = str_field(e, "message_id").map(str::to_string);
        // The event id stands for the whole batch item: with the address, one recipient.
        let own_id = id.as_ref().map(|id| format!("{id}:{}", addr.key()));
        let dedup_key = dedup_key(
            "mailtrap",
            own_id.as_deref(),
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
            sending_domain: None,
            provider_event_id: id,
            occurred_at,
            dedup_key,
            details: serde_json::json!({ "event": event, "bounce_category": e.get("bounce_category"), "category": e.get("category") }),
        });
    }
    Ok(out)
}
