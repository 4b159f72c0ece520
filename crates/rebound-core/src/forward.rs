//! Forwarders: a bounce or complaint told to another system in that system's own inbound
//! format, so a system that understands few providers learns of every one rebound does. Each
//! body is built next to rebound's parser of the same format
//! ([`crate::providers::listmonk::forward`], [`crate::providers::tosend::forward`]): the
//! mirror image, sharing its field names and values, and tested by parsing it back.

use crate::{BounceClass, EventKind};

/// What a forwarder tells: one bounce or complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The recipient's address.
    pub email: String,
    /// [`EventKind::Bounce`] or [`EventKind::Complaint`].
    pub kind: EventKind,
    /// For a bounce, the class told to the target: `hard` when rebound marked the address
    /// bounced (whatever the class of the last bounce: rebound decided it is dead).
    pub class: Option<BounceClass>,
    /// The class of the bounce that caused it, as the provider reported it.
    pub cause_class: Option<BounceClass>,
    /// rebound's reason (`userunknown`, `mailboxfull`…).
    pub reason: Option<String>,
    /// The enhanced status code (`5.1.1`).
    pub status: Option<String>,
    /// The receiving server's diagnostic.
    pub diagnostic: Option<String>,
    /// The provider the event came through (`ses`, `postmark`, `api`…).
    pub provider: String,
    /// rebound's id of the stored event.
    pub event_id: Option<i64>,
    /// The Message-ID of the message concerned, when known.
    pub message_id: Option<String>,
    /// The outbound message id (`msg_…`, the same on every retry).
    pub id: String,
    /// When the change happened (RFC 3339).
    pub at: String,
}

impl Forwarded {
    /// `meta`-style details: rebound's reason, status code, diagnostic, provider, ids.
    pub fn meta(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<serde_json::Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("reason", self.reason.clone().map(Into::into));
        put("status", self.status.clone().map(Into::into));
        put("diagnostic", self.diagnostic.clone().map(Into::into));
        put("class", self.cause_class.map(|c| c.as_str().into()));
        put("provider", Some(self.provider.clone().into()));
        put("event_id", self.event_id.map(Into::into));
        put("message_id", self.message_id.clone().map(Into::into));
        put("rebound_id", Some(self.id.clone().into()));
        serde_json::Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{listmonk, tosend};
    use crate::{Provider, Reason, Recipient, WebhookRequest};

    fn bounce(class: BounceClass) -> Forwarded {
        Forwarded {
            email: "Ann@Example.org".into(),
            kind: EventKind::Bounce,
            class: Some(class),
            cause_class: Some(class),
            reason: Some(Reason::UserUnknown.as_str().into()),
            status: Some("5.1.1".into()),
            diagnostic: Some("smtp; 550 5.1.1 <ann@example.org>: user unknown".into()),
            provider: "ses".into(),
            event_id: Some(42),
            message_id: Some("<m1@example.org>".into()),
            id: "msg_1".into(),
            at: "2026-01-02T03:04:05.000Z".into(),
        }
    }

    fn complaint() -> Forwarded {
        Forwarded {
            kind: EventKind::Complaint,
            class: None,
            cause_class: None,
            reason: Some(Reason::Feedback.as_str().into()),
            status: None,
            diagnostic: None,
            message_id: None,
            ..bounce(BounceClass::Hard)
        }
    }

    /// Parses a forwarder's body with rebound's own adapter for that provider.
    fn back(p: Provider, body: &serde_json::Value) -> crate::Event {
        let req = WebhookRequest {
            body: body.to_string().into_bytes(),
            received_at: 1,
            ..Default::default()
        };
        let mut events = p.parse(&req).expect("parses");
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    fn email(e: &crate::Event) -> &str {
        match &e.recipient {
            Recipient::Email(a) => a.as_str(),
            other => panic!("not an address: {other:?}"),
        }
    }

    #[test]
    fn listmonk_bodies_parse_back_to_the_same_event() {
        for f in [
            bounce(BounceClass::Hard),
            bounce(BounceClass::Soft),
            complaint(),
        ] {
            let body = listmonk::forward(&f);
            let e = back(Provider::Listmonk, &body);
            assert_eq!(email(&e), f.email);
            assert_eq!((e.kind, e.class), (f.kind, f.class), "{body}");
            assert_eq!(body[listmonk::SOURCE], listmonk::FORWARD_SOURCE);
            assert_eq!(body["meta"]["provider"], "ses");
            assert_eq!(body["meta"]["event_id"], 42);
            assert_eq!(body["meta"]["rebound_id"], "msg_1");
            if f.kind == EventKind::Bounce {
                assert_eq!(e.status.as_deref(), Some("5.1.1"));
                assert_eq!(body["meta"]["reason"], "userunknown");
                assert_eq!(e.reason, Some(Reason::UserUnknown));
            }
        }
        let body = listmonk::forward(&bounce(BounceClass::Hard));
        let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 4, "{body}");
        assert_eq!(body["type"], "hard");
        assert_eq!(listmonk::forward(&complaint())["type"], "complaint");
    }

    #[test]
    fn tosend_bodies_parse_back_to_the_same_event() {
        for f in [
            bounce(BounceClass::Hard),
            bounce(BounceClass::Soft),
            complaint(),
        ] {
            let body = tosend::forward(&f);
            let e = back(Provider::ToSend, &body);
            assert_eq!(email(&e), f.email);
            assert_eq!((e.kind, e.class), (f.kind, f.class), "{body}");
            if f.kind == EventKind::Bounce {
                assert_eq!(e.reason, Some(Reason::UserUnknown));
                assert_eq!(e.status.as_deref(), Some("5.1.1"));
                assert_eq!(e.message_id.as_deref(), Some("<m1@example.org>"));
                assert_eq!(body["bounce_sub_type"], "NoEmail");
            }
        }
        let soft = tosend::forward(&bounce(BounceClass::Soft));
        assert!(soft.get("is_hard_bounce").is_none(), "{soft}");
        let c = tosend::forward(&complaint());
        assert_eq!(c["message_id"], "msg_1");
        assert_eq!(c.as_object().expect("object").len(), 3, "{c}");
        // No diagnostic: the status code and rebound's reason stand in.
        let bare = tosend::forward(&Forwarded {
            diagnostic: None,
            reason: Some(Reason::MailboxFull.as_str().into()),
            ..bounce(BounceClass::Soft)
        });
        assert_eq!(bare["reason"], "5.1.1 mailboxfull");
        assert_eq!(bare["bounce_sub_type"], "General");
    }
}
