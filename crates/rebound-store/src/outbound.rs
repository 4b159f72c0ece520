//! Outbound webhooks: subscriptions, the durable outbox and the log of delivery attempts.
//!
//! An outbox row is written by [`enqueue`] inside the transaction of the status change that
//! causes it (applying inbox rows, or a change by hand through the API or an import), on
//! every backend: a change is never announced without being stored, nor stored without being
//! announced. Delivering the rows (signing, HTTP, the retry schedule) is the server's.

use rebound_core::{timestamp, BounceClass, Event, EventKind, Millis, Reason, Status};
use serde::{Deserialize, Serialize};

use crate::apply::ApplyRows;
use crate::{ContactChange, Result};

/// The event type of a contact's status change.
pub const STATUS_CHANGED: &str = "contact.status_changed";

/// The prefix of the event types of stored normalized events (`event.bounce`…).
pub const EVENT_PREFIX: &str = "event.";

/// Every stored normalized event, whatever its kind.
pub const ALL_EVENTS: &str = "event.*";

/// Every event type a subscription can ask for (besides `*`, everything): a status change,
/// a stored event of one kind (`event.` and [`EventKind::as_str`]), or of any kind.
pub const EVENT_TYPES: &[&str] = &[
    STATUS_CHANGED,
    ALL_EVENTS,
    "event.bounce",
    "event.deferred",
    "event.complaint",
    "event.unsubscribe",
    "event.delivery",
    "event.open",
    "event.click",
    "event.auto-reply",
    "event.other",
];

/// The event type of a stored event of kind `kind` (`event.bounce`).
pub fn event_type(kind: EventKind) -> String {
    format!("{EVENT_PREFIX}{}", kind.as_str())
}

/// How a subscription's target is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionKind {
    /// The payload as JSON, signed per Standard Webhooks (`whsec_…` secret).
    Webhook,
    /// A forwarder: listmonk's bounce API (`POST …/webhooks/bounce`, HTTP basic auth; the
    /// secret is `username:password`).
    Listmonk,
    /// A forwarder: ToSend's webhook payload (which FluentCRM's toSend bounce handler URL
    /// takes); no secret (the target URL's key is one).
    Tosend,
}

impl SubscriptionKind {
    /// Every kind.
    pub const ALL: &'static [SubscriptionKind] = &[
        SubscriptionKind::Webhook,
        SubscriptionKind::Listmonk,
        SubscriptionKind::Tosend,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionKind::Webhook => "webhook",
            SubscriptionKind::Listmonk => "listmonk",
            SubscriptionKind::Tosend => "tosend",
        }
    }

    /// Whether a target of this kind can be told of a change to `new_status`: a forwarder
    /// speaks a bounce API, which knows bounces and complaints only (no unsubscribe, no
    /// reset to subscribed); a webhook takes every change.
    pub fn carries(self, new_status: Status) -> bool {
        match self {
            SubscriptionKind::Webhook => true,
            SubscriptionKind::Listmonk | SubscriptionKind::Tosend => {
                matches!(new_status, Status::Bounced | Status::Complained)
            }
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<SubscriptionKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    /// Target URL.
    pub url: String,
    /// Kind.
    pub kind: SubscriptionKind,
    /// Event types delivered (`*`: all).
    pub events: Vec<String>,
    /// Only events (and the changes they cause) from these sources (`None`: all).
    pub sources: Option<Vec<i64>>,
    /// The signing secret.
    pub secret: String,
    /// Free text.
    pub description: String,
    /// When.
    pub created_at: Millis,
}

/// A stored subscription. Holds its secrets: never list it as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Id.
    pub id: i64,
    /// Target URL.
    pub url: String,
    /// Kind.
    pub kind: SubscriptionKind,
    /// Event types delivered (`*`: all).
    pub events: Vec<String>,
    /// Only events (and the changes they cause) from these sources (`None`: all).
    pub sources: Option<Vec<i64>>,
    /// The signing secret.
    pub secret: String,
    /// The secret it replaced, still signing beside it until `previous_until`.
    pub previous_secret: Option<String>,
    /// Until when the previous secret signs too.
    pub previous_until: Option<Millis>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Free text.
    pub description: String,
    /// When it was created.
    pub created_at: Millis,
    /// Since when every attempt failed (`None`: the last one succeeded, or none was made).
    pub failing_since: Option<Millis>,
    /// Why it was disabled, when rebound disabled it.
    pub disabled_reason: Option<String>,
}

