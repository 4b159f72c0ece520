//! Forwarder subscriptions (`listmonk`, `tosend`): the stored status-change payload told in
//! the target's own inbound format ([`rebound_core::forward`]), with its authentication.
//! Delivered by the same outbox loop as signed webhooks; only the request differs.

use rebound_core::forward::Forwarded;
use rebound_core::providers::{listmonk, tosend};
use rebound_core::{BounceClass, EventKind};
use rebound_store::outbound::{Subscription, SubscriptionKind};
use serde::Deserialize;

/// The request a forwarder makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRequest {
    /// The JSON body.
    pub body: String,
    /// HTTP basic auth (user, password), for listmonk.
    pub basic_auth: Option<(String, String)>,
}

#[derive(Deserialize)]
struct Payload {
    id: String,
    timestamp: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    email: String,
    new_status: String,
    reason: Option<String>,
    source: String,
    event_id: Option<i64>,
    cause: Option<Cause>,
}

#[derive(Deserialize)]
struct Cause {
    class: Option<BounceClass>,
    status: Option<String>,
    diagnostic: Option<String>,
    message_id: Option<String>,
}

/// What a forwarder tells of a stored status-change payload: a bounce when the contact
/// became `bounced` (told as hard: rebound decided the address is dead), a complaint when
/// it became `complained`; `None` for other changes (the target has no such type).
pub fn forwarded(payload: &str) -> Result<Option<Forwarded>, String> {
    let p: Payload =
        serde_json::from_str(payload).map_err(|e| format!("stored payload unreadable: {e}"))?;
    let kind = match p.data.new_status.as_str() {
        "bounced" => EventKind::Bounce,
        "complained" => EventKind::Complaint,
        _ => return Ok(None),
    };
    let cause = p.data.cause.unwrap_or(Cause {
        class: None,
        status: None,
        diagnostic: None,
        message_id: None,
    });
    Ok(Some(Forwarded {
        email: p.data.email,
        kind,
        class: (kind == EventKind::Bounce).then_some(BounceClass::Hard),
        cause_class: cause.class,
        reason: p.data.reason,
        status: cause.status,
        diagnostic: cause.diagnostic,
        provider: p.data.source,
        event_id: p.data.event_id,
        message_id: cause.message_id,
        id: p.id,
        at: p.timestamp,
    }))
}

/// The basic-auth credentials of a listmonk subscription, stored as its secret
/// (`user:password`; a user name cannot hold a colon in basic auth).
pub fn credentials(secret: &str) -> (String, String) {
    match secret.split_once(':') {
        Some((u, p)) => (u.to_string(), p.to_string()),
        None => (secret.to_string(), String::new()),
    }
}

/// The secret stored for listmonk's credentials.
pub fn credentials_secret(username: &str, password: &str) -> Result<String, String> {
    if username.is_empty() || username.contains(':') {
        return Err("username: a listmonk API user name, without ':'".into());
    }
    if password.is_empty() {
        return Err("password: the listmonk API user's token".into());
    }
    Ok(format!("{username}:{password}"))
}

/// The request a forwarder subscription makes for a stored payload (`None`: nothing to
/// tell this target; `Err`: the payload cannot be read). A webhook subscription is not a
/// forwarder: `Ok(None)`.
pub fn request(sub: &Subscription, payload: &str) -> Result<Option<ForwardRequest>, String> {
    let build: fn(&Forwarded) -> serde_json::Value = match sub.kind {
        SubscriptionKind::Webhook => return Ok(None),
        SubscriptionKind::Listmonk => listmonk::forward,
        SubscriptionKind::Tosend => tosend::forward,
    };
    let Some(f) = forwarded(payload)? else {
        return Ok(None);
    };
    Ok(Some(ForwardRequest {
        body: build(&f).to_string(),
        basic_auth: (sub.kind == SubscriptionKind::Listmonk).then(|| credentials(&sub.secret)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(kind: SubscriptionKind, secret: &str) -> Subscription {
        Subscription {
            id: 1,
            url: "https://crm.example/webhooks/bounce".into(),
            kind,
            events: vec!["*".into()],
            sources: None,
            secret: secret.into(),
            previous_secret: None,
            previous_until: None,
            enabled: true,
            description: String::new(),
            created_at: 0,
            failing_since: None,
            disabled_reason: None,
        }
    }

    fn payload(new_status: &str, class: &str) -> String {
        serde_json::json!({
            "type": "contact.status_changed", "id": "msg_9", "timestamp": "2026-01-02T03:04:05.000Z",
            "data": {"email": "a@x.io", "contact_uuid": "u", "old_status": "subscribed",
                "new_status": new_status, "reason": "mailboxfull", "source": "postmark",
                "source_id": 3, "event_id": 7,
                "cause": {"kind": "bounce", "class": class, "status": "4.2.2",
                    "diagnostic": "452 4.2.2 full", "message_id": null}}
        })
        .to_string()
    }

    #[test]
    fn a_bounced_contact_is_a_hard_bounce_with_the_cause_in_meta() {
        let s = sub(SubscriptionKind::Listmonk, "api:tok:en");
        let r = request(&s, &payload("bounced", "soft"))
            .expect("ok")
            .expect("sent");
        assert_eq!(r.basic_auth, Some(("api".into(), "tok:en".into())));
        let b: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(b["type"], "hard");
        assert_eq!(b["email"], "a@x.io");
        assert_eq!(b["meta"]["class"], "soft");
        assert_eq!(b["meta"]["status"], "4.2.2");
        assert_eq!(b["meta"]["provider"], "postmark");
        let t = request(
            &sub(SubscriptionKind::Tosend, ""),
            &payload("bounced", "soft"),
        )
        .expect("ok")
        .expect("sent");
        assert_eq!(t.basic_auth, None);
        let b: serde_json::Value = serde_json::from_str(&t.body).expect("json");
        assert_eq!(
            (b["type"].as_str(), b["is_hard_bounce"].as_bool()),
            (Some("bounce"), Some(true))
        );
        assert_eq!(b["message_id"], "msg_9");
    }

    #[test]
    fn what_the_target_cannot_take_is_not_sent() {
        for status in ["unsubscribed", "subscribed"] {
            let s = sub(SubscriptionKind::Listmonk, "u:p");
            assert_eq!(request(&s, &payload(status, "hard")), Ok(None));
        }
        assert_eq!(
            request(
                &sub(SubscriptionKind::Webhook, "whsec_x"),
                &payload("bounced", "hard")
            ),
            Ok(None)
        );
        assert!(request(&sub(SubscriptionKind::Tosend, ""), "{").is_err());
        assert!(credentials_secret("a:b", "p").is_err());
        assert!(credentials_secret("a", "").is_err());
        assert_eq!(credentials_secret("a", "p:q").as_deref(), Ok("a:p:q"));
    }
}
