//! Records the store reads and writes.

use rebound_core::timestamp::serde_rfc3339 as ts;
use rebound_core::{Event, EventKind, Millis, Status};
use serde::Serialize;

/// A request accepted for the inbox.
#[derive(Debug, Clone)]
pub struct NewInbox {
    /// The source it came through.
    pub source_id: i64,
    /// The provider name (`tosend`, …).
    pub provider: String,
    /// When it was received.
    pub received_at: Millis,
    /// The headers kept for replay (names lower-case).
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

/// A leased inbox row, ready to normalize.
#[derive(Debug, Clone)]
pub struct InboxRow {
    /// Inbox id.
    pub id: i64,
    /// Source id.
    pub source_id: i64,
    /// Provider name.
    pub provider: String,
    /// When it was received.
    pub received_at: Millis,
    /// Headers kept.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
    /// Attempts so far, including this one.
    pub attempts: u32,
}

/// The worker's verdict on one inbox row.
#[derive(Debug, Clone)]
pub struct Processed {
    /// Inbox id.
    pub inbox_id: i64,
    /// Source id (recorded on the events).
    pub source_id: i64,
    /// Provider name (recorded on the events).
    pub provider: String,
    /// The events, or why normalization failed.
    pub outcome: Result<Vec<Event>, String>,
    /// Attempts so far (from the claim).
    pub attempts: u32,
    /// After this many attempts a failing row is marked `failed`.
    pub max_attempts: u32,
    /// When to try again if this attempt failed.
    pub retry_at: Millis,
}

/// A contact whose status an applied event changed (raised by the policy, or, rarely,
/// lowered by the re-fold of an event that arrived late).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactChange {
    /// The contact's id.
    pub contact_id: i64,
    /// Its UUID.
    pub uuid: String,
    /// Its address as first spelled.
    pub email: String,
    /// The status before the event.
    pub old_status: Status,
    /// The status after it.
    pub new_status: Status,
    /// The contact's reason after it (`None` when no longer suppressed).
    pub reason: Option<String>,
    /// The stored event that changed it.
    pub event_id: i64,
    /// The source the event came through.
    pub source_id: i64,
    /// The inbox row the event came from (0 for a change by hand).
    pub inbox_id: i64,
    /// The provider the event came through (`api`, `import` for a change by hand).
    pub provider: String,
    /// What the event that changed it said (`None` for a change by hand).
    pub cause: Option<Box<ChangeCause>>,
}

/// The facts of the event behind a status change that outbound payloads carry (forwarders
/// into other systems need the bounce class and the diagnostic, not only the new status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeCause {
    /// `bounce`, `complaint`, `unsubscribe`…
    pub kind: EventKind,
    /// `hard` or `soft`, for a bounce.
    pub class: Option<rebound_core::BounceClass>,
    /// The enhanced status code (`5.1.1`).
    pub status: Option<String>,
    /// The receiving server's diagnostic.
    pub diagnostic: Option<String>,
    /// The Message-ID of the message concerned.
    pub message_id: Option<String>,
}

impl ChangeCause {
    /// The facts of `e`.
    pub fn of(e: &Event) -> ChangeCause {
        ChangeCause {
            kind: e.kind,
            class: e.class,
            status: e.status.clone(),
            diagnostic: e.diagnostic.clone(),
            message_id: e.message_id.clone(),
        }
    }
}

/// What an [`crate::Store::apply`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Rows marked done.
    pub done: u64,
    /// Rows scheduled for another attempt.
    pub retried: u64,
    /// Rows marked failed for good.
    pub failed: u64,
    /// Events stored.
    pub events: u64,
    /// Events stored, by kind: `by_kind[i]` counts `EventKind::ALL[i]` (they add up to
    /// `events`).
    pub by_kind: [u64; EventKind::ALL.len()],
    /// Events skipped as duplicates.
    pub duplicates: u64,
    /// Contacts whose status changed.
    pub status_changes: u64,
    /// Events not applied because their recipient had to be a known contact and was not.
    pub unmatched: u64,
    /// Rows left alone because they were no longer pending: another worker took them over
    /// when this one's lease expired, and finished them first.
    pub stale: u64,
    /// Every status change, in the order applied (one per event that changed a status;
    /// `status_changes` counts them).
    pub changes: Vec<ContactChange>,
}