impl Subscription {
    /// Whether it wants events of type `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        wants(&self.events, event_type)
    }
}

/// Whether an event filter lets `event_type` through: `*` lets everything through,
/// `event.*` every stored event's type.
pub fn wants(events: &[String], event_type: &str) -> bool {
    events.iter().any(|e| {
        e == "*" || e == event_type || (e == ALL_EVENTS && event_type.starts_with(EVENT_PREFIX))
    })
}

/// Whether a source filter lets through what came from source `source_id` (0: a change by
/// hand, which came through no source and is always let through).
pub fn from_source(sources: Option<&[i64]>, source_id: i64) -> bool {
    match sources {
        None => true,
        Some(ids) => source_id == 0 || ids.contains(&source_id),
    }
}

/// An enabled subscription as [`enqueue`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFilter {
    /// Id.
    pub id: i64,
    /// Kind (a forwarder carries only some changes: [`SubscriptionKind::carries`]).
    pub kind: SubscriptionKind,
    /// Event types delivered.
    pub events: Vec<String>,
    /// Sources let through (`None`: all).
    pub sources: Option<Vec<i64>>,
}

impl SubscriptionFilter {
    fn lets(&self, event_type: &str, source_id: i64) -> bool {
        wants(&self.events, event_type) && from_source(self.sources.as_deref(), source_id)
    }
}

/// A stored event, as [`enqueue`] announces it (`event.<kind>`).
#[derive(Debug, Clone)]
pub struct EventNotice<'a> {
    /// The event as normalized.
    pub event: &'a Event,
    /// The stored event's id.
    pub event_id: i64,
    /// The contact it is about (the ordering key).
    pub contact_id: i64,
    /// The contact's address as first spelled.
    pub email: String,
    /// The provider it came through.
    pub provider: &'a str,
    /// The source it came through (0: none).
    pub source_id: i64,
}

/// An outbox row to insert.
#[derive(Debug, Clone)]
pub struct NewOutbox<'a> {
    /// The subscription.
    pub subscription_id: i64,
    /// Stable for the receiver's dedup (`webhook-id`).
    pub message_id: &'a str,
    /// `contact.status_changed`…
    pub event_type: &'a str,
    /// The contact, for per-contact ordering.
    pub contact_id: i64,
    /// The JSON payload, as sent.
    pub payload: &'a str,
    /// When (also when it is first due).
    pub now: Millis,
}

/// A leased outbox row with what delivering it needs.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    /// Outbox row id.
    pub id: i64,
    /// The message id (`webhook-id`).
    pub message_id: String,
    /// The JSON payload.
    pub payload: String,
    /// The attempt about to be made (1 for the first).
    pub attempt: u32,
    /// When the row was written.
    pub created_at: Millis,
    /// The subscription.
    pub subscription: Subscription,
}

/// How an outbox row ends an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxNext {
    /// Delivered.
    Delivered,
    /// Failed this time; due again at this time.
    Retry(Millis),
    /// Failed for good (attempts exhausted, or the subscription is disabled).
    GaveUp,
}

/// One delivery attempt to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// Outbox row.
    pub outbox_id: i64,
    /// Its subscription.
    pub subscription_id: i64,
    /// Which attempt (1 for the first).
    pub attempt: u32,
    /// When it was made.
    pub at: Millis,
    /// The HTTP status answered, if any.
    pub http_status: Option<u16>,
    /// How long it took.
    pub latency_ms: i64,
    /// The start of the response body (at most 1 KiB).
    pub response: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// What becomes of the row.
    pub next: OutboxNext,
    /// Disable the subscription, for this reason.
    pub disable: Option<String>,
}

