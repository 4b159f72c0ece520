//! Postmark: one JSON object per POST, `RecordType` Bounce, SpamComplaint,
//! SubscriptionChange, Delivery, Open, Click. No signature: HTTP basic auth in the webhook
//! URL (checked in constant time by [`super::verify_basic`]).

use serde_json::Value;

use super::{objects, str_field, ParseError};
use crate::address::first_domain;
use crate::event::id_dedup_key;
use crate::reason::{classify, find_status};
use crate::{
    timestamp, Address, Attribution, BounceClass, Event, EventKind, Reason, Recipient,
    WebhookRequest,
};

/// Bounce `Type` → class; `None` means the record is not a bounce of the recipient.
fn bounce_class(typ: &str) -> Option<BounceClass> {
    match typ {
        "HardBounce" | "BadEmailAddress" | "ManuallyDeactivated" => Some(BounceClass::Hard),
        "SoftBounce" | "Transient" | "DnsError" | "SpamNotification" | "VirusNotification"
        | "DMARCPolicy" | "Blocked" => Some(BounceClass::Soft),
        _ => None,
    }
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let mut out = Vec::new();
    for (i, v) in objects(&req.body)?.iter().enumerate() {
        let record = str_field(v, "RecordType")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'RecordType'")))?;
        // Some records name no recipient (e.g. an unsubscribe request bounce): nothing to
        // apply, but still an authentic request.
        let Some(email) = str_field(v, "Email").or_else(|| str_field(v, "Recipient")) else {
            continue;
        };
        let addr = Address::parse(email).map_err(|e| ParseError::new(format!("item {i}: {e}")))?;
        let message_id = str_field(v, "MessageID").map(str::to_string);
        let typ = str_field(v, "Type").unwrap_or("");
        let at = |k: &str| str_field(v, k).and_then(timestamp::parse);
        let (kind, class, occurred) = match record {
            "Bounce" => match bounce_class(typ) {
                Some(c) => (EventKind::Bounce, Some(c), at("BouncedAt")),
                None if typ == "SpamComplaint" => (EventKind::Complaint, None, at("BouncedAt")),
                None if typ == "AutoResponder" => (EventKind::AutoReply, None, at("BouncedAt")),
                None if typ == "Unsubscribe" => (EventKind::Unsubscribe, None, at("BouncedAt")),
                None => (EventKind::Other, None, at("BouncedAt")),
            },
            "SpamComplaint" => (EventKind::Complaint, None, at("BouncedAt")),
            "Delivery" => (EventKind::Delivery, None, at("DeliveredAt")),
            "Open" => (EventKind::Open, None, at("ReceivedAt")),
            "Click" => (EventKind::Click, None, at("ReceivedAt")),
            "SubscriptionChange" => {
                let suppress = v.get("SuppressSending").and_then(Value::as_bool) == Some(true);
                let kind = match (suppress, str_field(v, "SuppressionReason")) {
                    (true, Some("HardBounce")) => EventKind::Bounce,
                    (true, Some("SpamComplaint")) => EventKind::Complaint,
                    (true, _) => EventKind::Unsubscribe,
                    (false, _) => EventKind::Other,
                };
                let class = (kind == EventKind::Bounce).then_some(BounceClass::Hard);
                (kind, class, at("ChangedAt"))
            }
            _ => (EventKind::Other, None, None),
        };
        let diagnostic = str_field(v, "Details")
            .or_else(|| str_field(v, "Description"))
            .map(str::to_string);
        let (reason, status) = match kind {
            EventKind::Bounce => {
                let r = classify(None, diagnostic.as_deref());
                let r = if r == Reason::Undefined && typ == "BadEmailAddress" {
                    Reason::UserUnknown
                } else {
                    r
                };
                (Some(r), diagnostic.as_deref().and_then(find_status))
            }
            EventKind::Complaint => (Some(Reason::Feedback), None),
            _ => (None, None),
        };
        // Postmark sends one record per event; its ID (or the message and record kind) is
        // stable across retries.
        let id = match v.get("ID") {
            Some(Value::Number(n)) => format!("{record}:{n}"),
            Some(Value::String(s)) if !s.is_empty() => format!("{record}:{s}"),
            _ => format!(
                "{record}:{}:{}:{}:{}",
                message_id.as_deref().unwrap_or(""),
                addr.key(),
                typ,
                occurred.unwrap_or_default()
            ),
        };
        out.push(Event {
            recipient: Recipient::Email(addr),
            attribution: Attribution::Recipient,
            kind,
            class,
            reason,
            status,
            diagnostic,
            message_id,
            sending_domain: first_domain([str_field(v, "From")]),
            provider_event_id: v.get("ID").map(|x| x.to_string().trim_matches('"').to_string()),
            occurred_at: occurred.unwrap_or(req.received_at),
            dedup_key: id_dedup_key("postmark", &id),
            details: serde_json::json!({
                "record_type": record, "type": typ, "type_code": v.get("TypeCode"),
                "inactive": v.get("Inactive"), "tag": v.get("Tag"), "message_stream": v.get("MessageStream"),
            }),
        });
    }
    Ok(out)
}
