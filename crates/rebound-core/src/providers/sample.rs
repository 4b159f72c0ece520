//! Test events: a hard bounce for an address, in a provider's own payload shape and signed
//! the provider's way with the source's own credentials, so that "send a test event" goes
//! through the real pipeline (the webhook URL, authentication, parsing, the policy). Only for
//! providers whose requests rebound can make itself: those authenticated by the URL, by basic
//! auth rebound generated, or by a shared secret rebound holds (its own, or the one the
//! provider issued and the user pasted in). Each signature is made by the provider module's
//! own signing function, the counterpart of its `verify`, or by [`crate::signature`]'s
//! (Standard Webhooks, hex HMAC). Not for SES (SNS signs with AWS's key), SendGrid (ECDSA)
//! or Postal (RSA): [`unavailable`] says why.

use serde_json::json;

use super::{generic, lettermint, mailgun, mandrill, unisender_go, Provider, SourceAuth};
use crate::signature;

/// A test request: its content type, the extra headers (its signature) and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// `Content-Type` of the body (Mandrill posts a form, the rest JSON).
    pub content_type: &'static str,
    /// Headers the provider would send (its signature), lower case.
    pub headers: Vec<(String, String)>,
    /// The payload.
    pub body: Vec<u8>,
}

/// Why rebound cannot make `provider`'s requests itself (one sentence, for the Sources page
/// and the API's answer), or `None` when it can, given the source's secret.
pub fn unavailable(provider: Provider) -> Option<&'static str> {
    Some(match provider {
        Provider::Ses => {
            "Amazon SNS signs every notification with AWS's private key, which rebound never \
             holds: send to bounce@simulator.amazonses.com through SES instead, then look for \
             it in the request log."
        }
        Provider::SendGrid => {
            "SendGrid signs with an ECDSA private key only SendGrid holds (rebound keeps the \
             public key): use \"Test your integration\" in SendGrid's Event Webhook settings \
             (its dashboard), then look for it in the request log."
        }
        Provider::Postal => {
            "Postal signs with its server's RSA private key, which rebound never holds (it \
             keeps the public key): send to a non-existent address through Postal (its \
             dashboard shows the webhook deliveries), then look for it in the request log."
        }
        _ => return None,
    })
}

