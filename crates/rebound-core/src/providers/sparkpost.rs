//! SparkPost (Bird): a JSON array of `{"msys": {"<class>_event": {…}}}`; `bounce_class`
//! decides hard or soft. No signature: HTTP basic auth in the webhook URL.

use serde_json::Value;

use super::{objects, reason_of, str_field, ParseError};
use crate::address::first_domain;
use crate::event::dedup_key;
use crate::reason::{classify, find_status};
use crate::{
    Address, Attribution, BounceClass, Event, EventKind, Millis, Reason, Recipient, WebhookRequest,
};

/// SparkPost bounce classes that are permanent (Invalid Recipient, No RCPT, Unsubscribe).
const HARD_CLASSES: [&str; 3] = ["10", "30", "90"];

fn class_reason(class: &str) -> Option<Reason> {
    Some(match class {
        "10" | "30" => Reason::UserUnknown,
        "21" => Reason::HostUnknown,
        "22" => Reason::MailboxFull,
        "23" => Reason::MesgTooBig,
        "24" => Reason::Expired,
        "25" | "50" => Reason::Blocked,
        "51" | "52" => Reason::SpamDetected,
        "53" => Reason::ContentError,
        "54" => Reason::NoRelaying,
        "60" => Reason::Vacation,
        _ => return None,
    })
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let mut out = Vec::new();
    for item in objects(&req.body)? {
        let Some(msys) = item.get("msys").and_then(Value::as_object) else {
            continue;
        };
        // The ping sent when a webhook is created has an empty msys.
        for (class, ev) in msys {
            let typ = str_field(ev, "type").unwrap_or("");
            let Some(rcpt) = str_field(ev, "rcpt_to").or_else(|| str_field(ev, "raw_rcpt_to"))
            else {
                continue;
            };
            let addr = Address::parse(rcpt)
                .map_err(|e| ParseError::new(format!("{class}: rcpt_to: {e}")))?;
            let bounce_class = str_field(ev, "bounce_class").unwrap_or("");
            let (kind, bclass) = match typ {
                "bounce" | "out_of_band" => match bounce_class {
                    "60" => (EventKind::AutoReply, None),
                    c if HARD_CLASSES.contains(&c) => (EventKind::Bounce, Some(BounceClass::Hard)),
                    _ => (EventKind::Bounce, Some(BounceClass::Soft)),
                },
                "delay" => (EventKind::Deferred, None),
                "spam_complaint" => (EventKind::Complaint, None),
                "delivery" => (EventKind::Delivery, None),
                "open" | "initial_open" | "amp_open" | "amp_initial_open" => {
                    (EventKind::Open, None)
                }
                "click" | "amp_click" => (EventKind::Click, None),
                "list_unsubscribe" | "link_unsubscribe" => (EventKind::Unsubscribe, None),
                _ => (EventKind::Other, None),
            };
            let diag = str_field(ev, "raw_reason")
                .or_else(|| str_field(ev, "reason"))
                .map(str::to_string);
            let status = diag.as_deref().and_then(find_status);
            let reason = reason_of(kind, || {
                class_reason(bounce_class)
                    .unwrap_or_else(|| classify(status.as_deref(), diag.as_deref()))
            });
            let occurred_at = str_field(ev, "timestamp")
                .and_then(|t| t.parse::<f64>().ok())
                .map(|t| (t * 1000.0) as Millis)
                .unwrap_or(req.received_at);
            let id = str_field(ev, "event_id").map(str::to_string);
            let message_id = str_field(ev, "message_id").map(str::to_string);
            let dedup_key = dedup_key(
                "sparkpost",
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
                class: bclass,
                reason,
                status,
                diagnostic: diag,
                message_id,
                // The From header, else the envelope sender.
                sending_domain: first_domain([
                    str_field(ev, "friendly_from"),
                    str_field(ev, "msg_from"),
                ]),
                provider_event_id: id,
                occurred_at,
                dedup_key,
                details: serde_json::json!({ "class": class, "type": typ, "bounce_class": bounce_class }),
            });
        }
    }
    Ok(out)
}
