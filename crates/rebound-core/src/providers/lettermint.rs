//! Lettermint webhooks: one JSON delivery per POST, `{id, event, timestamp, data}` with
//! `data.recipient`, `data.message_id` and, for bounces, `data.response{status_code,
//! enhanced_status_code, content}`.
//!
//! Signed in `X-Lettermint-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256 of
//! `"{t}.{raw body}"` keyed with the endpoint's signing secret used as it is (`whsec_…`
//! included), 300 s tolerance both ways; `X-Lettermint-Delivery`, when present, carries
//! the same timestamp (Lettermint's official SDKs cross-check it, so does rebound).

use serde_json::Value;

use super::{classify_or, reason_of, str_field, ParseError, SourceAuth};
use crate::event::hashed_dedup_key;
use crate::reason::find_status;
use crate::signature::{ct_eq, hmac_sha256, VerifyError, TOLERANCE_SECS};
use crate::{
    timestamp, Address, Attribution, BounceClass, Event, EventKind, Millis, Recipient,
    WebhookRequest,
};

/// Lettermint's MAC: HMAC-SHA256 of `"{t}.{raw body}"` with the secret as it is.
fn mac(secret: &str, t: &str, body: &[u8]) -> [u8; 32] {
    hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", body])
}

/// Signs like Lettermint does: the `X-Lettermint-Signature` value for `body` at Unix
/// second `t` (`X-Lettermint-Delivery` carries `t` too).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let t = t.to_string();
    format!("t={t},v1={}", hex::encode(mac(secret, &t, body)))
}

