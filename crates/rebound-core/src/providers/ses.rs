//! Amazon SES notifications, inside an SNS envelope or bare: identity notifications
//! (`notificationType`) and event publishing (`eventType`). Every recipient of a bounce or
//! complaint becomes an event. Permanent → hard; Transient and Undetermined → soft; a
//! `not-spam` complaint does not suppress.

use serde_json::Value;

use super::sns::{Envelope, MessageType};
use super::{str_field, ParseError};
use crate::address::first_domain;
use crate::event::hashed_dedup_key;
use crate::reason::{classify, find_status};
use crate::{
    timestamp, Address, Attribution, BounceClass, Event, EventKind, Reason, Recipient,
    WebhookRequest,
};

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let v: Value = serde_json::from_slice(&req.body).map_err(ParseError::json)?;
    if v.get("Type").is_some() {
        let env = Envelope::from_value(&v)?;
        if env.kind != MessageType::Notification {
            return Ok(vec![]);
        }
        let Ok(msg) = serde_json::from_str::<Value>(&env.message) else {
            return Ok(vec![]); // an authentic message that is not an SES notification
        };
        return events(&msg, Some(&env.message_id), req.received_at);
    }
    events(&v, None, req.received_at)
}

fn recipients(list: Option<&Value>) -> impl Iterator<Item = &Value> {
    list.and_then(Value::as_array).into_iter().flatten()
}

fn addr(raw: &str) -> Result<Address, ParseError> {
    Address::parse(raw).map_err(|e| ParseError::new(format!("SES recipient: {e}")))
}

struct Ctx<'a> {
    sns_id: Option<&'a str>,
    mail_id: &'a str,
    received_at: i64,
    typ: &'a str,
    sending_domain: Option<String>,
}

impl Ctx<'_> {
    fn event(&self, recipient: Address, kind: EventKind, at: Option<&str>, extra: &str) -> Event {
        let occurred_at = at.and_then(timestamp::parse).unwrap_or(self.received_at);
        let dedup_key = match self.sns_id {
            Some(id) => format!("ses:{id}:{}:{}", recipient.key(), kind.as_str()),
            None => hashed_dedup_key(
                "ses",
                &[
                    self.mail_id,
                    extra,
                    recipient.key(),
                    kind.as_str(),
                    self.typ,
                ],
            ),
        };
        Event {
            recipient: Recipient::Email(recipient),
            attribution: Attribution::Recipient,
            kind,
            class: None,
            reason: None,
            status: None,
            diagnostic: None,
            message_id: Some(self.mail_id.to_string()).filter(|m| !m.is_empty()),
            sending_domain: self.sending_domain.clone(),
            provider_event_id: self.sns_id.map(str::to_string),
            occurred_at,
            dedup_key,
            details: serde_json::json!({ "type": self.typ }),
        }
    }
}

fn bounce_reason(sub_type: &str, status: Option<&str>, diag: Option<&str>) -> Reason {
    let r = classify(status, diag);
    if r != Reason::Undefined {
        return r;
    }
    match sub_type {
        "NoEmail" => Reason::UserUnknown,
        "Suppressed" | "OnAccountSuppressionList" => Reason::Rejected,
        "MailboxFull" => Reason::MailboxFull,
        "MessageTooLarge" => Reason::MesgTooBig,
        "ContentRejected" | "AttachmentRejected" => Reason::ContentError,
        _ => Reason::Undefined,
    }
}

