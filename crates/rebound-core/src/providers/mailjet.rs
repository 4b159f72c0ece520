//! Mailjet: one event object, or an array when events are grouped. `hard_bounce` decides
//! hard or soft. No signature: HTTP basic auth in the webhook URL.

use serde_json::Value;

use super::{address_field, objects, reason_of, str_field, ParseError};
use crate::event::hashed_dedup_key;
use crate::reason::{classify, find_status};
use crate::{
    Attribution, BounceClass, Event, EventKind, Millis, Reason, Recipient, WebhookRequest,
};

fn error_reason(error: &str) -> Option<Reason> {
    Some(match error {
        "user unknown" | "mailbox inactive" => Reason::UserUnknown,
        "quota exceeded" => Reason::MailboxFull,
        "invalid domain" | "no mail host" => Reason::HostUnknown,
        "relay/access denied" => Reason::NoRelaying,
        "greylisted" => Reason::Blocked,
        "blacklisted" | "sender blocked" | "preblocked" => Reason::Blocked,
        "spam reporter" => Reason::Feedback,
        "content blocked" => Reason::ContentError,
        "policy issue" => Reason::PolicyViolation,
        "typofix" => Reason::SyntaxError,
        _ => return None,
    })
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let mut out = Vec::new();
    for (i, v) in objects(&req.body)?.iter().enumerate() {
        let event = str_field(v, "event")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'event'")))?;
        let addr = address_field(v, "email", i)?;
        let hard = v.get("hard_bounce").and_then(Value::as_bool) == Some(true);
        let (kind, class) = match event {
            "bounce" => (
                EventKind::Bounce,
                Some(if hard {
                    BounceClass::Hard
                } else {
                    BounceClass::Soft
                }),
            ),
            // Mailjet refused to send (e.g. a known bad address): counted like a soft bounce.
            "blocked" => (EventKind::Bounce, Some(BounceClass::Soft)),
            "spam" => (EventKind::Complaint, None),
            "unsub" => (EventKind::Unsubscribe, None),
            "sent" => (EventKind::Delivery, None),
            "open" => (EventKind::Open, None),
            "click" => (EventKind::Click, None),
            _ => (EventKind::Other, None),
        };
        let error = str_field(v, "error");
        let diag = str_field(v, "comment").or(error).map(str::to_string);
        let reason = reason_of(kind, || {
            error
                .and_then(error_reason)
                .unwrap_or_else(|| classify(None, diag.as_deref()))
        });
        let occurred_at = v
            .get("time")
            .and_then(Value::as_i64)
            .map(|t| t * 1000)
            .unwrap_or(req.received_at as Millis);
        let message_id = text(v, "MessageID").or_else(|| text(v, "Message_GUID"));
        let dedup_key = hashed_dedup_key(
            "mailjet",
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
            details: serde_json::json!({ "event": event, "error_related_to": v.get("error_related_to"), "error": error }),
        });
    }
    Ok(out)
}
