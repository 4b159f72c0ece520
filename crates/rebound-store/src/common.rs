//! What both backends read and write the same way: column lists, JSON text, paging, the
//! shape of a log entry. The SQL dialects differ; these do not.

use rebound_core::Millis;

use crate::{DomainKindCount, LogEntry, Page, Result, SourceKindCount, StoreError};

/// The columns of a [`crate::Source`], in the order the row readers take them.
pub(crate) const SOURCE_COLS: &str =
    "id, provider, name, url_key, secret, config, status, status_message, created_at";

/// The columns of a [`crate::Contact`], in the order the row readers take them.
pub(crate) const CONTACT_COLS: &str = "id, uuid, email, status, reason, soft_bounce_count, soft_bounces, last_event_at, last_delivered_at, last_engaged_at, attributes, created_at, updated_at";

/// The columns of an [`crate::apply::ContactRow`] (a contact's policy state), in order.
pub(crate) const CONTACT_STATE_COLS: &str = "id, uuid, email, status, reason, soft_bounces, last_event_at,
    last_delivered_at, last_engaged_at, last_policy_event_at, manual_at, manual_status, manual_reason";

/// The timeline note of a status set by hand (or by an import): who, from what, to what.
pub(crate) fn manual_note(
    by: &str,
    before: rebound_core::Status,
    after: rebound_core::Status,
) -> String {
    format!(
        "status set by {by}: {} → {}",
        before.as_str(),
        after.as_str()
    )
}
/// Contacts per status: one pass over the `contacts_status` index, no table rows read.
pub(crate) const STATUS_COUNTS_SQL: &str = "SELECT status, COUNT(*) FROM contacts GROUP BY status";

/// The newest event id (0 when there is none): where [`HOURLY_EVENTS_SQL`] stops.
pub(crate) const NEWEST_EVENT_SQL: &str = "SELECT COALESCE(MAX(id), 0) FROM events";

/// Events per hour, source, kind and sending domain since $1 with ids in ($2, $3]. A first
/// count ($2 = 0) reads the `(occurred_at, kind, source_id, sending_domain)` index range; a
/// later one the id range only (`+occurred_at` keeps SQLite from taking the time index).
pub(crate) const HOURLY_EVENTS_SQL: &str =
    "SELECT (occurred_at / 3600000) * 3600000 AS hour, source_id, kind, sending_domain, COUNT(*)
     FROM events WHERE occurred_at >= $1 AND id > $2 AND id <= $3
     GROUP BY hour, source_id, kind, sending_domain";
pub(crate) const HOURLY_EVENTS_AFTER_SQL: &str =
    "SELECT (occurred_at / 3600000) * 3600000 AS hour, source_id, kind, sending_domain, COUNT(*)
     FROM events WHERE +occurred_at >= $1 AND id > $2 AND id <= $3
     GROUP BY hour, source_id, kind, sending_domain";

/// Each source's accepted requests since $1 and its last one ever (through the partial
/// `inbox_source_received` index), and its rejected requests since $1 (counted per minute).
pub(crate) const SOURCE_TRAFFIC_SQL: &str = "SELECT s.id,
     (SELECT COUNT(*) FROM inbox i
       WHERE i.source_id = s.id AND i.received_at >= $1 AND i.state <> 'logged'),
     (SELECT MAX(i.received_at) FROM inbox i WHERE i.source_id = s.id AND i.state <> 'logged'),
     (SELECT CAST(COALESCE(SUM(r.count), 0) AS BIGINT) FROM rejection_counts r
       WHERE r.minute >= $1 AND r.source_id = s.id)
     FROM sources s ORDER BY s.id";

pub(crate) fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// A JSON column's text (`{}` for null).
pub(crate) fn json_text(v: &serde_json::Value) -> String {
    if v.is_null() {
        "{}".into()
    } else {
        v.to_string()
    }
}

/// A JSON column read back (`{}` when absent or not JSON).
pub(crate) fn parse_json(s: Option<String>) -> serde_json::Value {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| serde_json::json!({}))
}

