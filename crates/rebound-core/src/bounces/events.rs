//! Bounce records → events, with the recipient-matching rules of mailbox sources.
//!
//! In order: a signed VERP return path (verified when the message was fetched) names the
//! recipient and is always trusted ([`Attribution::Recipient`]); then the store matches the
//! returned Message-ID to a send it has seen (an event of a webhook source) and applies the
//! bounce to that contact; otherwise the report's own recipients are used as the source's
//! trust setting allows: `verp` (nothing but VERP may change a contact), `known-contact` (the
//! default: the recipient must already be a contact, so a forged DSN about an arbitrary
//! address changes nothing — the store enforces it), or `any`. The last two are
//! [`Attribution::Reported`], which the store reads; `details` only shows the same for people.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::BounceRecord;
use crate::address::domain_of;
use crate::event::hashed_dedup_key;
use crate::{Address, Attribution, Event, EventKind, Millis, Recipient};

/// How far a mailbox source trusts the recipients a bounce names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trust {
    /// Only signed VERP return paths change contacts.
    Verp,
    /// The named recipient must already be a contact.
    #[default]
    KnownContact,
    /// Any named recipient (creates contacts).
    Any,
}

impl Trust {
    /// `verp`, `known-contact` or `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Verp => "verp",
            Trust::KnownContact => "known-contact",
            Trust::Any => "any",
        }
    }

    /// Parses a trust setting.
    pub fn parse(s: &str) -> Option<Trust> {
        [Trust::Verp, Trust::KnownContact, Trust::Any]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// The `details` key that shows whether an event applies only to an existing contact. For
/// display: the store reads [`Attribution::Reported`], set alongside.
pub const KNOWN_CONTACTS_ONLY: &str = "known_contacts_only";

/// What the matching decided, for the summary and the log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matched {
    /// Events to apply.
    pub events: Vec<Event>,
    /// Recipients the report named that the trust setting did not allow.
    pub unmatched: Vec<String>,
}

/// The events a fetched bounce message gives.
pub fn to_events(
    raw: &[u8],
    records: &[BounceRecord],
    verp: Option<&Address>,
    trust: Trust,
    received_at: Millis,
) -> Matched {
    let digest = hex::encode(Sha256::digest(raw));
    let mut out = Matched::default();
    // `by`: `verp` (a signed return path: trusted) or `recipient` (named by the report).
    let event = |r: &BounceRecord, to: &Address, by: &str, known_only: bool| Event {
        recipient: Recipient::Email(to.clone()),
        attribution: if by == "verp" {
            Attribution::Recipient
        } else {
            Attribution::Reported {
                known_contacts_only: known_only,
            }
        },
        kind: r.kind,
        class: r.class,
        reason: Some(r.reason),
        status: r.status.clone(),
        diagnostic: r.diagnostic.clone(),
        message_id: r.message_id.clone(),
        // The returned message's own From: header, where the report includes it.
        sending_domain: r
            .original_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("from"))
            .and_then(|(_, v)| domain_of(v)),
        provider_event_id: None,
        occurred_at: received_at,
        dedup_key: hashed_dedup_key("mailbox", &[&digest, to.key(), r.kind.as_str()]),
        details: json!({
            "mta": r.mta,
            "reply_code": r.reply_code,
            "remote_mta": r.remote_mta,
            "smtp_command": r.smtp_command,
            "feedback_type": r.feedback_type,
            "reported_recipient": r.recipient,
            "matched_by": by,
            KNOWN_CONTACTS_ONLY: known_only,
        }),
    };
    if let Some(to) = verp {
        // The return path names one recipient: the record about it, else the first one.
        let r = records
            .iter()
            .find(|r| {
                r.recipient
                    .as_deref()
                    .and_then(|a| Address::parse(a).ok())
                    .is_some_and(|a| a.key() == to.key())
            })
            .or_else(|| records.first());
        if let Some(r) = r {
            out.events.push(event(r, to, "verp", false));
        }
        return out;
    }
    for r in records {
        let parsed = r.recipient.as_deref().and_then(|a| Address::parse(a).ok());
        match (parsed, trust) {
            (Some(a), Trust::Any) => out.events.push(event(r, &a, "recipient", false)),
            (Some(a), Trust::KnownContact) => out.events.push(event(r, &a, "recipient", true)),
            (Some(a), Trust::Verp) => out.unmatched.push(a.as_str().to_string()),
            (None, _) => out
                .unmatched
                .push(r.recipient.clone().unwrap_or_else(|| "(none)".into())),
        }
    }
    out
}

/// Whether a message counts as a bounce for the mailbox (deleted or moved after storing):
/// bounces, delays and complaints do; auto-replies, deliveries and human mail do not.
pub fn is_bounce(records: &[BounceRecord]) -> bool {
    records.iter().any(|r| {
        matches!(
            r.kind,
            EventKind::Bounce | EventKind::Deferred | EventKind::Complaint
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dsn(rcpt: &str) -> Vec<u8> {
        format!(
            "From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail Returned to Sender\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\n\
Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; {rcpt}\nAction: failed\n\
Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown (in reply to RCPT TO command)\n\n--B--\n"
        )
        .into_bytes()
    }

    #[test]
    fn trust_settings() {
        let raw = dsn("a@example.org");
        let recs = super::super::parse(&raw);
        let any = to_events(&raw, &recs, None, Trust::Any, 1);
        assert_eq!(any.events.len(), 1);
        assert_eq!(any.events[0].details[KNOWN_CONTACTS_ONLY], false);
        assert_eq!(
            any.events[0].attribution,
            Attribution::Reported {
                known_contacts_only: false
            }
        );
        let known = to_events(&raw, &recs, None, Trust::KnownContact, 1);
        assert_eq!(known.events[0].details[KNOWN_CONTACTS_ONLY], true);
        assert_eq!(
            known.events[0].attribution,
            Attribution::Reported {
                known_contacts_only: true
            }
        );
        let verp_only = to_events(&raw, &recs, None, Trust::Verp, 1);
        assert!(verp_only.events.is_empty());
        assert_eq!(verp_only.unmatched, vec!["a@example.org".to_string()]);
        let v = Address::parse("b@example.org").expect("address");
        let by_verp = to_events(&raw, &recs, Some(&v), Trust::Verp, 1);
        assert_eq!(by_verp.events.len(), 1);
        assert_eq!(by_verp.events[0].recipient.display(), "b@example.org");
        assert_eq!(by_verp.events[0].attribution, Attribution::Recipient);
        assert!(is_bounce(&recs));
        // The same bytes give the same keys: a message fetched twice counts once.
        assert_eq!(
            any.events[0].dedup_key,
            to_events(&raw, &recs, None, Trust::Any, 9).events[0].dedup_key
        );
        // No returned message: no sending domain (the report's own From is the MTA's).
        assert_eq!(any.events[0].sending_domain, None);
    }

    #[test]
    fn sending_domain_is_the_returned_messages_from() {
        let raw = b"From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\n\
Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@example.org\n\
Action: failed\nStatus: 5.1.1\n\n--B\nContent-Type: text/rfc822-headers\n\n\
From: \"News, Weekly\" <news@Mail.Sender.example>\nTo: a@example.org\n\
Message-ID: <m1@sender.example>\n\n--B--\n";
        let recs = super::super::parse(raw);
        let got = to_events(raw, &recs, None, Trust::Any, 1);
        assert_eq!(got.events.len(), 1);
        assert_eq!(
            got.events[0].sending_domain.as_deref(),
            Some("mail.sender.example")
        );
    }
}