impl ApplyReport {
    /// Counts one stored event of `kind`.
    pub fn count_stored(&mut self, kind: EventKind) {
        self.events += 1;
        if let Some(i) = EventKind::ALL.iter().position(|k| *k == kind) {
            self.by_kind[i] += 1;
        }
    }

    /// Events stored of each kind, every kind listed (zeros included).
    pub fn stored_by_kind(&self) -> impl Iterator<Item = (EventKind, u64)> + '_ {
        EventKind::ALL
            .iter()
            .copied()
            .zip(self.by_kind.iter().copied())
    }

    /// Adds what another apply did to this one (its changes after these).
    pub fn absorb(&mut self, r: ApplyReport) {
        self.done += r.done;
        self.retried += r.retried;
        self.failed += r.failed;
        self.events += r.events;
        for (n, m) in self.by_kind.iter_mut().zip(r.by_kind) {
            *n += m;
        }
        self.duplicates += r.duplicates;
        self.status_changes += r.status_changes;
        self.unmatched += r.unmatched;
        self.stale += r.stale;
        self.changes.extend(r.changes);
    }
}

/// A fetched mailbox message to store.
#[derive(Debug, Clone)]
pub struct MailItem {
    /// Its id on the server (POP3 UIDL, IMAP `UIDVALIDITY:UID`).
    pub uid: String,
    /// The parser's verdict.
    pub is_bounce: bool,
    /// The inbox row.
    pub item: NewInbox,
    /// Its request-log fields.
    pub log: NewLogEntry,
}

/// What storing a fetched mailbox message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailStored {
    /// The inbox row holding the message.
    pub inbox_id: Option<i64>,
    /// The verdict the message was first stored with.
    pub is_bounce: bool,
    /// False when the message had been stored before.
    pub new: bool,
}

/// Inbox rows by state.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct InboxCounts {
    /// Waiting to be processed (including those waiting for a retry).
    pub pending: u64,
    /// Processed.
    pub done: u64,
    /// Failed after every attempt.
    pub failed: u64,
}

/// Contacts per status (each status present, 0 when none has it).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StatusCounts {
    /// Subscribed.
    pub subscribed: u64,
    /// Unsubscribed.
    pub unsubscribed: u64,
    /// Bounced.
    pub bounced: u64,
    /// Complained.
    pub complained: u64,
}

impl StatusCounts {
    /// All contacts.
    pub fn total(&self) -> u64 {
        self.subscribed + self.unsubscribed + self.bounced + self.complained
    }

    /// Adds `n` contacts of status `status` (the stored name); an unknown name is ignored.
    pub fn add(&mut self, status: &str, n: u64) {
        match Status::parse(status) {
            Some(Status::Subscribed) => self.subscribed += n,
            Some(Status::Unsubscribed) => self.unsubscribed += n,
            Some(Status::Bounced) => self.bounced += n,
            Some(Status::Complained) => self.complained += n,
            None => {}
        }
    }
}

/// How many events of one kind a source had in one hour (UTC), sent from one domain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HourCount {
    /// The hour, as the time it starts.
    pub hour: Millis,
    /// The source (`None`: events not tied to one, e.g. a one-off mailbox scan).
    pub source_id: Option<i64>,
    /// Event kind (`bounce`, `complaint`…).
    pub kind: String,
    /// The domain the messages were sent from, where the payload named it.
    pub sending_domain: Option<String>,
    /// How many.
    pub count: u64,
}

