//! ToSend: `{"type":"bounce"|"complaint","email",…}`; hard iff `is_hard_bounce` is true.
//! No signature is documented: the URL key authenticates.

use super::{address_field, objects, str_field, ParseError};
use crate::address::first_domain;
use crate::event::hashed_dedup_key;
use crate::forward::Forwarded;
use crate::reason::{classify, find_status};
use crate::{Attribution, BounceClass, Event, EventKind, Reason, Recipient, WebhookRequest};

/// `bounce` or `complaint`.
pub const TYPE: &str = "type";
/// The `type` of a bounce.
pub const BOUNCE: &str = "bounce";
/// The `type` of a complaint.
pub const COMPLAINT: &str = "complaint";
/// The recipient's address.
pub const EMAIL: &str = "email";
/// The receiving server's diagnostic.
pub const REASON: &str = "reason";
/// `true` for a hard bounce, absent for a soft one.
pub const IS_HARD_BOUNCE: &str = "is_hard_bounce";
/// `General`, `NoEmail`, `Suppressed`, `OnAccountSuppressionList`.
pub const BOUNCE_SUB_TYPE: &str = "bounce_sub_type";
/// The message's id.
pub const MESSAGE_ID: &str = "message_id";
/// The sub-type of a bounce to an address that does not exist.
pub const SUB_NO_EMAIL: &str = "NoEmail";
/// The sub-type of a bounce to a suppressed address.
pub const SUB_SUPPRESSED: &str = "Suppressed";
/// The sub-type of every other bounce.
pub const SUB_GENERAL: &str = "General";

/// The body of ToSend's webhook (which FluentCRM's toSend bounce handler takes) telling
/// `f`: a bounce `{"type": "bounce", "email", "bounce_sub_type", "reason", "is_hard_bounce":
/// true (absent when soft), "message_id"}` or a complaint `{"type": "complaint", "email",
/// "message_id"}`. `reason` is the diagnostic (else the status code and rebound's reason);
/// `message_id` the message's Message-ID (else rebound's `msg_…` id).
pub fn forward(f: &Forwarded) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    let message_id = f.message_id.clone().unwrap_or_else(|| f.id.clone());
    if f.kind == EventKind::Complaint {
        body.insert(TYPE.into(), COMPLAINT.into());
        body.insert(EMAIL.into(), f.email.clone().into());
        body.insert(MESSAGE_ID.into(), message_id.into());
        return serde_json::Value::Object(body);
    }
    let sub_type = match f.reason.as_deref().and_then(Reason::parse) {
        Some(Reason::UserUnknown) => SUB_NO_EMAIL,
        Some(Reason::Suspend) => SUB_SUPPRESSED,
        _ => SUB_GENERAL,
    };
    let reason = f.diagnostic.clone().unwrap_or_else(|| {
        [f.status.as_deref(), f.reason.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    body.insert(TYPE.into(), BOUNCE.into());
    body.insert(EMAIL.into(), f.email.clone().into());
    body.insert(BOUNCE_SUB_TYPE.into(), sub_type.into());
    body.insert(REASON.into(), reason.into());
    if f.class != Some(BounceClass::Soft) {
        body.insert(IS_HARD_BOUNCE.into(), true.into());
    }
    body.insert(MESSAGE_ID.into(), message_id.into());
    serde_json::Value::Object(body)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let items = objects(&req.body)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let typ = str_field(v, TYPE)
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'type'")))?;
        let kind = match typ {
            BOUNCE | "bounced" => EventKind::Bounce,
            COMPLAINT | "complained" => EventKind::Complaint,
            "delivered" | "delivery" => EventKind::Delivery,
            _ => EventKind::Other,
        };
        let email = address_field(v, EMAIL, i)?;
        let diagnostic = str_field(v, REASON).map(str::to_string);
        let message_id = str_field(v, MESSAGE_ID).map(str::to_string);
        let sub_type = str_field(v, BOUNCE_SUB_TYPE);
        let (class, reason, status) = if kind == EventKind::Bounce {
            let hard = v.get(IS_HARD_BOUNCE).and_then(|b| b.as_bool()) == Some(true);
            let reason = match sub_type {
                Some(SUB_NO_EMAIL) => Reason::UserUnknown,
                Some(SUB_SUPPRESSED) | Some("OnAccountSuppressionList") => Reason::Suspend,
                _ => classify(None, diagnostic.as_deref()),
            };
            let class = if hard {
                BounceClass::Hard
            } else {
                BounceClass::Soft
            };
            let status = diagnostic.as_deref().and_then(find_status);
            (Some(class), Some(reason), status)
        } else if kind == EventKind::Complaint {
            (None, Some(Reason::Feedback), None)
        } else {
            (None, None, None)
        };
        let class_name = class.map_or("", BounceClass::as_str);
        let dedup_key = hashed_dedup_key(
            "tosend",
            &[
                message_id.as_deref().unwrap_or(""),
                email.key(),
                kind.as_str(),
                class_name,
            ],
        );
        let mut details = serde_json::Map::new();
        details.insert(TYPE.into(), typ.into());
        if let Some(st) = sub_type {
            details.insert(BOUNCE_SUB_TYPE.into(), st.into());
        }
        if let Some(subject) = v.get("mail").and_then(|m| str_field(m, "subject")) {
            details.insert("subject".into(), subject.into());
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
            sending_domain: first_domain([v.get("mail").and_then(|m| str_field(m, "from_email"))]),
            provider_event_id: None,
            occurred_at: req.received_at,
            dedup_key,
            details: details.into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: &str) -> WebhookRequest {
        WebhookRequest {
            body: body.as_bytes().to_vec(),
            received_at: 42,
            ..Default::default()
        }
    }

    #[test]
    fn hard_only_when_flag_is_true() {
        let hard = parse(&req(r#"{"type":"bounce","email":"a@x.io","reason":"550 5.1.1 nope","is_hard_bounce":true,"message_id":"m1"}"#)).unwrap();
        assert_eq!(hard[0].class, Some(BounceClass::Hard));
        assert_eq!(hard[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(hard[0].reason, Some(Reason::UserUnknown));
        let soft = parse(&req(r#"{"type":"bounce","email":"a@x.io","reason":"452 4.2.2 Mailbox full","message_id":"m1"}"#)).unwrap();
        assert_eq!(soft[0].class, Some(BounceClass::Soft));
        assert_eq!(soft[0].reason, Some(Reason::MailboxFull));
        assert_ne!(hard[0].dedup_key, soft[0].dedup_key);
        let f = parse(&req(
            r#"{"type":"bounce","email":"a@x.io","is_hard_bounce":false}"#,
        ))
        .unwrap();
        assert_eq!(f[0].class, Some(BounceClass::Soft));
    }

    #[test]
    fn complaint_and_errors() {
        let c = parse(&req(r#"{"type":"complaint","email":"a@x.io"}"#)).unwrap();
        assert_eq!(c[0].kind, EventKind::Complaint);
        let e = parse(&req(r#"{"type":"complaint"}"#)).unwrap_err();
        assert!(e.0.contains("'email'"), "{e}");
        let e = parse(&req(r#"{"type":"bounce","email":"nope"}"#)).unwrap_err();
        assert!(e.0.contains("not an email address"), "{e}");
        let e = parse(&req(r#"{"type":"#)).unwrap_err();
        assert!(e.0.starts_with("invalid JSON"), "{e}");
        assert!(parse(&req("42")).is_err());
    }
}
