//! The normalized event: what every provider payload and bounce email becomes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Address, Millis, Reason};

/// What happened to a message for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// The message was refused; see [`BounceClass`].
    Bounce,
    /// The provider is still retrying; timeline only.
    Deferred,
    /// The recipient reported the message as spam.
    Complaint,
    /// The recipient unsubscribed.
    Unsubscribe,
    /// The message was delivered.
    Delivery,
    /// The message was opened.
    Open,
    /// A link in the message was clicked.
    Click,
    /// An automatic reply (vacation notice); not a bounce.
    AutoReply,
    /// Anything else a provider reports; timeline only.
    Other,
}

impl EventKind {
    /// Every kind, in a stable order.
    pub const ALL: [EventKind; 9] = [
        EventKind::Bounce,
        EventKind::Deferred,
        EventKind::Complaint,
        EventKind::Unsubscribe,
        EventKind::Delivery,
        EventKind::Open,
        EventKind::Click,
        EventKind::AutoReply,
        EventKind::Other,
    ];

    /// The kind's name as used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Bounce => "bounce",
            EventKind::Deferred => "deferred",
            EventKind::Complaint => "complaint",
            EventKind::Unsubscribe => "unsubscribe",
            EventKind::Delivery => "delivery",
            EventKind::Open => "open",
            EventKind::Click => "click",
            EventKind::AutoReply => "auto-reply",
            EventKind::Other => "other",
        }
    }

    /// Parses a kind name as produced by [`EventKind::as_str`].
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Whether a bounce is permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BounceClass {
    /// Permanent failure: the address is suppressed at once.
    Hard,
    /// Temporary failure: counted; suppressed after the policy's threshold.
    Soft,
}

impl BounceClass {
    /// `hard` or `soft`.
    pub fn as_str(self) -> &'static str {
        match self {
            BounceClass::Hard => "hard",
            BounceClass::Soft => "soft",
        }
    }

    /// Parses `hard` / `soft`.
    pub fn parse(s: &str) -> Option<BounceClass> {
        match s {
            "hard" => Some(BounceClass::Hard),
            "soft" => Some(BounceClass::Soft),
            _ => None,
        }
    }
}

/// Who an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// An email address (the usual case).
    Email(Address),
    /// A contact known only by its UUID (listmonk's `subscriber_uuid`); the store resolves it.
    ContactUuid(String),
}

impl Recipient {
    /// The address, or the UUID, for display.
    pub fn display(&self) -> &str {
        match self {
            Recipient::Email(a) => a.as_str(),
            Recipient::ContactUuid(u) => u,
        }
    }
}

/// How the store finds the contact an event is about, and how far it trusts the recipient
/// the event names. Set by whoever produced the event (a provider adapter, the bounce-email
/// matching of [`crate::bounces::events`]); the store's apply reads it, never `details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Attribution {
    /// The recipient the event names, trusted: a provider reporting on its own send, or a
    /// bounce whose signed VERP return path names the recipient. An address that is not a
    /// contact yet becomes one.
    #[default]
    Recipient,
    /// A recipient named by a bounce report read from a mailbox, which anyone can send. The
    /// report's returned Message-ID is looked up first: when rebound has seen that send (an
    /// event of a webhook source with the same Message-ID), the event is about that send's
    /// contact, whatever address the report names. Otherwise it is about the named recipient,
    /// which with `known_contacts_only` must already be a contact: an unknown one is left
    /// unmatched and nothing changes (so a forged report cannot create or suppress contacts).
    Reported {
        /// The named recipient must already be a contact.
        known_contacts_only: bool,
    },
}

/// One normalized event about one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Who the event is about.
    pub recipient: Recipient,
    /// How the store finds that contact and how far it trusts `recipient`.
    pub attribution: Attribution,
    /// What happened.
    pub kind: EventKind,
    /// Hard or soft, for bounces only.
    pub class: Option<BounceClass>,
    /// Why, from the taxonomy in [`Reason`]; set for bounces, `feedback` for complaints.
    pub reason: Option<Reason>,
    /// The enhanced status code (`5.1.1`) where known.
    pub status: Option<String>,
    /// The diagnostic text as the provider or remote server gave it.
    pub diagnostic: Option<String>,
    /// The Message-ID (or provider message id) of the message the event is about.
    pub message_id: Option<String>,
    /// The domain (lower-cased, no local part) of the address the message was sent from,
    /// where the payload names it (see [`crate::address::domain_of`]); never guessed.
    pub sending_domain: Option<String>,
    /// The provider's own id for this event, where it has one.
    pub provider_event_id: Option<String>,
    /// When it happened, according to the provider (else when rebound received it).
    pub occurred_at: Millis,
    /// Uniquely identifies this event across retries of the same delivery: a second event
    /// with the same key changes nothing.
    pub dedup_key: String,
    /// Provider-specific details worth keeping (campaign, feedback type…), as JSON.
    pub details: serde_json::Value,
}

impl Event {
    /// The event as one JSON record, with the field names `rebound parse` and
    /// `rebound webhook parse` print (`details` left out; add it where wanted).
    pub fn to_record(&self) -> serde_json::Value {
        serde_json::json!({
            "recipient": self.recipient.display(),
            "kind": self.kind.as_str(),
            "class": self.class.map(BounceClass::as_str),
            "reason": self.reason.map(Reason::as_str),
            "status": self.status,
            "diagnostic": self.diagnostic,
            "message_id": self.message_id,
            "sending_domain": self.sending_domain,
            "provider_event_id": self.provider_event_id,
            "occurred_at": crate::timestamp::format(self.occurred_at),
            "dedup_key": self.dedup_key,
        })
    }
}

/// Builds a dedup key from the provider and the parts that identify an event when the
/// provider has no event id of its own: a SHA-256 over the parts, so keys stay short.
pub fn hashed_dedup_key(provider: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    format!("{provider}:h:{}", hex::encode(&h.finalize()[..16]))
}

/// The dedup key of an event: the provider's own id where it has one, else a hash of the
/// parts that identify the event.
pub fn dedup_key(provider: &str, id: Option<&str>, parts: &[&str]) -> String {
    match id {
        Some(id) => id_dedup_key(provider, id),
        None => hashed_dedup_key(provider, parts),
    }
}

/// Builds a dedup key from a provider's own event id.
pub fn id_dedup_key(provider: &str, id: &str) -> String {
    format!("{provider}:id:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("bounced"), None);
    }

    #[test]
    fn hashed_keys_separate_parts() {
        assert_ne!(
            hashed_dedup_key("x", &["ab", "c"]),
            hashed_dedup_key("x", &["a", "bc"])
        );
        assert_eq!(hashed_dedup_key("x", &["a"]), hashed_dedup_key("x", &["a"]));
    }
}