/// A recorded attempt, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Attempt id (what `redeliver` takes).
    pub id: i64,
    /// The outbox row.
    pub outbox_id: i64,
    /// The message id (`webhook-id`).
    pub message_id: String,
    /// The event type.
    pub event_type: String,
    /// Which attempt.
    pub attempt: u32,
    /// When.
    #[serde(serialize_with = "rebound_core::timestamp::serde_rfc3339::serialize")]
    #[schema(value_type = String)]
    pub attempted_at: Millis,
    /// HTTP status answered.
    pub http_status: Option<u16>,
    /// Latency.
    pub latency_ms: i64,
    /// Start of the response body.
    pub response: Option<String>,
    /// Error.
    pub error: Option<String>,
    /// Whether it succeeded.
    pub ok: bool,
    /// The outbox row's state now: `pending`, `delivered`, `failed`.
    pub state: String,
}

/// What to put back in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// The message of this attempt (delivered or not).
    Delivery(i64),
    /// Every message given up whose last attempt was at or after this time.
    FailedSince(Millis),
}

/// A new message id: `msg_` and 128 random bits.
pub fn new_message_id() -> String {
    format!("msg_{}", hex::encode(rand::random::<[u8; 16]>()))
}

/// The payload of a status change.
pub fn status_change_payload(change: &ContactChange, message_id: &str, now: Millis) -> String {
    serde_json::json!({
        "type": STATUS_CHANGED,
        "id": message_id,
        "timestamp": timestamp::format(now),
        "data": {
            "email": change.email,
            "contact_uuid": change.uuid,
            "old_status": change.old_status.as_str(),
            "new_status": change.new_status.as_str(),
            "reason": change.reason,
            "source": change.provider,
            "source_id": (change.source_id != 0).then_some(change.source_id),
            "event_id": change.event_id,
            "cause": change.cause.as_ref().map(|c| serde_json::json!({
                "kind": c.kind.as_str(),
                "class": c.class.map(|k| k.as_str()),
                "status": c.status,
                "diagnostic": c.diagnostic,
                "message_id": c.message_id,
            })),
        }
    })
    .to_string()
}

/// The payload of a stored event (`event.bounce`…).
pub fn event_payload(n: &EventNotice<'_>, message_id: &str, now: Millis) -> String {
    let e = n.event;
    serde_json::json!({
        "type": event_type(e.kind),
        "id": message_id,
        "timestamp": timestamp::format(now),
        "data": {
            "event_id": n.event_id,
            "email": n.email,
            "kind": e.kind.as_str(),
            "class": e.class.map(BounceClass::as_str),
            "reason": e.reason.map(Reason::as_str),
            "status": e.status,
            "diagnostic": e.diagnostic,
            "message_id": e.message_id,
            "provider": n.provider,
            "source": (n.source_id != 0).then_some(n.source_id),
            "occurred_at": timestamp::format(e.occurred_at),
        }
    })
    .to_string()
}