/// Events counted per hour, source and kind, up to an event id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourlyCounts {
    /// The newest event id when counted: a later count starts after it.
    pub upto_id: i64,
    /// The counts.
    pub rows: Vec<HourCount>,
}

/// A source's requests over a window.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SourceTraffic {
    /// The source.
    pub source_id: i64,
    /// Requests accepted (stored) in the window.
    pub accepted: u64,
    /// Requests rejected in the window (bad key, signature, body…).
    pub rejected: u64,
    /// When its last accepted request arrived, ever.
    pub last_received_at: Option<Millis>,
}

/// How many events of one kind a source had (over some window).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SourceKindCount {
    /// The source (`None`: events not tied to one, e.g. a one-off mailbox scan).
    pub source_id: Option<i64>,
    /// `delivery`, `bounce` or `complaint`.
    pub kind: String,
    /// How many.
    pub count: u64,
}

/// How many events of one kind had one sending domain (over some window).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DomainKindCount {
    /// The domain the messages were sent from, lower-cased.
    pub domain: String,
    /// `delivery`, `bounce` or `complaint`.
    pub kind: String,
    /// How many.
    pub count: u64,
}

/// A day in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

/// A source to create.
#[derive(Debug, Clone)]
pub struct NewSource {
    /// Provider name.
    pub provider: String,
    /// Display name.
    pub name: String,
    /// The URL key (≥128 random bits).
    pub key: String,
    /// The signing secret, for providers that sign.
    pub secret: Option<String>,
    /// Provider-specific settings (`signature_header`, …).
    pub config: serde_json::Value,
    /// Creation time.
    pub created_at: Millis,
}

/// A configured source of events.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// Id.
    pub id: i64,
    /// Provider name.
    pub provider: String,
    /// Display name.
    pub name: String,
    /// The URL key.
    pub key: String,
    /// The signing secret.
    pub secret: Option<String>,
    /// Provider-specific settings.
    pub config: serde_json::Value,
    /// `active`, or a state that explains a problem.
    pub status: String,
    /// A message for the user about the status.
    pub status_message: Option<String>,
    /// Creation time.
    #[serde(serialize_with = "ts::serialize")]
    pub created_at: Millis,
}

/// A request log entry to write.
#[derive(Debug, Clone, Default)]
pub struct NewLogEntry {
    /// When the request arrived.
    pub received_at: Millis,
    /// The source, when the key matched one.
    pub source_id: Option<i64>,
    /// The provider named in the path.
    pub provider: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path, with the URL key redacted.
    pub path: String,
    /// Peer address.
    pub remote_addr: Option<String>,
    /// The status code answered.
    pub http_status: u16,
    /// `accepted` or `rejected`.
    pub outcome: String,
    /// Why it was rejected.
    pub error: Option<String>,
}

/// What was stored of an accepted request: its headers (credentials are never stored) and
/// raw body, to show as text.
#[derive(Debug, Clone, Default)]
pub struct RawRequest {
    /// Header names and values, as received.
    pub headers: Vec<(String, String)>,
    /// The body as received (empty for rejected requests and erased bodies).
    pub body: Vec<u8>,
}

/// A request log entry with its processing state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LogEntry {
    /// Id (used for replay).
    pub id: i64,
    /// When the request arrived.
    #[serde(serialize_with = "ts::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: Millis,
    /// Source id.
    pub source_id: Option<i64>,
    /// Provider.
    pub provider: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path (key redacted).
    pub path: String,
    /// Peer address.
    pub remote_addr: Option<String>,
    /// Status code answered.
    pub http_status: u16,
    /// `accepted` or `rejected`.
    pub outcome: String,
    /// Rejection reason.
    pub error: Option<String>,
    /// The inbox row, for accepted requests.
    pub inbox_id: Option<i64>,
    /// `pending`, `done` or `failed` for accepted requests.
    pub processing: Option<String>,
    /// Attempts made.
    pub attempts: Option<u32>,
    /// The last processing error.
    pub processing_error: Option<String>,
    /// Events the request produced.
    pub events: Option<u32>,
}

