//! MailerSend: one JSON event per POST, `{"type":"activity.hard_bounced","data":{…}}`,
//! signed with hex HMAC-SHA256 of the raw body in the `Signature` header.

use serde_json::Value;

use super::{reason_of, str_field, ParseError, SourceAuth};
use crate::address::first_domain;
use crate::event::dedup_key;
use crate::reason::{classify, find_status};
use crate::signature::{self, VerifyError};
use crate::{
    timestamp, Address, Attribution, BounceClass, Event, EventKind, Recipient, WebhookRequest,
};

pub(super) fn verify(req: &WebhookRequest, auth: SourceAuth<'_>) -> Result<(), VerifyError> {
    let secret = auth
        .secret
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::NoSecret)?;
    let sig = req.header("signature").ok_or(VerifyError::Missing)?;
    signature::verify_hex_hmac(secret.as_bytes(), sig, &req.body)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let mut out = Vec::new();
    for (i, v) in super::objects(&req.body)?.iter().enumerate() {
        let typ = str_field(v, "type")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'type'")))?;
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        let email = data.get("email").cloned().unwrap_or(Value::Null);
        let Some(rcpt) = email.get("recipient").and_then(|r| str_field(r, "email")) else {
            continue;
        };
        let addr = Address::parse(rcpt)
            .map_err(|e| ParseError::new(format!("item {i}: recipient: {e}")))?;
        let (kind, class) = match typ.trim_start_matches("activity.") {
            "hard_bounced" => (EventKind::Bounce, Some(BounceClass::Hard)),
            "soft_bounced" => (EventKind::Bounce, Some(BounceClass::Soft)),
            "spam_complaint" => (EventKind::Complaint, None),
            "unsubscribed" => (EventKind::Unsubscribe, None),
            "delivered" => (EventKind::Delivery, None),
            "opened" | "opened_unique" => (EventKind::Open, None),
            "clicked" | "clicked_unique" => (EventKind::Click, None),
            _ => (EventKind::Other, None),
        };
        let diag = data
            .get("morph")
            .and_then(|m| str_field(m, "reason"))
            .map(str::to_string);
        let reason = reason_of(kind, || classify(None, diag.as_deref()));
        let occurred_at = str_field(&data, "created_at")
            .and_then(timestamp::parse)
            .unwrap_or(req.received_at);
        let id = str_field(&data, "id").map(str::to_string);
        let message_id = email
            .get("message")
            .and_then(|m| str_field(m, "id"))
            .map(str::to_string);
        let dedup_key = dedup_key(
            "mailersend",
            id.as_deref(),
            &[
                typ,
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
            sending_domain: first_domain([str_field(&email, "from")]),
            provider_event_id: id,
            occurred_at,
            dedup_key,
            details: serde_json::json!({ "type": typ }),
        });
    }
    Ok(out)
}
