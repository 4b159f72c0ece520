//! Unisender Go (and UniOne, the same platform): JSON with `events_by_user[].events[]`
//! (`{event_name, event_data}`), or with "use single event" one flat object per POST.
//!
//! Authentication is in the body: `auth` is the MD5 of the body as sent, with the `auth`
//! value replaced by the API key of the user or project whose webhook it is
//! (godocs.unisender.ru/web-api-ref#callback-format). So the check replaces the hash by
//! the key in the raw bytes and hashes them: no re-serialization, whose spacing and
//! escapes (Unisender Go writes `\/`) would differ.
//!
//! Statuses: `hard_bounced` is final; `soft_bounced` means Unisender Go is still retrying
//! (a final failure comes later as `hard_bounced`), so it is a deferral. `spam` is a
//! complaint. No event id is sent (the `ID` header changes on every retry), so the dedup
//! key hashes job, recipient, status and time.

use serde_json::Value;

use super::{address_field, classify_or, reason_of, str_field, ParseError, SourceAuth};
use crate::event::hashed_dedup_key;
use crate::reason::find_status;
use crate::signature::{ct_eq, VerifyError};
use crate::{
    timestamp, Attribution, BounceClass, Event, EventKind, Reason, Recipient, WebhookRequest,
};

pub(super) fn verify(req: &WebhookRequest, auth: SourceAuth<'_>) -> Result<(), VerifyError> {
    let key = auth
        .secret
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::NoSecret)?;
    let v: Value = serde_json::from_slice(&req.body).map_err(|_| VerifyError::Missing)?;
    let given = match v.get("auth") {
        None => return Err(VerifyError::Missing),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(VerifyError::Invalid),
    };
    // An MD5 in hex, and nothing else: the value is replaced in the raw body, so it must
    // not be able to match JSON syntax or a fragment of the other fields by accident.
    if given.is_empty() {
        return Err(VerifyError::Missing);
    }
    if given.len() != 32 || !given.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(VerifyError::Invalid);
    }
    let signed = replace_all(&req.body, given.as_bytes(), key.as_bytes());
    let want = hex::encode(super::md5::md5(&signed));
    if ct_eq(given.to_ascii_lowercase().as_bytes(), want.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::Invalid)
    }
}

/// Signs the documented way: `body` carries `placeholder` where the `auth` value goes;
/// the MD5 of the body with the key in its place is put there instead.
pub fn sign(key: &str, body: &[u8], placeholder: &[u8]) -> Vec<u8> {
    let with_key = replace_all(body, placeholder, key.as_bytes());
    let hash = hex::encode(super::md5::md5(&with_key));
    replace_all(body, placeholder, hash.as_bytes())
}