/// A hard bounce of `email` as `provider` would post it, with event id `id` at `at` (RFC
/// 3339), signed with the source's credentials by the provider module's own signing rule;
/// `None` for a provider whose requests only the provider can make ([`unavailable`]), or
/// when the source lacks the secret (or, for Mandrill, the URL) it signs with.
pub fn hard_bounce(
    provider: Provider,
    auth: SourceAuth<'_>,
    email: &str,
    id: &str,
    at: &str,
) -> Option<Sample> {
    if unavailable(provider).is_some() {
        return None;
    }
    let diagnostic = "smtp; 550 5.1.1 <test> The email account does not exist (rebound test event)";
    let reply = "550 5.1.1 The email account does not exist (rebound test event)";
    let millis = crate::timestamp::parse(at)?;
    let secs = millis.div_euclid(1000);
    // The signing secret, for the providers that sign with one.
    let secret = || auth.secret.filter(|s| !s.is_empty());
    let json = |v: serde_json::Value| v.to_string().into_bytes();
    let plain = |body: Vec<u8>| Sample {
        content_type: "application/json",
        headers: Vec::new(),
        body,
    };
    let hex_signed = |header: &str, body: Vec<u8>| -> Option<Sample> {
        let sig = signature::sign_hex_hmac(secret()?.as_bytes(), &body);
        Some(Sample {
            headers: vec![(header.to_string(), sig)],
            ..plain(body)
        })
    };
    Some(match provider {
        // Rebound holds the credentials of these (the URL key or basic auth it generated).
        Provider::ToSend => plain(json(json!({
            "type": "bounce", "email": email, "reason": diagnostic,
            "is_hard_bounce": true, "message_id": id,
        }))),
        Provider::Listmonk => plain(json(json!({
            "email": email, "source": "rebound-test", "type": "hard",
            "meta": {"test_event": id},
        }))),
        Provider::Postmark => plain(json(json!({
            "RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "ID": id,
            "Email": email, "BouncedAt": at, "Details": diagnostic,
            "Description": "The server was unable to deliver your message (rebound test event).",
            "MessageID": id,
        }))),
        Provider::SparkPost => plain(json(json!([{"msys": {"message_event": {
            "type": "bounce", "event_id": id, "message_id": id, "rcpt_to": email,
            "bounce_class": "10", "raw_reason": reply, "timestamp": secs.to_string(),
        }}}]))),
        Provider::Mailjet => plain(json(json!({
            "event": "bounce", "time": secs, "MessageID": id, "email": email,
            "hard_bounce": true, "error_related_to": "recipient", "error": "user unknown",
            "comment": reply,
        }))),
        Provider::Brevo => plain(json(json!({
            "event": "hard_bounce", "email": email, "id": 1, "message-id": id,
            "ts_epoch": millis, "reason": reply,
        }))),
        Provider::Smtp2go => plain(json(json!({
            "event": "bounce", "bounce": "hard", "rcpt": email, "email_id": id,
            "time": at, "message": reply, "host": "rebound-test",
        }))),
        // Signed with a secret rebound generated or the provider issued.
        Provider::Generic => {
            let header = auth
                .signature_header
                .unwrap_or(generic::DEFAULT_SIGNATURE_HEADER)
                .to_ascii_lowercase();
            hex_signed(
                &header,
                json(json!({
                    "id": id, "type": "bounced.hard", "created_at": at,
                    "data": {"email": email, "message_id": id, "timestamp": at,
                             "bounce_code": "550", "bounce_reason": diagnostic},
                })),
            )?
        }
        Provider::MailerSend => hex_signed(
            "signature",
            json(json!({
                "type": "activity.hard_bounced", "created_at": at,
                "data": {"id": id, "type": "hard_bounced", "created_at": at,
                         "email": {"message": {"id": id}, "recipient": {"email": email}},
                         "morph": {"object": "recipient_bounce", "reason": reply}},
            })),
        )?,
        Provider::ForwardEmail => hex_signed(
            "x-webhook-signature",
            json(json!({
                "email_id": id, "recipient": email, "bounced_at": at,
                "bounce": {"action": "reject", "message": reply, "category": "recipient",
                           "code": 550, "status": "5.1.1"},
            })),
        )?,
        Provider::Mailtrap => hex_signed(
            "mailtrap-signature",
            json(json!({"events": [{
                "event": "bounce", "email": email, "event_id": id, "message_id": id,
                "timestamp": secs, "response": reply, "response_code": 550,
                "bounce_category": "badmailbox",
            }]})),
        )?,
        Provider::Mailgun => {
            let key = secret()?;
            let ts = secs.to_string();
            plain(json(json!({
                "signature": {"timestamp": ts, "token": id,
                              "signature": mailgun::sign(key, &ts, id)},
                "event-data": {"id": id, "event": "failed", "severity": "permanent",
                               "timestamp": secs, "recipient": email,
                               "reason": "bounce",
                               "delivery-status": {"code": 550, "message": reply},
                               "message": {"headers": {"message-id": id}}},
            })))
        }
        Provider::Resend => {
            let key = signature::standard_webhooks_key(secret()?);
            let body = json(json!({
                "type": "email.bounced", "created_at": at,
                "data": {"email_id": id, "created_at": at, "to": [email],
                         "bounce": {"type": "Permanent", "subType": "General", "message": reply}},
            }));
            let ts = secs.to_string();
            Sample {
                headers: vec![
                    ("svix-id".into(), id.to_string()),
                    ("svix-timestamp".into(), ts.clone()),
                    (
                        "svix-signature".into(),
                        signature::sign_standard_webhooks(&key, id, &ts, &body),
                    ),
                ],
                ..plain(body)
            }
        }
        Provider::Lettermint => {
            let body = json(json!({
                "id": id, "event": "message.hard_bounced", "timestamp": at,
                "data": {"message_id": id, "recipient": email,
                         "response": {"status_code": 550, "enhanced_status_code": "5.1.1",
                                      "content": reply}},
            }));
            Sample {
                headers: vec![
                    (
                        "x-lettermint-signature".into(),
                        lettermint::sign(secret()?, secs, &body),
                    ),
                    ("x-lettermint-delivery".into(), secs.to_string()),
                ],
                ..plain(body)
            }
        }
        Provider::Mandrill => {
            let (key, url) = (secret()?, auth.url?);
            let events = json!([{
                "event": "hard_bounce", "_id": id, "ts": secs,
                "msg": {"_id": id, "email": email, "state": "bounced",
                        "bounce_description": "bad_mailbox", "diag": reply},
            }]);
            let body = mandrill::form_encode(&[("mandrill_events", &events.to_string())]);
            let body = body.into_bytes();
            Sample {
                content_type: "application/x-www-form-urlencoded",
                headers: vec![(
                    "x-mandrill-signature".into(),
                    mandrill::sign(key, url, &body),
                )],
                body,
            }
        }
        Provider::UnisenderGo => {
            // A placeholder that occurs nowhere else in the body.
            const AUTH: &str = "REBOUND_AUTH_PLACEHOLDER";
            let body = json(json!({
                "auth": AUTH,
                "events_by_user": [{"user_id": 1, "project_id": "rebound-test", "events": [{
                    "event_name": "transactional_email_status",
                    "event_data": {"job_id": id, "email": email, "status": "hard_bounced",
                                   "event_time": at,
                                   "delivery_info": {"delivery_status": "err_user_unknown",
                                                     "destination_response": reply}},
                }]}],
            }));
            plain(unisender_go::sign(secret()?, &body, AUTH.as_bytes()))
        }
        Provider::Ses | Provider::SendGrid | Provider::Postal => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BounceClass, EventKind, Recipient, WebhookRequest};
    use base64::Engine;

    const AT: &str = "2026-12-07T10:00:00Z";

    fn auth(secret: Option<&str>) -> SourceAuth<'_> {
        SourceAuth {
            secret,
            signature_header: None,
            config: None,
            basic: Some(("user", "pass")),
            url: Some("https://rebound.example/webhooks/mandrill/k3y"),
        }
    }

    /// Every sample verifies with the source's own credentials (by the provider's own
    /// `verify`, at the sample's time) and parses into one hard bounce of the address: the
    /// test event cannot drift from what rebound accepts.
    #[test]
    fn samples_verify_and_parse_as_hard_bounces() {
        let now = crate::timestamp::parse(AT).expect("time");
        let mut made = Vec::new();
        for p in Provider::ALL {
            // A Standard Webhooks secret, as Resend issues them; others take it as it is.
            let a = auth(Some("whsec_dGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ=="));
            let Some(s) = hard_bounce(p, a, "t@example.com", "evt-1", AT) else {
                assert!(
                    unavailable(p).is_some(),
                    "{}: no sample, no reason",
                    p.name()
                );
                continue;
            };
            assert!(unavailable(p).is_none(), "{}", p.name());
            made.push(p.name());
            let mut headers = vec![("content-type".to_string(), s.content_type.to_string())];
            headers.extend(s.headers.clone());
            if p.auth() == crate::providers::Auth::Basic {
                let token = base64::engine::general_purpose::STANDARD.encode("user:pass");
                headers.push(("authorization".into(), format!("Basic {token}")));
            }
            let req = WebhookRequest {
                headers,
                body: s.body.clone(),
                received_at: now,
            };
            p.verify(&req, a, now)
                .unwrap_or_else(|e| panic!("{}: {e:?}", p.name()));
            let other = auth(Some("whsec_b3RoZXItc2VjcmV0LTAxMjM0NTY3ODk="));
            if matches!(
                p.auth(),
                crate::providers::Auth::Signature | crate::providers::Auth::ProviderSecret
            ) {
                assert!(p.verify(&req, other, now).is_err(), "{}", p.name());
                assert!(
                    hard_bounce(p, auth(None), "t@example.com", "evt-1", AT).is_none(),
                    "{}: no secret, no sample",
                    p.name()
                );
            }
            let events = p
                .parse(&req)
                .unwrap_or_else(|e| panic!("{}: {e:?}", p.name()));
            assert_eq!(events.len(), 1, "{}", p.name());
            let e = &events[0];
            assert_eq!(
                (e.kind, e.class),
                (EventKind::Bounce, Some(BounceClass::Hard)),
                "{}",
                p.name()
            );
            match &e.recipient {
                Recipient::Email(addr) => assert_eq!(addr.key(), "t@example.com", "{}", p.name()),
                other => panic!("{}: {other:?}", p.name()),
            }
        }
        assert_eq!(made.len(), 16, "{made:?}");
        for p in [Provider::Ses, Provider::SendGrid, Provider::Postal] {
            assert!(!made.contains(&p.name()));
        }
    }

    /// Mandrill signs the webhook URL: without it there is nothing to sign.
    #[test]
    fn mandrill_needs_the_url() {
        let a = SourceAuth {
            url: None,
            ..auth(Some("k"))
        };
        assert!(hard_bounce(Provider::Mandrill, a, "t@example.com", "e", AT).is_none());
    }
}
