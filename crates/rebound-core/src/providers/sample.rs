//! Test events: a hard bounce for an address, in a provider's own payload shape and signed
//! the provider's way with the source's own credentials, so that "send a test event" goes
//! through the real pipeline (the webhook URL, authentication, parsing, the policy). Only for
//! providers whose requests rebound can make itself: those authenticated by the URL, by basic
//! auth rebound generated, or by a signing secret of its own.

use serde_json::json;

use super::{generic, Provider, SourceAuth};
use crate::signature;

/// A test request: the extra headers (besides `Content-Type: application/json`) and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Headers the provider would send (its signature), lower case.
    pub headers: Vec<(String, String)>,
    /// The payload.
    pub body: Vec<u8>,
}

/// A hard bounce of `email` as `provider` would post it, with event id `id` at `at` (RFC
/// 3339); `None` for a provider whose requests only the provider can make (it signs with a
/// private key or a secret it keeps, or through SNS).
pub fn hard_bounce(
    provider: Provider,
    auth: SourceAuth<'_>,
    email: &str,
    id: &str,
    at: &str,
) -> Option<Sample> {
    let diagnostic = "smtp; 550 5.1.1 <test> The email account does not exist (rebound test event)";
    let body = match provider {
        Provider::ToSend => json!({
            "type": "bounce", "email": email, "reason": diagnostic,
            "is_hard_bounce": true, "message_id": id,
        }),
        Provider::Generic => json!({
            "id": id, "type": "bounced.hard", "created_at": at,
            "data": {"email": email, "message_id": id, "timestamp": at,
                     "bounce_code": "550", "bounce_reason": diagnostic},
        }),
        Provider::Listmonk => json!({
            "email": email, "source": "rebound-test", "type": "hard",
            "meta": {"test_event": id},
        }),
        Provider::Postmark => json!({
            "RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "ID": id,
            "Email": email, "BouncedAt": at, "Details": diagnostic,
            "Description": "The server was unable to deliver your message (rebound test event).",
            "MessageID": id,
        }),
        _ => return None,
    };
    let body = body.to_string().into_bytes();
    let headers = match provider {
        Provider::Generic => {
            let secret = auth.secret.filter(|s| !s.is_empty())?;
            let header = auth
                .signature_header
                .unwrap_or(generic::DEFAULT_SIGNATURE_HEADER)
                .to_ascii_lowercase();
            let sig = hex::encode(signature::hmac_sha256(secret.as_bytes(), &[&body]));
            vec![(header, sig)]
        }
        _ => Vec::new(),
    };
    Some(Sample { headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BounceClass, EventKind, WebhookRequest};

    /// Every sample verifies with the source's own credentials and parses into a hard
    /// bounce of the address: the test event cannot drift from what rebound accepts.
    #[test]
    fn samples_verify_and_parse_as_hard_bounces() {
        let mut made = 0;
        for p in Provider::ALL {
            let auth = SourceAuth {
                secret: Some("test-secret-0123456789"),
                signature_header: None,
                config: None,
                basic: None,
                url: None,
            };
            let Some(s) = hard_bounce(p, auth, "t@example.com", "evt-1", "2026-12-07T10:00:00Z")
            else {
                continue;
            };
            made += 1;
            let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
            headers.extend(s.headers.clone());
            let req = WebhookRequest {
                headers,
                body: s.body.clone(),
                received_at: 0,
            };
            if !p.basic_in_url() && p != Provider::Listmonk {
                p.verify(&req, auth, 0)
                    .unwrap_or_else(|e| panic!("{}: {e:?}", p.name()));
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
        }
        assert_eq!(made, 4);
    }
}
