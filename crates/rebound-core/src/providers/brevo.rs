//! Brevo (Sendinblue) transactional webhooks: one event object, or an array when batched;
//! the event name says hard or soft. No signature: HTTP basic auth in the webhook URL.

use serde_json::Value;

use super::{address_field, classify_or, objects, reason_of, str_field, ParseError};
use crate::event::hashed_dedup_key;
use crate::reason::find_status;
use crate::{
    Attribution, BounceClass, Event, EventKind, Millis, Reason, Recipient, WebhookRequest,
};

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let mut out = Vec::new();
    for (i, v) in objects(&req.body)?.iter().enumerate() {
        let event = str_field(v, "event")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'event'")))?;
        let addr = address_field(v, "email", i)?;
        let (kind, class) = match event {
            "hard_bounce" | "invalid_email" => (EventKind::Bounce, Some(BounceClass::Hard)),
            "soft_bounce" => (EventKind::Bounce, Some(BounceClass::Soft)),
            "blocked" => (EventKind::Bounce, Some(BounceClass::Soft)),
            "spam" | "complaint" => (EventKind::Complaint, None),
            "unsubscribe" | "unsubscribed" => (EventKind::Unsubscribe, None),
            "deferred" => (EventKind::Deferred, None),
            "delivered" => (EventKind::Delivery, None),
            "opened" | "unique_opened" | "proxy_open" | "unique_proxy_open" => {
                (EventKind::Open, None)
            }
            "click" => (EventKind::Click, None),
            _ => (EventKind::Other, None),
        };
        let diag = str_field(v, "reason").map(str::to_string);
        let reason = reason_of(kind, || {
            let hint = match event {
                "invalid_email" => Some(Reason::SyntaxError),
                "blocked" => Some(Reason::Blocked),
                _ => None,
            };
            classify_or(None, diag.as_deref(), hint)
        });
        let occurred_at = v
            .get("ts_epoch")
            .and_then(Value::as_i64)
            .or_else(|| v.get("ts_event").and_then(Value::as_i64).map(|t| t * 1000))
            .or_else(|| v.get("ts").and_then(Value::as_i64).map(|t| t * 1000))
            .unwrap_or(req.received_at as Millis);
        let message_id = str_field(v, "message-id").map(str::to_string);
        let dedup_key = hashed_dedup_key(
            "brevo",
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
            provider_event_id: None,
            occurred_at,
            dedup_key,
            details: serde_json::json!({ "event": event, "tag": v.get("tag") }),
        });
    }
    Ok(out)
}
