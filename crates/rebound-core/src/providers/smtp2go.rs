//! SMTP2GO webhooks: one event per POST, form-encoded (the default) or JSON (the
//! webhook's "Output type"), with `event`, `rcpt`, `email_id`, `time`, `message`,
//! `context`, `host` and, for bounces, `bounce` = `hard` | `soft`.
//!
//! SMTP2GO does not sign its webhooks; it can send a basic or bearer `Authorization`
//! header, so the source uses basic auth (plus the URL key). A bounce is final in both
//! classes (SMTP2GO reports retries as `processed`), so `soft` is a soft bounce, not a
//! deferral. `reject` (a send to an address SMTP2GO already suppresses) is timeline only.

use serde_json::{Map, Value};

use super::mandrill::form_decode;
use super::{classify_or, reason_of, str_field, ParseError};
use crate::event::hashed_dedup_key;
use crate::reason::find_status;
use crate::{
    timestamp, Address, Attribution, BounceClass, Event, EventKind, Millis, Recipient,
    WebhookRequest,
};

/// The event as a JSON object, whichever output type the webhook uses.
fn event_object(body: &[u8]) -> Result<Value, ParseError> {
    let trimmed = body.trim_ascii_start();
    if trimmed.first() == Some(&b'{') || trimmed.first() == Some(&b'[') {
        let v: Value = serde_json::from_slice(body).map_err(ParseError::json)?;
        return match v {
            Value::Object(_) => Ok(v),
            _ => Err(ParseError::new("expected one JSON object")),
        };
    }
    let fields = form_decode(body);
    if fields.is_empty() {
        return Err(ParseError::new("expected a form-encoded or JSON event"));
    }
    let mut m = Map::new();
    for (k, v) in fields {
        m.entry(k).or_insert(Value::String(v));
    }
    Ok(Value::Object(m))
}

/// `time`: a `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339 string, or Unix seconds.
fn event_time(v: &Value) -> Option<Millis> {
    match v.get("time")? {
        Value::Number(n) => n.as_f64().map(|s| (s * 1000.0) as Millis),
        Value::String(s) => timestamp::parse(s).or_else(|| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| (f * 1000.0) as Millis)
        }),
        _ => None,
    }
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let v = event_object(&req.body)?;
    let event = str_field(&v, "event").ok_or_else(|| ParseError::new("missing field 'event'"))?;
    let bounce = str_field(&v, "bounce");
    let (kind, class) = match event {
        "bounce" if bounce == Some("soft") => (EventKind::Bounce, Some(BounceClass::Soft)),
        "bounce" => (EventKind::Bounce, Some(BounceClass::Hard)),
        "spam" => (EventKind::Complaint, None),
        "unsubscribe" => (EventKind::Unsubscribe, None),
        "delivered" => (EventKind::Delivery, None),
        "open" => (EventKind::Open, None),
        "click" => (EventKind::Click, None),
        // processed, resubscribe, reject, SMS events: timeline only.
        _ => (EventKind::Other, None),
    };
    let Some(rcpt) = str_field(&v, "rcpt") else {
        if kind == EventKind::Other {
            // Nothing to say about an address (e.g. an SMS event): accept, record nothing.
            return Ok(vec![]);
        }
        return Err(ParseError::new("missing field 'rcpt'"));
    };
    let addr = Address::parse(rcpt).map_err(|e| ParseError::new(format!("rcpt: {e}")))?;
    let diag = str_field(&v, "message").map(str::to_string);
    let smtp_status = diag.as_deref().and_then(find_status);
    let reason = reason_of(kind, || {
        classify_or(smtp_status.as_deref(), diag.as_deref(), None)
    });
    let occurred_at = event_time(&v).unwrap_or(req.received_at);
    let email_id = str_field(&v, "email_id").map(str::to_string);
    let dedup_key = hashed_dedup_key(
        "smtp2go",
        &[
            email_id.as_deref().unwrap_or(""),
            addr.key(),
            event,
            &occurred_at.to_string(),
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
        message_id: email_id,
        sending_domain: None,
        provider_event_id: None,
        occurred_at,
        dedup_key,
        details: serde_json::json!({
            "event": event,
            "bounce": bounce,
            "host": v.get("host"),
            "context": v.get("context"),
        }),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reason;

    fn req(body: &str) -> WebhookRequest {
        WebhookRequest {
            body: body.as_bytes().to_vec(),
            received_at: 5,
            ..Default::default()
        }
    }

    #[test]
    fn form_and_json_give_the_same_event() {
        let form = "event=bounce&time=2026-01-02+03%3A04%3A05&rcpt=gone%40example.com&email_id=1u0SwL-B9zBpi9ffUq-JAB2&bounce=hard&message=550+5.1.1+%3Cgone%40example.com%3E%3A+Recipient+address+rejected%3A+User+unknown&host=mx.example.com";
        let json = r#"{"event":"bounce","time":"2026-01-02 03:04:05","rcpt":"gone@example.com","email_id":"1u0SwL-B9zBpi9ffUq-JAB2","bounce":"hard","message":"550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown","host":"mx.example.com"}"#;
        let a = parse(&req(form)).unwrap();
        let b = parse(&req(json)).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            (a[0].kind, a[0].class, a[0].reason),
            (
                EventKind::Bounce,
                Some(BounceClass::Hard),
                Some(Reason::UserUnknown)
            )
        );
        assert_eq!(a[0].occurred_at, 1_767_323_045_000);
        assert_eq!(a[0].status.as_deref(), Some("5.1.1"));
    }

    #[test]
    fn kinds_and_edge_cases() {
        let soft = parse(&req(
            r#"{"event":"bounce","bounce":"soft","rcpt":"a@example.com","message":"452 4.2.2 mailbox full","time":1767323045}"#,
        ))
        .unwrap();
        assert_eq!(soft[0].class, Some(BounceClass::Soft));
        assert_eq!(soft[0].occurred_at, 1_767_323_045_000);
        let spam = parse(&req("event=spam&rcpt=b%40example.com")).unwrap();
        assert_eq!(spam[0].kind, EventKind::Complaint);
        assert_eq!(spam[0].occurred_at, 5);
        assert!(parse(&req(r#"{"event":"processed"}"#)).unwrap().is_empty());
        assert!(parse(&req(r#"{"event":"bounce"}"#)).is_err());
        assert!(parse(&req(r#"{"rcpt":"a@example.com"}"#)).is_err());
        assert!(parse(&req("[1]")).is_err());
        assert!(parse(&req("")).is_err());
    }
}