/// The id a listing cursor stands for.
pub(crate) fn cursor_id(cursor: &Option<String>) -> Result<Option<i64>> {
    match cursor.as_deref() {
        None | Some("") => Ok(None),
        Some(c) => c
            .parse::<i64>()
            .map(Some)
            .map_err(|_| StoreError::Invalid(format!("invalid cursor '{c}'"))),
    }
}

/// A listing's page size: 100 by default, at most 1,000.
pub(crate) fn clamp_limit(limit: u32) -> u32 {
    if limit == 0 {
        100
    } else {
        limit.min(1000)
    }
}

/// A page of `limit` items from `limit + 1` read, with the cursor of the next one.
pub(crate) fn page<T>(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|x| id(x).to_string())
    } else {
        None
    };
    Page { items, next_cursor }
}

/// A log entry as listed: a request logged without being queued has no processing state.
pub(crate) fn log_entry_shape(mut e: LogEntry) -> LogEntry {
    if e.processing.as_deref() == Some("logged") {
        e.processing = None;
        e.attempts = None;
        e.processing_error = None;
        e.events = None;
    } else {
        e.inbox_id = Some(e.id);
    }
    e
}

/// When a status set by hand at `now` takes effect: `now`, or the newest event already
/// folded if that is later, as `ContactState::set_manually` places it.
pub(crate) fn manual_at(last_event_at: Option<Millis>, now: Millis) -> Millis {
    last_event_at.map_or(now, |t| t.max(now))
}

/// The stored headers and body of a logged request.
pub(crate) const RAW_REQUEST_SQL: &str = "SELECT headers, body FROM inbox WHERE id = $1";

/// Stored headers (a JSON list of pairs) read back; nothing when they do not parse.
pub(crate) fn parse_headers(s: &str) -> Vec<(String, String)> {
    serde_json::from_str(s).unwrap_or_default()
}

/// Deliveries, bounces and complaints per source since `$1`: a range of the
/// `events_occurred` index (`occurred_at, kind, source_id, sending_domain`), no table rows read.
pub(crate) const KIND_COUNTS_BY_SOURCE_SQL: &str = "SELECT source_id, kind, COUNT(*) FROM events
     WHERE occurred_at >= $1 AND kind IN ('delivery', 'bounce', 'complaint')
     GROUP BY source_id, kind";

/// A row of [`KIND_COUNTS_BY_SOURCE_SQL`].
pub(crate) fn source_count(source_id: Option<i64>, kind: String, count: u64) -> SourceKindCount {
    SourceKindCount {
        source_id,
        kind,
        count,
    }
}

/// A row of [`KIND_COUNTS_BY_SENDING_DOMAIN_SQL`].
pub(crate) fn domain_count(domain: String, kind: String, count: u64) -> DomainKindCount {
    DomainKindCount {
        domain,
        kind,
        count,
    }
}

/// Deliveries, bounces and complaints per sending domain since `$1` (events with no domain
/// left out): a range of the `events_occurred` index (`occurred_at, kind, source_id,
/// sending_domain`), no table rows read.
pub(crate) const KIND_COUNTS_BY_SENDING_DOMAIN_SQL: &str =
    "SELECT sending_domain, kind, COUNT(*) FROM events
     WHERE occurred_at >= $1 AND kind IN ('delivery', 'bounce', 'complaint')
       AND sending_domain IS NOT NULL
     GROUP BY sending_domain, kind";

/// Announces a status change made by hand (the API, an import) to the outbound
/// subscriptions, in the transaction that records it.
pub(crate) fn announce_manual(
    rows: &mut impl crate::apply::ApplyRows,
    (contact_id, uuid, email, event_id): (i64, &str, &str, i64),
    provider: &str,
    (old_status, new_status, reason): (rebound_core::Status, rebound_core::Status, Option<&str>),
    now: Millis,
) -> crate::Result<()> {
    let change = crate::ContactChange {
        contact_id,
        uuid: uuid.to_string(),
        email: email.to_string(),
        old_status,
        new_status,
        reason: reason.map(str::to_string),
        event_id,
        source_id: 0,
        inbox_id: 0,
        provider: provider.to_string(),
        cause: None,
    };
    crate::outbound::enqueue(rows, &[], &[change], now).map(|_| ())
}
