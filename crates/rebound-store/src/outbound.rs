//! Outbound webhooks: subscriptions, the durable outbox and the log of delivery attempts.
//!
//! An outbox row is written by [`enqueue`] inside the transaction of the status change that
//! causes it (applying inbox rows, or a change by hand through the API or an import), on
//! every backend: a change is never announced without being stored, nor stored without being
//! announced. Delivering the rows (signing, HTTP, the retry schedule) is the server's.

use rebound_core::{timestamp, Millis, Status};
use serde::{Deserialize, Serialize};

use crate::apply::ApplyRows;
use crate::{ContactChange, Result};

/// The event type of a contact's status change.
pub const STATUS_CHANGED: &str = "contact.status_changed";

/// Every event type a subscription can ask for.
pub const EVENT_TYPES: &[&str] = &[STATUS_CHANGED];

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

/// Whether an event filter lets `event_type` through.
pub fn wants(events: &[String], event_type: &str) -> bool {
    events.iter().any(|e| e == "*" || e == event_type)
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

/// Writes one outbox row per status change and enabled subscription that wants it, inside
/// the caller's transaction; returns how many.
pub fn enqueue(rows: &mut impl ApplyRows, changes: &[ContactChange], now: Millis) -> Result<u64> {
    if changes.is_empty() {
        return Ok(0);
    }
    let subs: Vec<SubscriptionFilter> = rows
        .outbox_subscriptions()?
        .into_iter()
        .filter(|s| wants(&s.events, STATUS_CHANGED))
        .collect();
    if subs.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    for change in changes {
        let message_id = new_message_id();
        let payload = status_change_payload(change, &message_id, now);
        for s in subs.iter().filter(|s| s.kind.carries(change.new_status)) {
            rows.insert_outbox(&NewOutbox {
                subscription_id: s.id,
                message_id: &message_id,
                event_type: STATUS_CHANGED,
                contact_id: change.contact_id,
                payload: &payload,
                now,
            })?;
            n += 1;
        }
    }
    Ok(n)
}

/// Parses a stored event filter (a JSON array of strings).
pub(crate) fn parse_events(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
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
