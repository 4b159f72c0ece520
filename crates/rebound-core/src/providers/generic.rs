//! Generic HMAC-signed events: `{"id","type","created_at","data":{"message_id","email",
//! "timestamp","bounce_code","bounce_reason"}}` (one object or an array).
//!
//! Signature: hex HMAC-SHA256 of the raw body in `X-Webhook-Signature` (header name
//! configurable per source, `sha256=` prefix accepted), or Standard Webhooks
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

use super::{address_field, objects, str_field, ParseError, SourceAuth};
use crate::event::dedup_key;
use crate::reason::{classify, find_status};
use crate::signature::{self, VerifyError};
use crate::{
    timestamp, Attribution, BounceClass, Event, EventKind, Millis, Reason, Recipient,
    WebhookRequest,
};

/// The signature header when a source sets none.
pub const DEFAULT_SIGNATURE_HEADER: &str = "x-webhook-signature";

const TYPES: &str =
    "bounced.hard, bounced.soft, complained, unsubscribed, delivered, opened, clicked";

pub(super) fn verify(
    req: &WebhookRequest,
    auth: SourceAuth<'_>,
    now: Millis,
) -> Result<(), VerifyError> {
    let secret = auth
        .secret
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::NoSecret)?;
    let header = auth.signature_header.unwrap_or(DEFAULT_SIGNATURE_HEADER);
    if let Some(sig) = req.header(header) {
        return signature::verify_hex_hmac(secret.as_bytes(), sig, &req.body);
    }
    if let Some(sigs) = req.header("webhook-signature") {
        let id = req.header("webhook-id").ok_or(VerifyError::Missing)?;
        let ts = req
            .header("webhook-timestamp")
            .ok_or(VerifyError::Missing)?;
        let key = signature::standard_webhooks_key(secret);
        return signature::verify_standard_webhooks(&key, id, ts, sigs, &req.body, now);
    }
    Err(VerifyError::Missing)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let items = objects(&req.body)?;
    let webhook_id = req.header("webhook-id");
    let single = items.len() == 1;
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let typ = str_field(v, "type")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'type'")))?;
        let (kind, class) = match typ {
            "bounced.hard" => (EventKind::Bounce, Some(BounceClass::Hard)),
            "bounced.soft" => (EventKind::Bounce, Some(BounceClass::Soft)),
            "complained" => (EventKind::Complaint, None),
            "unsubscribed" => (EventKind::Unsubscribe, None),
            "delivered" => (EventKind::Delivery, None),
            "opened" => (EventKind::Open, None),
            "clicked" => (EventKind::Click, None),
            other => {
                return Err(ParseError::new(format!(
                    "item {i}: unknown event type '{other}' (expected one of {TYPES})"
                )))
            }
        };
        let data = v
            .get("data")
            .filter(|d| d.is_object())
            .ok_or_else(|| ParseError::new(format!("item {i}: missing object 'data'")))?;
        let email = address_field(data, "email", i)?;
        let message_id = str_field(data, "message_id").map(str::to_string);
        let diagnostic = str_field(data, "bounce_reason").map(str::to_string);
        let code = str_field(data, "bounce_code")
            .map(str::to_string)
            .or_else(|| {
                data.get("bounce_code")
                    .and_then(|c| c.as_u64())
                    .map(|c| c.to_string())
            });
        let occurred_at = str_field(data, "timestamp")
            .or_else(|| str_field(v, "created_at"))
            .and_then(timestamp::parse)
            .unwrap_or(req.received_at);
        let id = str_field(v, "id")
            .map(str::to_string)
            .or_else(|| match (webhook_id, single) {
                (Some(w), true) => Some(w.to_string()),
                (Some(w), false) => Some(format!("{w}#{i}")),
                _ => None,
            });
        let dedup_key = dedup_key(
            "generic",
            id.as_deref(),
            &[
                typ,
                email.key(),
                message_id.as_deref().unwrap_or(""),
                &occurred_at.to_string(),
            ],
        );
        let (reason, status) = match kind {
            EventKind::Bounce => {
                let text = match (&code, &diagnostic) {
                    (Some(c), Some(d)) => format!("{c} {d}"),
                    (Some(c), None) => c.clone(),
                    (None, Some(d)) => d.clone(),
                    (None, None) => String::new(),
                };
                (Some(classify(None, Some(&text))), find_status(&text))
            }
            EventKind::Complaint => (Some(Reason::Feedback), None),
            _ => (None, None),
        };
        let mut details = serde_json::Map::new();
        details.insert("type".into(), typ.into());
        if let Some(c) = &code {
            details.insert("bounce_code".into(), c.as_str().into());
        }
        out.push(Event {
            recipient: Recipient::Email(email),
            attribution: Attribution::Recipient,
            kind,
            class,
            reason,
            status,
            diagnostic,
            message_id,
            sending_domain: None,
            provider_event_id: id,
            occurred_at,
            dedup_key,
            details: details.into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::hmac_sha256;

    const BODY: &str = r#"{"id":"evt_1","type":"bounced.soft","created_at":"2026-05-13T10:24:31Z","data":{"message_id":"m","email":"a@x.io","timestamp":"2026-05-13T10:24:28Z","bounce_code":"452","bounce_reason":"4.2.2 mailbox full"}}"#;

    fn req(headers: &[(&str, String)], body: &str) -> WebhookRequest {
        WebhookRequest {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            body: body.as_bytes().to_vec(),
            received_at: 7,
        }
    }

    #[test]
    fn parses_the_documented_shape() {
        let ev = parse(&req(&[], BODY)).unwrap();
        assert_eq!(ev.len(), 1);
        let e = &ev[0];
        assert_eq!(
            (e.kind, e.class),
            (EventKind::Bounce, Some(BounceClass::Soft))
        );
        assert_eq!(e.reason, Some(Reason::MailboxFull));
        assert_eq!(e.status.as_deref(), Some("4.2.2"));
        assert_eq!(e.dedup_key, "generic:id:evt_1");
        assert_eq!(
            e.occurred_at,
            timestamp::parse("2026-05-13T10:24:28Z").unwrap()
        );
    }

    #[test]
    fn unknown_types_and_missing_fields_name_the_problem() {
        let e = parse(&req(&[], r#"{"type":"bounced","data":{"email":"a@x.io"}}"#)).unwrap_err();
        assert!(e.0.contains("unknown event type 'bounced'"), "{e}");
        let e = parse(&req(&[], r#"{"type":"delivered"}"#)).unwrap_err();
        assert!(e.0.contains("'data'"), "{e}");
    }

    #[test]
    fn webhook_id_is_the_key_when_id_is_absent() {
        let body = r#"{"type":"delivered","data":{"email":"a@x.io"}}"#;
        let ev = parse(&req(&[("webhook-id", "msg_9".into())], body)).unwrap();
        assert_eq!(ev[0].dedup_key, "generic:id:msg_9");
    }

    #[test]
    fn verification_picks_the_scheme_from_the_headers() {
        let auth = SourceAuth {
            secret: Some("s3cret"),
            signature_header: None,
            ..Default::default()
        };
        let sig = hex::encode(hmac_sha256(b"s3cret", &[BODY.as_bytes()]));
        assert_eq!(
            verify(&req(&[("x-webhook-signature", sig.clone())], BODY), auth, 0),
            Ok(())
        );
        assert_eq!(verify(&req(&[], BODY), auth, 0), Err(VerifyError::Missing));
        assert_eq!(
            verify(
                &req(&[("x-webhook-signature", sig.clone())], BODY),
                SourceAuth::default(),
                0
            ),
            Err(VerifyError::NoSecret)
        );
        let custom = SourceAuth {
            secret: Some("s3cret"),
            signature_header: Some("x-sig"),
            ..Default::default()
        };
        assert_eq!(verify(&req(&[("x-sig", sig)], BODY), custom, 0), Ok(()));
        // Standard Webhooks without id or timestamp is refused.
        assert_eq!(
            verify(
                &req(&[("webhook-signature", "v1,AAAA".into())], BODY),
                auth,
                0
            ),
            Err(VerifyError::Missing)
        );
    }
}