pub(super) fn verify(
    req: &WebhookRequest,
    auth: SourceAuth<'_>,
    now: Millis,
) -> Result<(), VerifyError> {
    let secret = auth
        .secret
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::NoSecret)?;
    let header = req
        .header("x-lettermint-signature")
        .ok_or(VerifyError::Missing)?;
    let (mut ts, mut sigs) = (None, Vec::new());
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => ts = Some(v.trim()),
            Some(("v1", v)) => sigs.push(v.trim()),
            _ => {}
        }
    }
    let ts = ts.ok_or(VerifyError::Missing)?;
    if sigs.is_empty() {
        return Err(VerifyError::Missing);
    }
    if ts.is_empty() || ts.len() > 15 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::Timestamp);
    }
    let secs: i64 = ts.parse().map_err(|_| VerifyError::Timestamp)?;
    if (now / 1000 - secs).abs() > TOLERANCE_SECS {
        return Err(VerifyError::Timestamp);
    }
    if let Some(d) = req.header("x-lettermint-delivery") {
        if d.trim() != ts {
            return Err(VerifyError::Invalid);
        }
    }
    let want = mac(secret, ts, &req.body);
    let mut ok = false;
    for s in sigs {
        if let Ok(given) = hex::decode(s) {
            ok |= ct_eq(&given, &want);
        }
    }
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Invalid)
    }
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let v: Value = serde_json::from_slice(&req.body).map_err(ParseError::json)?;
    if !v.is_object() {
        return Err(ParseError::new("expected a JSON object"));
    }
    let event = str_field(&v, "event").ok_or_else(|| ParseError::new("missing field 'event'"))?;
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    let (kind, class) = match event {
        "message.hard_bounced" => (EventKind::Bounce, Some(BounceClass::Hard)),
        "message.soft_bounced" => (EventKind::Bounce, Some(BounceClass::Soft)),
        "message.spam_complaint" => (EventKind::Complaint, None),
        "message.unsubscribed" => (EventKind::Unsubscribe, None),
        "message.delivered" => (EventKind::Delivery, None),
        "message.opened" => (EventKind::Open, None),
        "message.clicked" => (EventKind::Click, None),
        // created, sent, failed, suppressed, policy_rejected, scheduled, auto_replied…
        _ => (EventKind::Other, None),
    };
    let Some(rcpt) = str_field(&data, "recipient") else {
        if kind == EventKind::Other {
            // webhook.test, suppression.*, message.created (recipients in to/cc/bcc).
            return Ok(vec![]);
        }
        return Err(ParseError::new("missing field 'data.recipient'"));
    };
    let addr = Address::parse(rcpt).map_err(|e| ParseError::new(format!("data.recipient: {e}")))?;
    let response = data.get("response").cloned().unwrap_or(Value::Null);
    let code = response.get("status_code").and_then(Value::as_i64);
    let diag = str_field(&response, "content")
        .map(str::to_string)
        .or_else(|| str_field(&data, "reason").map(str::to_string));
    let smtp_status = str_field(&response, "enhanced_status_code")
        .map(str::to_string)
        .or_else(|| diag.as_deref().and_then(find_status));
    let reason = reason_of(kind, || {
        classify_or(smtp_status.as_deref(), diag.as_deref(), None)
    });
    let when = str_field(&v, "timestamp");
    let occurred_at = when.and_then(timestamp::parse).unwrap_or(req.received_at);
    let message_id = str_field(&data, "message_id").map(str::to_string);
    // The delivery `id` is kept, but the dedup key uses what is stable across retries.
    let dedup_key = hashed_dedup_key(
        "lettermint",
        &[
            event,
            message_id.as_deref().unwrap_or(""),
            addr.key(),
            when.unwrap_or(""),
        ],
    );
    Ok(vec![Event {
        recipient: Recipient::Email(addr),
        attribution: Attribution::Recipient,
        kind,
        class,
        reason,
        status: smtp_status,
        diagnostic: diag,
        message_id,
        sending_domain: None,
        provider_event_id: str_field(&v, "id").map(str::to_string),
        occurred_at,
        dedup_key,
        details: serde_json::json!({ "event": event, "status_code": code, "tag": data.get("tag") }),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reason;

    const BODY: &str = r#"{"id":"d1","event":"message.hard_bounced","timestamp":"2026-01-15T10:30:00Z","data":{"message_id":"m1","recipient":"gone@example.com","response":{"status_code":550,"enhanced_status_code":"5.1.1","content":"550 5.1.1 user unknown"},"metadata":{}}}"#;
    const NOW: Millis = 1_768_473_000_000;

    fn signed(body: &str, secret: &str, t: i64) -> WebhookRequest {
        WebhookRequest {
            headers: vec![
                (
                    "x-lettermint-signature".into(),
                    sign(secret, t, body.as_bytes()),
                ),
                ("x-lettermint-delivery".into(), t.to_string()),
            ],
            body: body.as_bytes().to_vec(),
            received_at: NOW,
        }
    }

    fn key(k: &str) -> SourceAuth<'_> {
        SourceAuth {
            secret: Some(k),
            ..Default::default()
        }
    }

    #[test]
    fn verifies_and_parses_a_hard_bounce() {
        let r = signed(BODY, "whsec_abc", NOW / 1000);
        assert!(verify(&r, key("whsec_abc"), NOW).is_ok());
        assert_eq!(verify(&r, key("whsec_abd"), NOW), Err(VerifyError::Invalid));
        assert_eq!(
            verify(&r, SourceAuth::default(), NOW),
            Err(VerifyError::NoSecret)
        );
        assert_eq!(
            verify(&r, key("whsec_abc"), NOW + 301_000),
            Err(VerifyError::Timestamp)
        );
        let ev = parse(&r).unwrap();
        assert_eq!(
            (ev[0].kind, ev[0].class, ev[0].reason),
            (
                EventKind::Bounce,
                Some(BounceClass::Hard),
                Some(Reason::UserUnknown)
            )
        );
        assert_eq!(ev[0].occurred_at, 1_768_473_000_000);
        assert_eq!(ev[0].provider_event_id.as_deref(), Some("d1"));
    }

    #[test]
    fn other_events_and_errors() {
        let test =
            r#"{"id":"t","event":"webhook.test","timestamp":"2026-01-15T10:30:00Z","data":{}}"#;
        assert!(parse(&signed(test, "k", 0)).unwrap().is_empty());
        let spam = r#"{"event":"message.spam_complaint","data":{"recipient":"a@example.com"}}"#;
        assert_eq!(
            parse(&signed(spam, "k", 0)).unwrap()[0].kind,
            EventKind::Complaint
        );
        let bad = r#"{"event":"message.hard_bounced","data":{}}"#;
        assert!(parse(&signed(bad, "k", 0)).is_err());
        assert!(parse(&signed("[]", "k", 0)).is_err());
    }
}