/// A contact to create or overwrite.
#[derive(Debug, Clone)]
pub struct NewContact {
    /// The address as spelled.
    pub email: String,
    /// Normalized address.
    pub email_key: String,
    /// Status (default subscribed).
    pub status: Option<Status>,
    /// Reason, for a suppressed status.
    pub reason: Option<String>,
    /// UUID to keep (e.g. from a listmonk export); generated when absent.
    pub uuid: Option<String>,
    /// Free-form attributes.
    pub attributes: serde_json::Value,
    /// When.
    pub now: Millis,
}

/// A manual change to a contact.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    /// New status.
    pub status: Option<Status>,
    /// Reason for it.
    pub reason: Option<String>,
    /// Attributes to merge (a `null` value removes the key).
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Who asks, for the timeline (`api` when not said): `admin token`, `key:3 (ops)`,
    /// `user ann@example.com`.
    pub by: Option<String>,
}

impl ContactPatch {
    /// The attributes the contact has after this patch: `old` with the patch merged in.
    pub fn merged_attributes(
        &self,
        old: &serde_json::Value,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut attrs = old.as_object().cloned().unwrap_or_default();
        for (k, v) in self.attributes.iter().flatten() {
            if v.is_null() {
                attrs.remove(k);
            } else {
                attrs.insert(k.clone(), v.clone());
            }
        }
        attrs
    }

    /// The status and reason the contact has after this patch: a status set by hand keeps
    /// its reason (`manual` when none is given); a reason only goes with a suppressed status.
    pub fn status_and_reason(&self, old: &Contact) -> (Status, Option<String>) {
        let status = self.status.unwrap_or(old.status);
        let reason = if self.status.is_some() {
            self.reason
                .clone()
                .or_else(|| status.is_suppressed().then(|| "manual".to_string()))
        } else {
            old.reason.clone()
        };
        (status, reason.filter(|_| status.is_suppressed()))
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertReport {
    /// Created.
    pub created: u64,
    /// Updated (with `overwrite`).
    pub updated: u64,
    /// Left as they were (existing, without `overwrite`).
    pub unchanged: u64,
}

/// A contact.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    /// Id.
    #[serde(skip)]
    pub id: i64,
    /// UUID (listmonk's `subscriber_uuid` when imported from it).
    pub uuid: String,
    /// Address as first spelled.
    pub email: String,
    /// Status.
    #[schema(value_type = String, example = "bounced")]
    pub status: Status,
    /// Reason for the status.
    pub reason: Option<String>,
    /// Whether the sending side must skip this address.
    pub suppressed: bool,
    /// Soft bounces counted toward the threshold.
    pub soft_bounce_count: u32,
    /// Times of those soft bounces (kept for the policy).
    #[serde(skip)]
    pub soft_bounces: Vec<Millis>,
    /// Last event of any kind.
    #[serde(serialize_with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_event_at: Option<Millis>,
    /// Last delivery.
    #[serde(serialize_with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_delivered_at: Option<Millis>,
    /// Last open or click.
    #[serde(serialize_with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_engaged_at: Option<Millis>,
    /// Free-form attributes.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    /// Creation.
    #[serde(serialize_with = "ts::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    /// Last change.
    #[serde(serialize_with = "ts::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

/// A stored event, with what it did to the contact.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// Id.
    pub id: i64,
    /// The contact's address.
    pub email: String,
    /// Source id (absent for manual changes).
    pub source_id: Option<i64>,
    /// Provider name, or `api` / `import` for manual changes.
    pub provider: String,
    /// Kind.
    pub kind: String,
    /// `hard` / `soft` for bounces.
    pub class: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Enhanced status code.
    pub status: Option<String>,
    /// Diagnostic text.
    pub diagnostic: Option<String>,
    /// Message id.
    pub message_id: Option<String>,
    /// The domain the message was sent from, where the event named it.
    pub sending_domain: Option<String>,
    /// Provider's event id.
    pub provider_event_id: Option<String>,
    /// When it happened.
    #[serde(serialize_with = "ts::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: Millis,
    /// When rebound recorded it.
    #[serde(serialize_with = "ts::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: Millis,
    /// Contact status before.
    pub status_before: Option<String>,
    /// Contact status after.
    pub status_after: Option<String>,
    /// What the policy did.
    pub note: Option<String>,
    /// Provider-specific details.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// The inbox row it came from.
    pub inbox_id: Option<i64>,
}

/// One page of a list, with the cursor of the next.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// Items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Contact list filter.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Substring of the address.
    pub q: Option<String>,
    /// Only this reason (`userunknown`, `feedback`, `manual`…).
    pub reason: Option<String>,
    /// Only contacts with an event from this source.
    pub source_id: Option<i64>,
    /// Only contacts whose last event happened at or after this.
    pub since: Option<Millis>,
    /// Only contacts whose last event happened before this.
    pub until: Option<Millis>,
    /// Page size.
    pub limit: u32,
    /// From the previous page.
    pub cursor: Option<String>,
}