fn events(msg: &Value, sns_id: Option<&str>, received_at: i64) -> Result<Vec<Event>, ParseError> {
    let typ = str_field(msg, "notificationType")
        .or_else(|| str_field(msg, "eventType"))
        .ok_or_else(|| ParseError::new("SES message without notificationType or eventType"))?;
    let mail = msg.get("mail").cloned().unwrap_or(Value::Null);
    let mail_id = str_field(&mail, "messageId").unwrap_or("");
    let cx = Ctx {
        sns_id,
        mail_id,
        received_at,
        typ,
        // The From header as sent, else the source identity the message was sent as.
        sending_domain: first_domain([
            mail.get("commonHeaders")
                .and_then(|h| h.get("from"))
                .and_then(|f| f.get(0))
                .and_then(Value::as_str),
            str_field(&mail, "source"),
        ]),
    };
    let destinations = || -> Result<Vec<Address>, ParseError> {
        recipients(mail.get("destination"))
            .filter_map(Value::as_str)
            .map(addr)
            .collect()
    };
    let mut out = Vec::new();
    match typ {
        "Bounce" => {
            let b = msg
                .get("bounce")
                .ok_or_else(|| ParseError::new("Bounce without 'bounce'"))?;
            let btype = str_field(b, "bounceType").unwrap_or("Undetermined");
            let sub = str_field(b, "bounceSubType").unwrap_or("");
            let class = if btype == "Permanent" {
                BounceClass::Hard
            } else {
                BounceClass::Soft
            };
            let feedback = str_field(b, "feedbackId").unwrap_or("");
            for r in recipients(b.get("bouncedRecipients")) {
                let Some(email) = str_field(r, "emailAddress") else {
                    continue;
                };
                let diag = str_field(r, "diagnosticCode").map(str::to_string);
                let status = str_field(r, "status")
                    .map(str::to_string)
                    .or_else(|| diag.as_deref().and_then(find_status));
                let mut e = cx.event(
                    addr(email)?,
                    EventKind::Bounce,
                    str_field(b, "timestamp"),
                    feedback,
                );
                e.class = Some(class);
                e.reason = Some(bounce_reason(sub, status.as_deref(), diag.as_deref()));
                e.status = status;
                e.diagnostic = diag;
                e.details = serde_json::json!({"type": typ, "bounce_type": btype, "bounce_sub_type": sub, "feedback_id": feedback});
                out.push(e);
            }
        }
        "Complaint" => {
            let c = msg
                .get("complaint")
                .ok_or_else(|| ParseError::new("Complaint without 'complaint'"))?;
            let feedback_type = str_field(c, "complaintFeedbackType");
            let feedback = str_field(c, "feedbackId").unwrap_or("");
            for r in recipients(c.get("complainedRecipients")) {
                let Some(email) = str_field(r, "emailAddress") else {
                    continue;
                };
                // "not-spam" is the recipient saying the opposite: record it, never suppress.
                let kind = if feedback_type == Some("not-spam") {
                    EventKind::Other
                } else {
                    EventKind::Complaint
                };
                let mut e = cx.event(addr(email)?, kind, str_field(c, "timestamp"), feedback);
                e.reason = (kind == EventKind::Complaint).then_some(Reason::Feedback);
                e.details = serde_json::json!({"type": typ, "feedback_type": feedback_type, "complaint_sub_type": str_field(c, "complaintSubType"), "feedback_id": feedback});
                out.push(e);
            }
        }
        "Delivery" => {
            let d = msg.get("delivery").cloned().unwrap_or(Value::Null);
            for email in recipients(d.get("recipients")).filter_map(Value::as_str) {
                let mut e = cx.event(
                    addr(email)?,
                    EventKind::Delivery,
                    str_field(&d, "timestamp"),
                    "",
                );
                e.diagnostic = str_field(&d, "smtpResponse").map(str::to_string);
                out.push(e);
            }
        }
        "DeliveryDelay" => {
            let d = msg.get("deliveryDelay").cloned().unwrap_or(Value::Null);
            for r in recipients(d.get("delayedRecipients")) {
                let Some(email) = str_field(r, "emailAddress") else {
                    continue;
                };
                let mut e = cx.event(
                    addr(email)?,
                    EventKind::Deferred,
                    str_field(&d, "timestamp"),
                    "",
                );
                e.status = str_field(r, "status").map(str::to_string);
                e.diagnostic = str_field(r, "diagnosticCode").map(str::to_string);
                e.details =
                    serde_json::json!({"type": typ, "delay_type": str_field(&d, "delayType")});
                out.push(e);
            }
        }
        "Open" | "Click" => {
            let (key, kind) = if typ == "Open" {
                ("open", EventKind::Open)
            } else {
                ("click", EventKind::Click)
            };
            let at = msg.get(key).and_then(|o| str_field(o, "timestamp"));
            for a in destinations()? {
                out.push(cx.event(a, kind, at, ""));
            }
        }
        "Subscription" => {
            let s = msg.get("subscription").cloned().unwrap_or(Value::Null);
            let all = s
                .get("newTopicPreferences")
                .and_then(|p| p.get("unsubscribeAll"))
                .and_then(Value::as_bool)
                == Some(true);
            let kind = if all {
                EventKind::Unsubscribe
            } else {
                EventKind::Other
            };
            for a in destinations()? {
                out.push(cx.event(a, kind, str_field(&s, "timestamp"), ""));
            }
        }
        "Send" | "Reject" | "Rendering Failure" | "RenderingFailure" => {
            let at = str_field(&mail, "timestamp");
            for a in destinations()? {
                let mut e = cx.event(a, EventKind::Other, at, "");
                if typ == "Reject" {
                    e.diagnostic = msg
                        .get("reject")
                        .and_then(|r| str_field(r, "reason"))
                        .map(str::to_string);
                }
                out.push(e);
            }
        }
        _ => {} // e.g. "Received" (inbound mail): authentic, but nothing to apply.
    }
    Ok(out)
}
