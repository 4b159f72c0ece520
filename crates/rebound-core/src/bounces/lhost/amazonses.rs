//! Amazon SES: its own DSNs (from `MAILER-DAEMON@…amazonses.com`, `X-SES-Outgoing` or
//! `X-AWS-Outgoing`), whose diagnostics wrap the remote reply in SES's words
//! (`5.1.0 - Unknown address error 550-'5.2.2 … Mailbox Full' (delivery attempts: 0)`),
//! and the JSON notifications SES posts through SNS to an email subscription
//! (`notificationType` Bounce, Complaint or Delivery).

use crate::bounces::mime::StrExt;
use serde_json::Value;

use super::super::mime::{Flat, Headers};
use super::super::{Found, Raw};
use super::common;
use crate::{EventKind, Reason};

/// Parses an Amazon SES bounce or notification.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    let from = common::from(flat);
    let sns = from.has("no-reply@sns.amazonaws.com");
    let ses = from.has("amazonses.com")
        || flat.headers.has("x-ses-outgoing")
        || flat.headers.has("x-aws-outgoing");
    if sns || (ses && flat.text.trim_start().starts_with('{')) {
        return notification(flat);
    }
    if !ses || !from.has("amazonses.com") {
        return None;
    }
    let mut records = common::dsn_records(flat);
    if records.is_empty() {
        return None;
    }
    for r in &mut records {
        unwrap_diagnostic(r);
    }
    Some(Found {
        mta: "amazonses",
        records,
    })
}

/// Reads SES's wrapping of a remote reply and its `Message expired` notice.
fn unwrap_diagnostic(r: &mut Raw) {
    let d = r.diagnostic.clone();
    // `5.1.0 - Unknown address error 550-'inner words' (delivery attempts: 0)`
    if let Some((head, rest)) = d.split_once(" - ") {
        if common::status(head).is_some() && head.len() < 12 {
            if let Some((words, quoted)) = rest.split_once("-'") {
                let inner = quoted
                    .rsplit_once('\'')
                    .map_or(quoted, |(i, _)| i)
                    .trim_fast();
                let code = words
                    .trim_end()
                    .rsplit(' ')
                    .next()
                    .and_then(common::reply_code);
                r.status = common::status(inner).or_else(|| common::status(head));
                r.reply_code = code.or_else(|| common::reply_code(inner));
                r.diagnostic = match &r.reply_code {
                    Some(c) => format!("{c} {inner}"),
                    None => inner.to_string(),
                };
            }
        }
    }
    // `554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>`
    if d.has("Message expired") {
        r.reason = Some(Reason::Expired);
        if let Some((_, last)) = d.rsplit_once('<') {
            let last = last.trim_end_matches('>');
            if let (Some(c), Some(s)) = (common::reply_code(last), common::status(last)) {
                r.reply_code = Some(c);
                r.status = Some(s);
            }
        }
    }
}

fn notification(flat: &Flat) -> Option<Found> {
    let start = flat.text.find('{')?;
    let body = flat.text.get(start..)?;
    let body = body.split("\n--\n").next().unwrap_or(body);
    // SNS wraps the JSON at a fixed width: the line breaks are not part of it.
    let joined: String = body.split('\n').collect();
    let end = joined.rfind('}')?;
    let mut json: Value = serde_json::from_str(joined.get(..=end)?).ok()?;
    // The whole SNS envelope: the notification is a JSON string in `Message`.
    if let Some(inner) = json.get("Message").and_then(Value::as_str) {
        json = serde_json::from_str(inner).ok()?;
    }
    let kind = json.get("notificationType")?.as_str()?;
    let mut records = Vec::new();
    match kind {
        "Bounce" => {
            let b = json.get("bounce")?;
            let sub = b.get("bounceSubType").and_then(Value::as_str).unwrap_or("");
            let reporting = b.get("reportingMTA").and_then(Value::as_str);
            for rc in b.get("bouncedRecipients")?.as_array()?.iter().take(1000) {
                let Some(addr) = rc.get("emailAddress").and_then(Value::as_str) else {
                    continue;
                };
                let diag = rc
                    .get("diagnosticCode")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let diag = diag
                    .split_once(';')
                    .filter(|(t, _)| !t.contains(' '))
                    .map_or(diag, |(_, d)| d);
                let mut r = common::record(addr, diag);
                if let Some(s) = rc.get("status").and_then(Value::as_str) {
                    r.status = common::status(s).or(r.status);
                }
                if let Some(a) = rc.get("action").and_then(Value::as_str) {
                    r.action = Some(a.to_ascii_lowercase());
                }
                r.remote_mta = reporting.map(|m| m.trim_start_matches("dsn; ").to_string());
                r.reason = match sub {
                    "MailboxFull" => Some(Reason::MailboxFull),
                    "MessageTooLarge" => Some(Reason::MesgTooBig),
                    "ContentRejected" => Some(Reason::ContentError),
                    "NoEmail" => Some(Reason::UserUnknown),
                    _ => None,
                };
                records.push(r);
            }
        }
        "Complaint" => {
            let c = json.get("complaint")?;
            let ft = c
                .get("complaintFeedbackType")
                .and_then(Value::as_str)
                .unwrap_or("abuse");
            for rc in c.get("complainedRecipients")?.as_array()?.iter().take(1000) {
                let Some(addr) = rc.get("emailAddress").and_then(Value::as_str) else {
                    continue;
                };
                records.push(Raw {
                    recipient: addr.to_string(),
                    kind: Some(EventKind::Complaint),
                    reason: Some(Reason::Feedback),
                    feedback_type: Some(ft.to_string()),
                    ..Raw::default()
                });
            }
        }
        "Delivery" => {
            let d = json.get("delivery")?;
            let resp = d.get("smtpResponse").and_then(Value::as_str).unwrap_or("");
            for a in d.get("recipients")?.as_array()?.iter().take(1000) {
                let Some(addr) = a.as_str() else {
                    continue;
                };
                let mut r = common::record(addr, resp);
                r.action = Some("delivered".to_string());
                r.remote_mta = d
                    .get("remoteMtaIp")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                records.push(r);
            }
        }
        _ => return None,
    }
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "amazonses",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_a_notification() {
        let raw = "From: SES <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message\n\n\
{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bounceSubType\":\"General\",\
\"bouncedRecipients\":[{\"emailAddress\":\"gone@example.org\",\"action\":\"failed\",\"status\":\"5.1.1\",\n\
\"diagnosticCode\":\"smtp; 550 5.1.1 no such user\"}]}}\n\n--\nUnsubscribe here.\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        let r = &f.records[0];
        assert_eq!(r.recipient, "gone@example.org");
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(r.reply_code.as_deref(), Some("550"));
        assert_eq!(r.diagnostic, "550 5.1.1 no such user");
    }

    #[test]
    fn unwraps_the_remote_reply() {
        let mut r = Raw {
            diagnostic: "5.1.0 - Unknown address error 550-'5.2.2 <a@example.org>... Full' (delivery attempts: 0)".into(),
            ..Raw::default()
        };
        unwrap_diagnostic(&mut r);
        assert_eq!(r.status.as_deref(), Some("5.2.2"));
        assert_eq!(r.reply_code.as_deref(), Some("550"));
        assert_eq!(r.diagnostic, "550 5.2.2 <a@example.org>... Full");
    }
}
