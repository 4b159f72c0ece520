//! ForwardEmail bounce webhooks: one JSON bounce per POST (`recipient`, `bounce{category,
//! message, code, status}`, `bounced_at`), signed with hex HMAC-SHA256 of the raw body in
//! `X-Webhook-Signature`. Categories block, recipient, virus and spam are hard.

use super::{str_field, ParseError, SourceAuth};
use crate::event::hashed_dedup_key;
use crate::reason::{classify, find_status};
use crate::signature::{self, VerifyError};
use crate::{
    timestamp, Attribution, BounceClass, Event, EventKind, Reason, Recipient, WebhookRequest,
};

pub(super) fn verify(req: &WebhookRequest, auth: SourceAuth<'_>) -> Result<(), VerifyError> {
    let secret = auth
        .secret
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::NoSecret)?;
    let sig = req
        .header("x-webhook-signature")
        .ok_or(VerifyError::Missing)?;
    signature::verify_hex_hmac(secret.as_bytes(), sig, &req.body)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let mut out = Vec::new();
    for (i, v) in super::objects(&req.body)?.iter().enumerate() {
        let addr = super::address_field(v, "recipient", i)?;
        let bounce = v.get("bounce").cloned().unwrap_or(serde_json::Value::Null);
        let category = str_field(&bounce, "category").unwrap_or("");
        let class = if matches!(category, "block" | "recipient" | "virus" | "spam") {
            BounceClass::Hard
        } else {
            BounceClass::Soft
        };
        let diag = str_field(&bounce, "message")
            .or_else(|| str_field(v, "response"))
            .map(str::to_string);
        let status = str_field(&bounce, "status")
            .map(str::to_string)
            .or_else(|| diag.as_deref().and_then(find_status));
        let reason = match (category, classify(status.as_deref(), diag.as_deref())) {
            (_, r) if r != Reason::Undefined => r,
            ("recipient", _) => Reason::UserUnknown,
            ("block", _) => Reason::Blocked,
            ("spam", _) => Reason::SpamDetected,
            ("virus", _) => Reason::VirusDetected,
            (_, r) => r,
        };
        let occurred_at = str_field(v, "bounced_at")
            .and_then(timestamp::parse)
            .unwrap_or(req.received_at);
        let email_id = str_field(v, "email_id").map(str::to_string);
        out.push(Event {
            dedup_key: hashed_dedup_key("forwardemail", &[email_id.as_deref().unwrap_or(""), addr.key(), category, &occurred_at.to_string()]),
            recipient: Recipient::Email(addr),
            attribution: Attribution::Recipient,
            kind: EventKind::Bounce,
            class: Some(class),
            reason: Some(reason),
            status,
            diagnostic: diag,
            message_id: email_id,
            sending_domain: None,
            provider_event_id: str_field(v, "feedback_id").map(str::to_string),
            occurred_at,
            details: serde_json::json!({ "category": category, "truth_source": v.get("truth_source") }),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::hmac_sha256;

    const BODY: &str = r#"{"email_id":"e1","recipient":"gone@example.com","bounce":{"action":"reject","message":"550 5.1.1 user unknown","category":"recipient","code":550,"status":"5.1.1"},"bounced_at":"2026-01-02T03:04:05.000Z"}"#;

    #[test]
    fn parses_and_verifies_the_documented_shape() {
        let sig = hex::encode(hmac_sha256(b"fe-key", &[BODY.as_bytes()]));
        let req = WebhookRequest {
            headers: vec![("x-webhook-signature".into(), sig)],
            body: BODY.as_bytes().to_vec(),
            received_at: 0,
        };
        let auth = SourceAuth {
            secret: Some("fe-key"),
            ..Default::default()
        };
        assert!(verify(&req, auth).is_ok());
        assert!(verify(
            &req,
            SourceAuth {
                secret: Some("other"),
                ..Default::default()
            }
        )
        .is_err());
        let ev = parse(&req).unwrap();
        assert_eq!(
            (ev[0].class, ev[0].reason),
            (Some(BounceClass::Hard), Some(Reason::UserUnknown))
        );
        let soft = BODY
            .replace("\"recipient\",\"code\"", "\"network\",\"code\"")
            .replace("5.1.1", "4.4.1")
            .replace("550", "421");
        let ev = parse(&WebhookRequest {
            body: soft.into_bytes(),
            ..req
        })
        .unwrap();
        assert_eq!(ev[0].class, Some(BounceClass::Soft));
    }
}