/// Event list filter.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Normalized address.
    pub email_key: Option<String>,
    /// Kind name.
    pub kind: Option<String>,
    /// Source id.
    pub source_id: Option<i64>,
    /// Page size.
    pub limit: u32,
    /// From the previous page.
    pub cursor: Option<String>,
}

/// Request log filter.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// `accepted` or `rejected`.
    pub outcome: Option<String>,
    /// `pending`, `done` or `failed`.
    pub processing: Option<String>,
    /// Source id.
    pub source_id: Option<i64>,
    /// Only HTTP statuses from this one (inclusive).
    pub status_min: Option<u16>,
    /// Only HTTP statuses up to this one (inclusive).
    pub status_max: Option<u16>,
    /// Only requests received at or after this time.
    pub since: Option<Millis>,
    /// Only requests received before this time.
    pub until: Option<Millis>,
    /// Page size.
    pub limit: u32,
    /// From the previous page.
    pub cursor: Option<String>,
}

/// Rejected requests of one minute with the same source, status and error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RejectionCount {
    /// The minute, as the time it starts.
    #[serde(serialize_with = "ts::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub minute: Millis,
    /// The source the URL key matched, if any.
    pub source_id: Option<i64>,
    /// The provider named in the path, if it is one.
    pub provider: Option<String>,
    /// The status answered.
    pub http_status: u16,
    /// Why (bounded in length).
    pub error: String,
    /// How many.
    pub count: u64,
}

/// What one pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Request-log rows (with their raw bodies) of processed and rejected requests.
    pub requests: u64,
    /// Rejection counts.
    pub rejection_counts: u64,
    /// Outbound messages delivered or given up (never pending ones).
    pub outbox: u64,
    /// Delivery attempts of such messages.
    pub deliveries: u64,
}

impl PruneReport {
    /// Rows removed, all tables together.
    pub fn total(&self) -> u64 {
        self.requests + self.rejection_counts + self.outbox + self.deliveries
    }

    /// Whether some table had a full batch to remove (there may be more).
    pub fn full(&self, batch: u32) -> bool {
        let b = u64::from(batch);
        [
            self.requests,
            self.rejection_counts,
            self.outbox,
            self.deliveries,
        ]
        .iter()
        .any(|n| *n >= b)
    }

    /// Adds another pass's counts.
    pub fn add(&mut self, other: &PruneReport) {
        self.requests += other.requests;
        self.rejection_counts += other.rejection_counts;
        self.outbox += other.outbox;
        self.deliveries += other.deliveries;
    }
}
