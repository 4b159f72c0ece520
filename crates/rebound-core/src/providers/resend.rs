//! Resend: `{"type":"email.bounced","created_at","data":{"email_id","to":[…],"bounce":{…}}}`,
//! signed with Svix (Standard Webhooks): `svix-*` or `webhook-*` headers, `whsec_` secret.

use serde_json::Value;

use super::{objects, str_field, ParseError, SourceAuth};
use crate::address::first_domain;
use crate::event::id_dedup_key;
use crate::reason::{classify, find_status};
use crate::signature::{self, VerifyError};
use crate::{
    timestamp, Address, Attribution, BounceClass, Event, EventKind, Millis, Reason, Recipient,
    WebhookRequest,
};

pub(super) fn verify(
    req: &WebhookRequest,
    auth: SourceAuth<'_>,
    now: Millis,
) -> Result<(), VerifyError> {
    let secret = auth
        .secret
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::NoSecret)?;
    let h = |a: &str, b: &str| req.header(a).or_else(|| req.header(b));
    let sigs = h("svix-signature", "webhook-signature").ok_or(VerifyError::Missing)?;
    let id = h("svix-id", "webhook-id").ok_or(VerifyError::Missing)?;
    let ts = h("svix-timestamp", "webhook-timestamp").ok_or(VerifyError::Missing)?;
    let key = signature::standard_webhooks_key(secret);
    signature::verify_standard_webhooks(&key, id, ts, sigs, &req.body, now)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let svix_id = req.header("svix-id").or_else(|| req.header("webhook-id"));
    let mut out = Vec::new();
    for (i, v) in objects(&req.body)?.iter().enumerate() {
        let typ = str_field(v, "type")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'type'")))?;
        let data = v
            .get("data")
            .filter(|d| d.is_object())
            .ok_or_else(|| ParseError::new(format!("item {i}: missing object 'data'")))?;
        let bounce = data.get("bounce");
        let (kind, class) = match typ {
            "email.bounced" => {
                let btype = bounce
                    .and_then(|b| str_field(b, "type"))
                    .unwrap_or("Permanent");
                let class = if btype == "Permanent" {
                    BounceClass::Hard
                } else {
                    BounceClass::Soft
                };
                (EventKind::Bounce, Some(class))
            }
            "email.complained" => (EventKind::Complaint, None),
            "email.delivered" => (EventKind::Delivery, None),
            "email.delivery_delayed" => (EventKind::Deferred, None),
            "email.opened" => (EventKind::Open, None),
            "email.clicked" => (EventKind::Click, None),
            _ => (EventKind::Other, None),
        };
        let diagnostic = bounce
            .and_then(|b| str_field(b, "message"))
            .map(str::to_string);
        let (reason, status) = match kind {
            EventKind::Bounce => {
                let sub = bounce.and_then(|b| str_field(b, "subType")).unwrap_or("");
                let r = classify(None, diagnostic.as_deref());
                let r = match (r, sub) {
                    (Reason::Undefined, "Suppressed" | "OnAccountSuppressionList") => {
                        Reason::Rejected
                    }
                    (Reason::Undefined, _)
                        if diagnostic
                            .as_deref()
                            .is_some_and(|d| d.contains("suppress")) =>
                    {
                        Reason::Rejected
                    }
                    (r, _) => r,
                };
                (Some(r), diagnostic.as_deref().and_then(find_status))
            }
            EventKind::Complaint => (Some(Reason::Feedback), None),
            _ => (None, None),
        };
        let email_id = str_field(data, "email_id").map(str::to_string);
        let sending_domain = first_domain([str_field(data, "from")]);
        let created = str_field(v, "created_at").or_else(|| str_field(data, "created_at"));
        let occurred_at = created
            .and_then(timestamp::parse)
            .unwrap_or(req.received_at);
        let to: Vec<&str> = match data.get("to") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => vec![],
        };
        if to.is_empty() {
            return Err(ParseError::new(format!(
                "item {i}: missing recipients 'data.to'"
            )));
        }
        for rcpt in to {
            let addr = Address::parse(rcpt)
                .map_err(|e| ParseError::new(format!("item {i}: data.to: {e}")))?;
            let base = svix_id.map(str::to_string).unwrap_or_else(|| {
                format!(
                    "{}:{}:{}",
                    email_id.as_deref().unwrap_or(""),
                    typ,
                    created.unwrap_or("")
                )
            });
            out.push(Event {
                dedup_key: id_dedup_key("resend", &format!("{base}:{}", addr.key())),
                recipient: Recipient::Email(addr),
                attribution: Attribution::Recipient,
                kind,
                class,
                reason,
                status: status.clone(),
                diagnostic: diagnostic.clone(),
                message_id: email_id.clone(),
                sending_domain: sending_domain.clone(),
                provider_event_id: svix_id.map(str::to_string),
                occurred_at,
                details: serde_json::json!({ "type": typ, "subject": data.get("subject") }),
            });
        }
    }
    Ok(out)
}
