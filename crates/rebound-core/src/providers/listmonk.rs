//! listmonk's bounce API: `{"subscriber_uuid"|"email", "campaign_uuid", "source", "type":
//! "hard"|"soft"|"complaint", "meta"}`. Authenticated by HTTP basic auth.
//!
//! listmonk sends no event id: the dedup key hashes recipient, campaign, type, source and
//! meta, so a retried call counts once (and two identical calls count once too).

use super::{objects, str_field, ParseError};
use crate::event::hashed_dedup_key;
use crate::forward::Forwarded;
use crate::reason::{classify, find_status};
use crate::{
    Address, Attribution, BounceClass, Event, EventKind, Reason, Recipient, WebhookRequest,
};

/// The recipient's address (or [`SUBSCRIBER_UUID`]).
pub const EMAIL: &str = "email";
/// The subscriber's UUID, instead of [`EMAIL`].
pub const SUBSCRIBER_UUID: &str = "subscriber_uuid";
/// `hard`, `soft` or `complaint`.
pub const TYPE: &str = "type";
/// Where the bounce came from (free text; `api` when absent).
pub const SOURCE: &str = "source";
/// Free JSON kept with the bounce.
pub const META: &str = "meta";
/// The campaign's UUID.
pub const CAMPAIGN_UUID: &str = "campaign_uuid";
/// listmonk's bounce types (`models.BounceTypeHard`, `…Soft`, `…Complaint`).
pub const HARD: &str = "hard";
/// See [`HARD`].
pub const SOFT: &str = "soft";
/// See [`HARD`].
pub const COMPLAINT: &str = "complaint";
/// The `source` of bounces rebound forwards to listmonk.
pub const FORWARD_SOURCE: &str = "rebound";

/// The body of listmonk's bounce API (`POST /webhooks/bounce`, `models.Bounce`) telling
/// `f`: `{"email", "source": "rebound", "type", "meta": {reason, status, diagnostic, class,
/// provider, event_id, message_id, rebound_id}}`.
pub fn forward(f: &Forwarded) -> serde_json::Value {
    let typ = match (f.kind, f.class) {
        (EventKind::Complaint, _) => COMPLAINT,
        (_, Some(BounceClass::Soft)) => SOFT,
        _ => HARD,
    };
    let mut body = serde_json::Map::new();
    body.insert(EMAIL.into(), f.email.clone().into());
    body.insert(SOURCE.into(), FORWARD_SOURCE.into());
    body.insert(TYPE.into(), typ.into());
    body.insert(META.into(), f.meta());
    serde_json::Value::Object(body)
}

pub(super) fn parse(req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
    let items = objects(&req.body)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let recipient = match (str_field(v, EMAIL), str_field(v, SUBSCRIBER_UUID)) {
            (Some(e), _) => Recipient::Email(
                Address::parse(e).map_err(|e| ParseError::new(format!("item {i}: email: {e}")))?,
            ),
            (None, Some(u)) => Recipient::ContactUuid(u.to_string()),
            (None, None) => {
                return Err(ParseError::new(format!(
                    "item {i}: one of 'email' or 'subscriber_uuid' is required"
                )))
            }
        };
        let typ = str_field(v, TYPE)
            .ok_or_else(|| ParseError::new(format!("item {i}: missing field 'type'")))?;
        let (kind, class) = match typ {
            HARD => (EventKind::Bounce, Some(BounceClass::Hard)),
            SOFT => (EventKind::Bounce, Some(BounceClass::Soft)),
            COMPLAINT => (EventKind::Complaint, None),
            other => {
                return Err(ParseError::new(format!(
                    "item {i}: unknown type '{other}' (expected hard, soft or complaint)"
                )))
            }
        };
        let campaign = str_field(v, CAMPAIGN_UUID).unwrap_or("");
        let source = str_field(v, SOURCE).unwrap_or("api");
        let meta = match v.get(META) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let (reason, status) = match kind {
            EventKind::Bounce => (Some(classify(None, Some(&meta))), find_status(&meta)),
            _ => (Some(Reason::Feedback), None),
        };
        let dedup_key = hashed_dedup_key(
            "listmonk",
            &[recipient.display(), campaign, typ, source, &meta],
        );
        let mut details = serde_json::Map::new();
        details.insert(SOURCE.into(), source.into());
        if !campaign.is_empty() {
            details.insert(CAMPAIGN_UUID.into(), campaign.into());
        }
        if !meta.is_empty() {
            details.insert(META.into(), meta.clone().into());
        }
        out.push(Event {
            recipient,
            attribution: Attribution::Recipient,
            kind,
            class,
            reason,
            status,
            diagnostic: None,
            message_id: None,
            sending_domain: None,
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
            received_at: 1,
            ..Default::default()
        }
    }

    #[test]
    fn email_or_uuid_and_a_valid_type_are_required() {
        let ok = parse(&req(
            r#"{"subscriber_uuid":"u-1","type":"soft","source":"api"}"#,
        ))
        .unwrap();
        assert_eq!(ok[0].recipient, Recipient::ContactUuid("u-1".into()));
        assert_eq!(ok[0].class, Some(BounceClass::Soft));
        let e = parse(&req(r#"{"type":"hard"}"#)).unwrap_err();
        assert!(e.0.contains("'email' or 'subscriber_uuid'"), "{e}");
        let e = parse(&req(r#"{"email":"a@x.io","type":"bounce"}"#)).unwrap_err();
        assert!(e.0.contains("unknown type 'bounce'"), "{e}");
        let c = parse(&req(r#"{"email":"a@x.io","type":"complaint"}"#)).unwrap();
        assert_eq!(c[0].kind, EventKind::Complaint);
    }
}
