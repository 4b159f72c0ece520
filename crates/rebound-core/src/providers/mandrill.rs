//! Mandrill (Mailchimp Transactional): a form-encoded body with one field,
//! `mandrill_events=<JSON array>` (bare JSON is accepted too, for `webhook parse`).
//! `X-Mandrill-Signature` is base64 HMAC-SHA1, keyed with the webhook key, over the webhook
//! URL exactly as configured followed by every form field's name and value, sorted by name.

use base64::Engine;
use serde_json::Value;

use super::{classify_or, reason_of, str_field, ParseError, SourceAuth};
use crate::address::first_domain;
use crate::event::dedup_key;
use crate::reason::find_status;
use crate::signature::VerifyError;
use crate::{
    Address, Attribution, BounceClass, Event, EventKind, Millis, Reason, Recipient, WebhookRequest,
};

/// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte).
pub fn form_decode(body: &[u8]) -> Vec<(String, String)> {
    fn unescape(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|b| *b == b'=') {
            Some(eq) => (unescape(&p[..eq]), unescape(&p[eq + 1..])),
            None => (unescape(p), String::new()),
        })
        .collect()
}

/// Encodes fields as `application/x-www-form-urlencoded`, the way [`form_decode`] reads them.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fn escape(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(char::from(b))
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        escape(k, &mut out);
        out.push('=');
        escape(v, &mut out);
    }
    out
}

pub(super) fn verify(req: &WebhookRequest, auth: SourceAuth<'_>) -> Result<(), VerifyError> {
    let key = auth
        .secret
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::NoSecret)?;
    let url = auth.url.ok_or(VerifyError::NoSecret)?;
    let given = req
        .header("x-mandrill-signature")
        .ok_or(VerifyError::Missing)?;
    let given = base64::engine::general_purpose::STANDARD
        .decode(given.trim())
        .map_err(|_| VerifyError::Invalid)?;
    if given.is_empty() {
        return Err(VerifyError::Invalid);
    }
    let k = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        key.as_bytes(),
    );
    aws_lc_rs::hmac::verify(&k, &signed_bytes(url, &req.body), &given)
        .map_err(|_| VerifyError::Invalid)
}

/// The URL, then each form field's name and value, sorted by name.
fn signed_bytes(url: &str, body: &[u8]) -> Vec<u8> {
    let mut fields = form_decode(body);
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut signed = url.as_bytes().to_vec();
    for (k, v) in &fields {
        signed.extend_from_slice(k.as_bytes());
        signed.extend_from_slice(v.as_bytes());
    }
    signed
}

/// Signs like Mandrill does (for tests and tools).
pub fn sign(key: &str, url: &str, body: &[u8]) -> String {
    let signed = signed_bytes(url, body);
    let k = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        key.as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(aws_lc_rs::hmac::sign(&k, &signed).as_ref())
}

fn events_json(body: &[u8]) -> Result<Value, ParseError> {
    let trimmed = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&body[..0], |i| &body[i..]);
    if trimmed.first() == Some(&b'[') {
        return serde_json::from_slice(trimmed).map_err(ParseError::json);
    }
    let field = form_decode(body)
        .into_iter()
        .find(|(k, _)| k == "mandrill_events")
        .ok_or_else(|| ParseError::new("missing form field 'mandrill_events'"))?;
    serde_json::from_str(&field.1).map_err(ParseError::json)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let v = events_json(&req.body)?;
    let items = v
        .as_array()
        .ok_or_else(|| ParseError::new("mandrill_events is not a JSON array"))?;
    let mut out = Vec::new();
    for (i, e) in items.iter().enumerate() {
        // Sync events (allow/deny list changes) have no `event` and no message.
        let Some(event) = str_field(e, "event") else {
            continue;
        };
        let msg = e.get("msg").cloned().unwrap_or(Value::Null);
        let Some(email) = str_field(&msg, "email") else {
            continue;
        };
        let addr = Address::parse(email)
            .map_err(|err| ParseError::new(format!("item {i}: msg.email: {err}")))?;
        let (kind, class) = match event {
            "hard_bounce" => (EventKind::Bounce, Some(BounceClass::Hard)),
            "soft_bounce" => (EventKind::Bounce, Some(BounceClass::Soft)),
            "deferral" => (EventKind::Deferred, None),
            "spam" => (EventKind::Complaint, None),
            "unsub" => (EventKind::Unsubscribe, None),
            "open" => (EventKind::Open, None),
            "click" => (EventKind::Click, None),
            _ => (EventKind::Other, None),
        };
        let diag = str_field(&msg, "diag").map(str::to_string);
        let reason = reason_of(kind, || {
            let hint = match str_field(&msg, "bounce_description") {
                Some("bad_mailbox") => Some(Reason::UserUnknown),
                Some("invalid_domain") => Some(Reason::HostUnknown),
                Some("mailbox_full") => Some(Reason::MailboxFull),
                _ => None,
            };
            classify_or(None, diag.as_deref(), hint)
        });
        let occurred_at = e
            .get("ts")
            .and_then(Value::as_i64)
            .map(|t| t * 1000)
            .unwrap_or(req.received_at as Millis);
        let message_id = str_field(&msg, "_id").map(str::to_string);
        let id = str_field(e, "_id").map(str::to_string);
        let own_id = id.as_ref().map(|id| format!("{id}:{event}:{occurred_at}"));
        let dedup_key = dedup_key(
            "mandrill",
            own_id.as_deref(),
            &[event, addr.key(), &occurred_at.to_string()],
        );
        out.push(Event {
            recipient: Recipient::Email(addr),
            attribution: Attribution::Recipient,
            kind,
            class,
            reason,
            status: diag.as_deref().and_then(find_status),
            diagnostic: diag,
            message_id,
            sending_domain: first_domain([str_field(&msg, "sender")]),
            provider_event_id: id,
            occurred_at,
            dedup_key,
            details: serde_json::json!({ "event": event, "bounce_description": msg.get("bounce_description") }),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = form_decode(b"b=2&a=x+y%21&c=%zz&d");
        assert_eq!(
            f,
            vec![
                ("b".into(), "2".into()),
                ("a".into(), "x y!".into()),
                ("c".into(), "%zz".into()),
                ("d".into(), String::new())
            ]
        );
        assert_eq!(form_decode(b"a=%4"), vec![("a".into(), "%4".into())]);
    }
}