/// `haystack` with every occurrence of `needle` replaced by `with`.
fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len() + with.len());
    let mut rest = haystack;
    while let Some(i) = memchr::memmem::find(rest, needle) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(with);
        rest = &rest[i + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// The `transactional_email_status` events of a body, as flat objects: `event_data` of
/// each event of each `events_by_user` entry, or the single-event object itself.
fn email_events(v: &Value) -> Result<Vec<&Value>, ParseError> {
    if !v.is_object() {
        return Err(ParseError::new("expected a JSON object"));
    }
    let is_status = |e: &Value| str_field(e, "event_name") == Some("transactional_email_status");
    let Some(by_user) = v.get("events_by_user") else {
        if str_field(v, "event_name").is_none() {
            return Err(ParseError::new(
                "expected 'events_by_user' or a single event with 'event_name'",
            ));
        }
        return Ok(if is_status(v) { vec![v] } else { vec![] });
    };
    let users = by_user
        .as_array()
        .ok_or_else(|| ParseError::new("'events_by_user' is not an array"))?;
    let mut out = Vec::new();
    for (u, user) in users.iter().enumerate() {
        let events = user
            .get("events")
            .and_then(Value::as_array)
            .ok_or_else(|| ParseError::new(format!("events_by_user[{u}]: missing 'events'")))?;
        for (i, e) in events.iter().enumerate() {
            if !is_status(e) {
                // transactional_spam_block: about Unisender Go's own servers, no recipient.
                continue;
            }
            let data = e
                .get("event_data")
                .filter(|d| d.is_object())
                .ok_or_else(|| {
                    ParseError::new(format!(
                        "events_by_user[{u}].events[{i}]: missing 'event_data'"
                    ))
                })?;
            out.push(data);
        }
    }
    Ok(out)
}

/// Unisender Go's `delivery_status` codes, where they name a cause.
fn reason_hint(delivery_status: Option<&str>) -> Option<Reason> {
    Some(match delivery_status? {
        "err_user_unknown" => Reason::UserUnknown,
        "err_user_inactive" | "err_mailbox_discarded" => Reason::Suspend,
        "err_mailbox_full" => Reason::MailboxFull,
        "err_spam_rejected" | "err_spam_skipped" => Reason::SpamDetected,
        "err_blacklisted" => Reason::Blocked,
        "err_too_large" => Reason::MesgTooBig,
        "err_domain_inactive" => Reason::HostUnknown,
        "err_unreachable" => Reason::NetworkError,
        "err_destination_misconfigured" => Reason::SystemError,
        _ => return None,
    })
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let v: Value = serde_json::from_slice(&req.body).map_err(ParseError::json)?;
    let mut out = Vec::new();
    for (i, e) in email_events(&v)?.into_iter().enumerate() {
        let status = str_field(e, "status")
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'status'")))?;
        let addr = address_field(e, "email", i)?;
        let (kind, class) = match status {
            "hard_bounced" => (EventKind::Bounce, Some(BounceClass::Hard)),
            "soft_bounced" => (EventKind::Deferred, None),
            "spam" => (EventKind::Complaint, None),
            "unsubscribed" => (EventKind::Unsubscribe, None),
            "delivered" => (EventKind::Delivery, None),
            "opened" => (EventKind::Open, None),
            "clicked" => (EventKind::Click, None),
            // sent, subscribed, and anything new: timeline only.
            _ => (EventKind::Other, None),
        };
        let info = e.get("delivery_info").cloned().unwrap_or(Value::Null);
        let delivery_status = str_field(&info, "delivery_status");
        let diag = str_field(&info, "destination_response").map(str::to_string);
        let smtp_status = diag.as_deref().and_then(find_status);
        // Unisender Go's own code for the failure names the cause more surely than the
        // reply text (it sends `err_user_unknown` with a `5.7.1` reply, for one).
        let reason = reason_of(kind, || {
            reason_hint(delivery_status)
                .unwrap_or_else(|| classify_or(smtp_status.as_deref(), diag.as_deref(), None))
        });
        let event_time = str_field(e, "event_time");
        let occurred_at = event_time
            .and_then(timestamp::parse)
            .unwrap_or(req.received_at);
        let job_id = str_field(e, "job_id").map(str::to_string);
        let dedup_key = hashed_dedup_key(
            "unisender-go",
            &[
                job_id.as_deref().unwrap_or(""),
                addr.key(),
                status,
                event_time.unwrap_or(""),
            ],
        );
        out.push(Event {
            recipient: Recipient::Email(addr),
            attribution: Attribution::Recipient,
            kind,
            class,
            reason,
            status: smtp_status,
            diagnostic: diag,
            message_id: job_id,
            sending_domain: None,
            provider_event_id: None,
            occurred_at,
            dedup_key,
            details: serde_json::json!({
                "status": status,
                "delivery_status": delivery_status,
                "comment": e.get("comment"),
                "url": e.get("url"),
            }),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(body_with_placeholder: &str, key: &str) -> String {
        String::from_utf8_lossy(&sign(key, body_with_placeholder.as_bytes(), b"AUTH")).into_owned()
    }

    fn req(body: &str) -> WebhookRequest {
        WebhookRequest {
            body: body.as_bytes().to_vec(),
            received_at: 7,
            ..Default::default()
        }
    }

    fn key(k: &str) -> SourceAuth<'_> {
        SourceAuth {
            secret: Some(k),
            ..Default::default()
        }
    }

    const BATCH: &str = r#"{"auth":"AUTH","events_by_user":[{"user_id":1,"project_id":"p1","events":[{"event_name":"transactional_email_status","event_data":{"job_id":"J1","email":"gone@example.com","status":"hard_bounced","event_time":"2024-09-06 23:22:40","delivery_info":{"delivery_status":"err_user_unknown","destination_response":"550 5.1.1 no such user"}}},{"event_name":"transactional_spam_block","event_data":{"block_time":"2024-09-06 23:22:41","block_type":"one_smtp","domain":"example.com","SMTP_blocks_count":1,"domain_status":"blocked"}},{"event_name":"transactional_email_status","event_data":{"job_id":"J1","email":"full@example.com","status":"soft_bounced","event_time":"2024-09-06 23:22:42","delivery_info":{"delivery_status":"err_mailbox_full","destination_response":"452 4.2.2 Mailbox full"}}}]}]}"#;

    #[test]
    fn verifies_the_md5_with_the_key_in_place_of_the_hash() {
        let body = signed(BATCH, "api-key-1");
        assert!(verify(&req(&body), key("api-key-1")).is_ok());
        // Key order, spacing and escapes are whatever the sender wrote: still verifies.
        let spaced = signed(&BATCH.replace("\":", "\": "), "api-key-1");
        assert!(verify(&req(&spaced), key("api-key-1")).is_ok());
        assert_eq!(
            verify(&req(&body), key("api-key-2")),
            Err(VerifyError::Invalid)
        );
        assert_eq!(
            verify(&req(&body), SourceAuth::default()),
            Err(VerifyError::NoSecret)
        );
        assert_eq!(verify(&req(&body), key("")), Err(VerifyError::NoSecret));
    }

    #[test]
    fn parses_every_status_event_of_a_batch() {
        let ev = parse(&req(&signed(BATCH, "k"))).unwrap();
        assert_eq!(ev.len(), 2, "the spam-block event has no recipient");
        assert_eq!(
            (ev[0].kind, ev[0].class, ev[0].reason),
            (
                EventKind::Bounce,
                Some(BounceClass::Hard),
                Some(Reason::UserUnknown)
            )
        );
        assert_eq!(ev[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(ev[0].message_id.as_deref(), Some("J1"));
        assert_eq!(ev[1].kind, EventKind::Deferred);
        assert_ne!(ev[0].dedup_key, ev[1].dedup_key);
        // The hash differs per delivery, the dedup key does not.
        let again = parse(&req(&signed(BATCH, "other"))).unwrap();
        assert_eq!(ev[0].dedup_key, again[0].dedup_key);
    }

    #[test]
    fn single_event_option_and_errors() {
        let one = r#"{"auth":"x","event_name":"transactional_email_status","email":"a@example.com","status":"spam","job_id":"J"}"#;
        let ev = parse(&req(one)).unwrap();
        assert_eq!(
            (ev[0].kind, ev[0].reason),
            (EventKind::Complaint, Some(Reason::Feedback))
        );
        let block = r#"{"event_name":"transactional_spam_block","domain":"example.com"}"#;
        assert!(parse(&req(block)).unwrap().is_empty());
        assert!(parse(&req("[]")).is_err());
        assert!(parse(&req(r#"{"events_by_user":{}}"#)).is_err());
        assert!(parse(&req(
            r#"{"event_name":"transactional_email_status","status":"sent"}"#
        ))
        .is_err());
    }
}