/// Writes, inside the caller's transaction, one outbox row per stored event and enabled
/// webhook subscription that wants it (forwarders take status changes only), and one per
/// status change and enabled subscription that wants it and can carry it; returns how many.
/// Each change follows the event that caused it (`changes` in the order of `events`, as
/// `apply` makes them), so a contact's messages are queued in the order they happened.
pub fn enqueue(
    rows: &mut impl ApplyRows,
    events: &[EventNotice<'_>],
    changes: &[ContactChange],
    now: Millis,
) -> Result<u64> {
    if changes.is_empty() && events.is_empty() {
        return Ok(0);
    }
    let subs = rows.outbox_subscriptions()?;
    if subs.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    let mut next_change = changes.iter().peekable();
    for e in events {
        let kind = event_type(e.event.kind);
        let wanting: Vec<i64> = subs
            .iter()
            .filter(|s| s.kind == SubscriptionKind::Webhook && s.lets(&kind, e.source_id))
            .map(|s| s.id)
            .collect();
        if !wanting.is_empty() {
            let message_id = new_message_id();
            let payload = event_payload(e, &message_id, now);
            for id in wanting {
                rows.insert_outbox(&NewOutbox {
                    subscription_id: id,
                    message_id: &message_id,
                    event_type: &kind,
                    contact_id: e.contact_id,
                    payload: &payload,
                    now,
                })?;
                n += 1;
            }
        }
        while let Some(change) = next_change.next_if(|c| c.event_id == e.event_id) {
            n += enqueue_change(rows, &subs, change, now)?;
        }
    }
    for change in next_change {
        n += enqueue_change(rows, &subs, change, now)?;
    }
    Ok(n)
}

fn enqueue_change(
    rows: &mut impl ApplyRows,
    subs: &[SubscriptionFilter],
    change: &ContactChange,
    now: Millis,
) -> Result<u64> {
    let wanting: Vec<i64> = subs
        .iter()
        .filter(|s| s.kind.carries(change.new_status) && s.lets(STATUS_CHANGED, change.source_id))
        .map(|s| s.id)
        .collect();
    if wanting.is_empty() {
        return Ok(0);
    }
    let message_id = new_message_id();
    let payload = status_change_payload(change, &message_id, now);
    for &id in &wanting {
        rows.insert_outbox(&NewOutbox {
            subscription_id: id,
            message_id: &message_id,
            event_type: STATUS_CHANGED,
            contact_id: change.contact_id,
            payload: &payload,
            now,
        })?;
    }
    Ok(wanting.len() as u64)
}

/// Parses a stored event filter (a JSON array of strings).
pub(crate) fn parse_events(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// Parses a stored source filter (NULL, or a JSON array of ids).
pub(crate) fn parse_sources(s: Option<&str>) -> Option<Vec<i64>> {
    s.and_then(|s| serde_json::from_str(s).ok())
}

/// The stored text of a source filter.
pub(crate) fn sources_text(sources: Option<&[i64]>) -> Option<String> {
    sources.map(|ids| serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
}

/// The stored text of an event filter.
pub(crate) fn events_text(events: &[String]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

/// Retention of the outbox, one batch of each (both backends): the delivery attempts of
/// messages delivered or given up, older than the cut-off, the oldest first; then such
/// messages last changed before it whose attempts are all gone. Pending messages and their
/// attempts are never pruned.
pub(crate) const PRUNE_DELIVERIES: &str = "DELETE FROM deliveries WHERE id IN (
     SELECT d.id FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
     WHERE d.attempted_at < $1 AND o.state IN ('delivered', 'failed')
     ORDER BY d.id LIMIT $2)";
pub(crate) const PRUNE_OUTBOX: &str = "DELETE FROM outbox WHERE id IN (
     SELECT o.id FROM outbox o
     WHERE o.updated_at < $1 AND o.state IN ('delivered', 'failed')
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.outbox_id = o.id)
     ORDER BY o.id LIMIT $2)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_has_an_event_type() {
        let mut want = vec![STATUS_CHANGED.to_string(), ALL_EVENTS.to_string()];
        want.extend(EventKind::ALL.into_iter().map(event_type));
        assert_eq!(
            EVENT_TYPES,
            want.iter().map(String::as_str).collect::<Vec<_>>()
        );
    }

    #[test]
    fn filters_let_through_what_they_name() {
        let ev = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wants(&ev(&["*"]), "event.bounce"));
        assert!(wants(&ev(&["event.*"]), "event.bounce"));
        assert!(!wants(&ev(&["event.*"]), STATUS_CHANGED));
        assert!(!wants(&ev(&["event.delivery"]), "event.bounce"));
        assert!(from_source(None, 3));
        assert!(from_source(Some(&[3]), 3));
        assert!(!from_source(Some(&[2]), 3));
        assert!(from_source(Some(&[2]), 0));
    }
}
