//! The SQL of the SQLite store, as plain functions over a connection. Writers run inside
//! the writer thread's group transaction; readers on a reader connection.

use rebound_core::policy::{self, PolicyEvent};
use rebound_core::{
    Address, BounceClass, ContactState, Event, EventKind, ManualChange, Millis, Policy, Reason,
    Recipient, Status,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::*;

pub(crate) fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn json_text(v: &serde_json::Value) -> String {
    if v.is_null() {
        "{}".into()
    } else {
        v.to_string()
    }
}

fn parse_json(s: Option<String>) -> serde_json::Value {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| serde_json::json!({}))
}

fn cursor_id(cursor: &Option<String>) -> Result<Option<i64>> {
    match cursor.as_deref() {
        None | Some("") => Ok(None),
        Some(c) => c
            .parse::<i64>()
            .map(Some)
            .map_err(|_| StoreError::Invalid(format!("invalid cursor '{c}'"))),
    }
}

fn clamp_limit(limit: u32) -> u32 {
    if limit == 0 {
        100
    } else {
        limit.min(1000)
    }
}

// ---------------------------------------------------------------- ingest & log

/// Logs a request that is not queued for processing (a rejection, an SNS confirmation).
pub(crate) fn insert_log(c: &Connection, log: &NewLogEntry) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO inbox (received_at, source_id, provider, method, path, remote_addr, http_status, outcome, error, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'logged')",
    )?
    .execute(params![
        log.received_at,
        log.source_id,
        log.provider,
        log.method,
        log.path,
        log.remote_addr,
        log.http_status,
        log.outcome,
        log.error,
    ])?;
    Ok(c.last_insert_rowid())
}

/// Stores an accepted request: one row, which is both its inbox entry and its log entry.
/// `headers` is the JSON text of the headers kept.
pub(crate) fn ingest(
    c: &Connection,
    item: &NewInbox,
    headers: &str,
    log: &NewLogEntry,
) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO inbox (source_id, provider, received_at, headers, body, method, path, remote_addr, http_status, outcome, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        item.source_id,
        item.provider,
        item.received_at,
        headers,
        item.body,
        log.method,
        log.path,
        log.remote_addr,
        log.http_status,
        log.outcome,
        log.error,
    ])?;
    Ok(c.last_insert_rowid())
}

pub(crate) fn mailbox_seen(
    c: &Connection,
    scope: &str,
) -> Result<std::collections::HashSet<String>> {
    let mut stmt = c.prepare_cached("SELECT uid FROM mailbox_messages WHERE scope = ?1")?;
    let ids = stmt
        .query_map([scope], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

pub(crate) fn mailbox_store(
    c: &Connection,
    scope: &str,
    uid: &str,
    is_bounce: bool,
    item: &NewInbox,
    headers: &str,
    log: &NewLogEntry,
) -> Result<MailStored> {
    let before: Option<(Option<i64>, bool)> = c
        .prepare_cached(
            "SELECT inbox_id, is_bounce FROM mailbox_messages WHERE scope = ?1 AND uid = ?2",
        )?
        .query_row(params![scope, uid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((inbox_id, is_bounce)) = before {
        return Ok(MailStored {
            inbox_id,
            is_bounce,
            new: false,
        });
    }
    let inbox_id = ingest(c, item, headers, log)?;
    c.prepare_cached(
        "INSERT INTO mailbox_messages (scope, uid, inbox_id, is_bounce, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![scope, uid, inbox_id, is_bounce, item.received_at])?;
    Ok(MailStored {
        inbox_id: Some(inbox_id),
        is_bounce,
        new: true,
    })
}

/// Reads up to `limit` due inbox rows, oldest first, skipping `skip`. A read:
/// the SQLite store keeps leases in memory (one process owns the file), so claiming costs
/// the writer nothing. `attempts` is the attempt about to be made.
pub(crate) fn pending(
    c: &Connection,
    limit: usize,
    now: Millis,
    skip: &std::collections::HashSet<i64>,
) -> Result<Vec<InboxRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, source_id, provider, received_at, headers, body, attempts FROM inbox
         WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![now, (limit + skip.len()) as i64])?;
    let mut out = Vec::with_capacity(limit);
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        if skip.contains(&id) {
            continue;
        }
        let headers: String = r.get(4)?;
        let attempts: u32 = r.get(6)?;
        out.push(InboxRow {
            id,
            source_id: r.get(1)?,
            provider: r.get(2)?,
            received_at: r.get(3)?,
            headers: serde_json::from_str(&headers).unwrap_or_default(),
            body: r.get(5)?,
            attempts: attempts + 1,
        });
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

pub(crate) fn replay(c: &Connection, log_id: i64) -> Result<()> {
    let state: Option<String> = c
        .query_row("SELECT state FROM inbox WHERE id = ?1", [log_id], |r| {
            r.get(0)
        })
        .optional()?;
    match state.as_deref() {
        None => Err(StoreError::NotFound(format!("no request log entry {log_id}"))),
        Some("logged") => Err(StoreError::Invalid(format!(
            "request {log_id} was rejected or answered without being stored: its body was not kept, nothing to replay"
        ))),
        Some(_) => {
            c.execute(
                "UPDATE inbox SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE id = ?1",
                [log_id],
            )?;
            Ok(())
        }
    }
}

pub(crate) fn inbox_counts(c: &Connection) -> Result<InboxCounts> {
    let mut counts = InboxCounts::default();
    let mut stmt = c.prepare("SELECT state, COUNT(*) FROM inbox GROUP BY state")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (state, n): (String, i64) = (r.get(0)?, r.get(1)?);
        match state.as_str() {
            "pending" => counts.pending = n as u64,
            "done" => counts.done = n as u64,
            "failed" => counts.failed = n as u64,
            _ => {}
        }
    }
    Ok(counts)
}

// ---------------------------------------------------------------- apply

struct ContactRow {
    id: i64,
    state: ContactState,
}

fn load_contact_state(c: &Connection, column: &str, value: &str) -> Result<Option<ContactRow>> {
    let sql = format!(
        "SELECT id, status, reason, soft_bounces, last_event_at, last_delivered_at, last_engaged_at,
                last_policy_event_at, manual_at, manual_status, manual_reason
         FROM contacts WHERE {column} = ?1"
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([value], |r| {
            let status: String = r.get(1)?;
            let soft: String = r.get(3)?;
            let manual_at: Option<Millis> = r.get(8)?;
            let manual_status: Option<String> = r.get(9)?;
            let manual_reason: Option<String> = r.get(10)?;
            Ok(ContactRow {
                id: r.get(0)?,
                state: ContactState {
                    status: Status::parse(&status).unwrap_or_default(),
                    reason: r.get(2)?,
                    soft_bounces: serde_json::from_str(&soft).unwrap_or_default(),
                    last_event_at: r.get(4)?,
                    last_delivered_at: r.get(5)?,
                    last_engaged_at: r.get(6)?,
                    last_policy_event_at: r.get(7)?,
                    manual: manual_at.map(|at| ManualChange {
                        at,
                        status: manual_status
                            .as_deref()
                            .and_then(Status::parse)
                            .unwrap_or_default(),
                        reason: manual_reason,
                    }),
                },
            })
        })
        .optional()?)
}

/// Most order-sensitive events of one contact that a late event re-folds. A contact with
/// more (since its last manual change) gets a late event folded in arrival order, as before
/// #23, and a warning in the log: the cost of one late event stays bounded (one indexed scan
/// of the contact's events, at most this many rows decoded and sorted).
pub(crate) const REPLAY_LIMIT: usize = 10_000;

/// The contact's order-sensitive events dated after `after` (its manual change), for a
/// re-fold; `None` when there are more than [`REPLAY_LIMIT`].
fn policy_history(
    c: &Connection,
    contact_id: i64,
    after: Option<Millis>,
) -> Result<Option<Vec<PolicyEvent>>> {
    let mut stmt = c.prepare_cached(
        "SELECT kind, class, reason, occurred_at, dedup_key FROM events
         WHERE contact_id = ?1 AND kind IN ('bounce', 'delivery', 'complaint', 'unsubscribe')
               AND occurred_at > ?2
         LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![
        contact_id,
        after.unwrap_or(Millis::MIN),
        REPLAY_LIMIT as i64 + 1
    ])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let kind: String = r.get(0)?;
        let Some(kind) = EventKind::parse(&kind) else {
            continue;
        };
        let class: Option<String> = r.get(1)?;
        let reason: Option<String> = r.get(2)?;
        out.push(PolicyEvent {
            kind,
            class: class.as_deref().and_then(BounceClass::parse),
            reason: reason.as_deref().and_then(Reason::parse),
            occurred_at: r.get(3)?,
            dedup_key: r.get(4)?,
        });
    }
    Ok((out.len() <= REPLAY_LIMIT).then_some(out))
}

fn insert_contact(c: &Connection, addr: &Address, now: Millis) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO contacts (email, email_key, uuid, status, created_at, updated_at) VALUES (?1, ?2, ?3, 'subscribed', ?4, ?4)",
    )?
    .execute(params![addr.as_str(), addr.key(), new_uuid(), now])?;
    Ok(c.last_insert_rowid())
}

fn resolve(c: &Connection, r: &Recipient, now: Millis) -> Result<ContactRow> {
    match r {
        Recipient::Email(addr) => match load_contact_state(c, "email_key", addr.key())? {
            Some(row) => Ok(row),
            None => Ok(ContactRow {
                id: insert_contact(c, addr, now)?,
                state: ContactState::default(),
            }),
        },
        Recipient::ContactUuid(u) => load_contact_state(c, "uuid", u)?
            .ok_or_else(|| StoreError::Invalid(format!("unknown subscriber_uuid '{u}'"))),
    }
}

/// The contact of the send a Message-ID belongs to: an event of a webhook source with that
/// Message-ID (with or without its angle brackets).
fn contact_of_send(c: &Connection, message_id: &str) -> Result<Option<ContactRow>> {
    let bare = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    if bare.is_empty() {
        return Ok(None);
    }
    let id: Option<i64> = c
        .prepare_cached(
            "SELECT contact_id FROM events WHERE message_id IN (?1, ?2) AND provider <> 'mailbox'
             ORDER BY id LIMIT 1",
        )?
        .query_row(params![bare, format!("<{bare}>")], |r| r.get(0))
        .optional()?;
    match id {
        Some(id) => load_contact_state(c, "id", &id.to_string()),
        None => Ok(None),
    }
}

struct Applied {
    stored: bool,
    status_changed: bool,
    /// The recipient had to be a known contact and was not.
    unmatched: bool,
}

fn apply_event(
    c: &Connection,
    p: &Processed,
    e: &Event,
    policy_: &Policy,
    now: Millis,
) -> Result<Applied> {
    // A bounce email names its recipient; when its returned message is a send rebound has
    // seen (an event of another source with the same Message-ID), that send's contact is
    // the one it is about, whatever address the report names.
    let by_recipient = e.details.get("matched_by").and_then(|v| v.as_str()) == Some("recipient");
    let sent_to = match (&e.message_id, by_recipient) {
        (Some(mid), true) => contact_of_send(c, mid)?,
        _ => None,
    };
    let contact = match sent_to {
        Some(row) => row,
        None => {
            let known_only = e
                .details
                .get(rebound_core::bounces::events::KNOWN_CONTACTS_ONLY)
                == Some(&serde_json::Value::Bool(true));
            if let (true, Recipient::Email(addr)) = (known_only, &e.recipient) {
                if load_contact_state(c, "email_key", addr.key())?.is_none() {
                    return Ok(Applied {
                        stored: false,
                        status_changed: false,
                        unmatched: true,
                    });
                }
            }
            resolve(c, &e.recipient, now)?
        }
    };
    let outcome = if policy::in_order(&contact.state, e) {
        policy::apply(policy_, &contact.state, e)
    } else {
        // Dated before the newest order-sensitive event: re-fold the contact's events in
        // time order (a duplicate is found first, so it costs no re-read).
        let duplicate: bool = c
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM events WHERE dedup_key = ?1)")?
            .query_row([&e.dedup_key], |r| r.get(0))?;
        if duplicate {
            return Ok(Applied {
                stored: false,
                status_changed: false,
                unmatched: false,
            });
        }
        let after = contact.state.manual.as_ref().map(|m| m.at);
        match policy_history(c, contact.id, after)? {
            Some(history) => policy::apply_late(policy_, &contact.state, e, &history),
            None => {
                tracing::warn!(
                    contact = contact.id,
                    limit = REPLAY_LIMIT,
                    "too many events to re-fold: a late event is folded in arrival order"
                );
                policy::apply(policy_, &contact.state, e)
            }
        }
    };
    let inserted = c
        .prepare_cached(
            "INSERT INTO events (dedup_key, contact_id, source_id, inbox_id, provider, kind, class, reason, status_code,
                                 diagnostic, message_id, provider_event_id, occurred_at, recorded_at,
                                 status_before, status_after, note, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
             ON CONFLICT (dedup_key) DO NOTHING",
        )?
        .execute(params![
            e.dedup_key,
            contact.id,
            p.source_id,
            p.inbox_id,
            p.provider,
            e.kind.as_str(),
            e.class.map(BounceClass::as_str),
            e.reason.map(|r| r.as_str()),
            e.status,
            e.diagnostic,
            e.message_id,
            e.provider_event_id,
            e.occurred_at,
            now,
            contact.state.status.as_str(),
            outcome.state.status.as_str(),
            outcome.note,
            json_text(&e.details),
        ])?;
    if inserted == 0 {
        return Ok(Applied {
            stored: false,
            status_changed: false,
            unmatched: false,
        });
    }
    if outcome.state != contact.state {
        let s = &outcome.state;
        c.prepare_cached(
            "UPDATE contacts SET status = ?1, reason = ?2, soft_bounce_count = ?3, soft_bounces = ?4,
                    last_event_at = ?5, last_delivered_at = ?6, last_engaged_at = ?7, updated_at = ?8,
                    last_policy_event_at = ?10
             WHERE id = ?9",
        )?
        .execute(params![
            s.status.as_str(),
            s.reason,
            s.soft_bounces.len() as i64,
            serde_json::to_string(&s.soft_bounces).unwrap_or_else(|_| "[]".into()),
            s.last_event_at,
            s.last_delivered_at,
            s.last_engaged_at,
            now,
            contact.id,
            s.last_policy_event_at,
        ])?;
    }
    Ok(Applied {
        stored: true,
        status_changed: outcome.status_change.is_some(),
        unmatched: false,
    })
}

fn mark_failure(
    c: &Connection,
    p: &Processed,
    error: &str,
    now: Millis,
    report: &mut ApplyReport,
) -> Result<()> {
    if p.attempts >= p.max_attempts {
        c.prepare_cached(
            "UPDATE inbox SET state = 'failed', last_error = ?1, processed_at = ?2, attempts = ?4 WHERE id = ?3",
        )?
        .execute(params![error, now, p.inbox_id, p.attempts])?;
        report.failed += 1;
    } else {
        c.prepare_cached(
            "UPDATE inbox SET last_error = ?1, next_attempt_at = ?2, attempts = ?4 WHERE id = ?3",
        )?
        .execute(params![error, p.retry_at, p.inbox_id, p.attempts])?;
        report.retried += 1;
    }
    Ok(())
}

pub(crate) fn apply(
    c: &Connection,
    rows: &[Processed],
    policy_: &Policy,
    now: Millis,
) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    for p in rows {
        let events = match &p.outcome {
            Ok(ev) => ev,
            Err(msg) => {
                mark_failure(c, p, msg, now, &mut report)?;
                continue;
            }
        };
        // No savepoint per row (it would copy every touched page into a journal): an error
        // fails the whole call, the transaction is rolled back, and the worker retries the
        // rows one by one to isolate the one that fails.
        let mut stored = 0i64;
        let mut unmatched: Vec<&str> = Vec::new();
        for e in events {
            let a = apply_event(c, p, e, policy_, now)?;
            if a.unmatched {
                report.unmatched += 1;
                unmatched.push(e.recipient.display());
            } else if a.stored {
                report.events += 1;
                stored += 1;
            } else {
                report.duplicates += 1;
            }
            report.status_changes += u64::from(a.status_changed);
        }
        // Recipients left alone because they are not contacts stay visible in the log.
        let note = (!unmatched.is_empty())
            .then(|| format!("unmatched (not a known contact): {}", unmatched.join(", ")));
        c.prepare_cached(
            "UPDATE inbox SET state = 'done', processed_at = ?1, events_created = ?2, last_error = NULL, attempts = ?4,
                    error = CASE WHEN ?5 IS NULL THEN error WHEN error IS NULL THEN ?5
                                 ELSE error || '; ' || ?5 END WHERE id = ?3",
        )?
        .execute(params![now, stored, p.inbox_id, p.attempts, note])?;
        report.done += 1;
    }
    Ok(report)
}

// ---------------------------------------------------------------- sources & settings

fn source_from_row(r: &Row<'_>) -> rusqlite::Result<Source> {
    Ok(Source {
        id: r.get(0)?,
        provider: r.get(1)?,
        name: r.get(2)?,
        key: r.get(3)?,
        secret: r.get(4)?,
        config: parse_json(r.get(5)?),
        status: r.get(6)?,
        status_message: r.get(7)?,
        created_at: r.get(8)?,
    })
}

const SOURCE_COLS: &str =
    "id, provider, name, url_key, secret, config, status, status_message, created_at";

pub(crate) fn create_source(c: &Connection, s: &NewSource) -> Result<Source> {
    c.execute(
        "INSERT INTO sources (provider, name, url_key, secret, config, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![s.provider, s.name, s.key, s.secret, json_text(&s.config), s.created_at],
    )?;
    let id = c.last_insert_rowid();
    Ok(c.query_row(
        &format!("SELECT {SOURCE_COLS} FROM sources WHERE id = ?1"),
        [id],
        source_from_row,
    )?)
}

pub(crate) fn list_sources(c: &Connection) -> Result<Vec<Source>> {
    let mut stmt = c.prepare(&format!("SELECT {SOURCE_COLS} FROM sources ORDER BY id"))?;
    let rows = stmt
        .query_map([], source_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub(crate) fn get_setting(c: &Connection, key: &str) -> Result<Option<serde_json::Value>> {
    let v: Option<String> = c
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
}

pub(crate) fn put_setting(
    c: &Connection,
    key: &str,
    value: &serde_json::Value,
    overwrite: bool,
) -> Result<bool> {
    let sql = if overwrite {
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    } else {
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO NOTHING"
    };
    Ok(c.execute(sql, params![key, value.to_string(), now_ms()])? > 0)
}

// ---------------------------------------------------------------- contacts

const CONTACT_COLS: &str = "id, uuid, email, status, reason, soft_bounce_count, soft_bounces, last_event_at, last_delivered_at, last_engaged_at, attributes, created_at, updated_at";

fn contact_from_row(r: &Row<'_>) -> rusqlite::Result<Contact> {
    let status: String = r.get(3)?;
    let status = Status::parse(&status).unwrap_or_default();
    let soft: String = r.get(6)?;
    Ok(Contact {
        id: r.get(0)?,
        uuid: r.get(1)?,
        email: r.get(2)?,
        status,
        reason: r.get(4)?,
        suppressed: status.is_suppressed(),
        soft_bounce_count: r.get(5)?,
        soft_bounces: serde_json::from_str(&soft).unwrap_or_default(),
        last_event_at: r.get(7)?,
        last_delivered_at: r.get(8)?,
        last_engaged_at: r.get(9)?,
        attributes: parse_json(r.get(10)?),
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

pub(crate) fn contact_by(c: &Connection, column: &str, value: &str) -> Result<Option<Contact>> {
    let sql = format!("SELECT {CONTACT_COLS} FROM contacts WHERE {column} = ?1");
    Ok(c.prepare_cached(&sql)?
        .query_row([value], contact_from_row)
        .optional()?)
}

/// When a status set by hand at `now` takes effect: `now`, or the newest event already
/// folded if that is later, as `ContactState::set_manually` places it.
fn manual_at(last_event_at: Option<Millis>, now: Millis) -> Millis {
    last_event_at.map_or(now, |t| t.max(now))
}

fn record_manual(
    c: &Connection,
    contact_id: i64,
    provider: &str,
    before: Status,
    after: Status,
    reason: Option<&str>,
    now: Millis,
) -> Result<()> {
    if before == after {
        return Ok(());
    }
    c.prepare_cached(
        "INSERT INTO events (dedup_key, contact_id, provider, kind, reason, occurred_at, recorded_at, status_before, status_after, note)
         VALUES (?1, ?2, ?3, 'other', ?4, ?5, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        format!("{provider}:manual:{}", new_uuid()),
        contact_id,
        provider,
        reason,
        now,
        before.as_str(),
        after.as_str(),
        format!("status set by {provider}: {} → {}", before.as_str(), after.as_str()),
    ])?;
    Ok(())
}

pub(crate) fn upsert_contacts(
    c: &Connection,
    contacts: &[NewContact],
    overwrite: bool,
) -> Result<UpsertReport> {
    let mut report = UpsertReport::default();
    for n in contacts {
        let existing = contact_by(c, "email_key", &n.email_key)?;
        let status = n.status.unwrap_or_default();
        let reason = n.reason.clone().filter(|_| status.is_suppressed());
        match existing {
            None => {
                let uuid = n.uuid.clone().unwrap_or_else(new_uuid);
                if contact_by(c, "uuid", &uuid)?.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "uuid {uuid} belongs to another contact"
                    )));
                }
                // A contact created suppressed starts from that status set by hand; one
                // created subscribed starts from the default state.
                let manual = status.is_suppressed().then_some(n.now);
                c.prepare_cached(
                    "INSERT INTO contacts (email, email_key, uuid, status, reason, attributes, created_at, updated_at,
                                           manual_at, manual_status, manual_reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, CASE WHEN ?8 IS NULL THEN NULL ELSE ?4 END, ?5)",
                )?
                .execute(params![n.email, n.email_key, uuid, status.as_str(), reason, json_text(&n.attributes), n.now, manual])?;
                let id = c.last_insert_rowid();
                record_manual(
                    c,
                    id,
                    "import",
                    Status::Subscribed,
                    status,
                    reason.as_deref(),
                    n.now,
                )?;
                report.created += 1;
            }
            Some(old) if overwrite => {
                // Overwriting sets the status by hand (see `ContactState::set_manually`).
                c.prepare_cached(
                    "UPDATE contacts SET status = ?1, reason = ?2, attributes = ?3, updated_at = ?4,
                            soft_bounce_count = 0, soft_bounces = '[]',
                            manual_at = ?6, manual_status = ?1, manual_reason = ?2
                     WHERE id = ?5",
                )?
                .execute(params![
                    status.as_str(),
                    reason,
                    json_text(&n.attributes),
                    n.now,
                    old.id,
                    manual_at(old.last_event_at, n.now),
                ])?;
                record_manual(
                    c,
                    old.id,
                    "import",
                    old.status,
                    status,
                    reason.as_deref(),
                    n.now,
                )?;
                report.updated += 1;
            }
            Some(_) => report.unchanged += 1,
        }
    }
    Ok(report)
}

pub(crate) fn patch_contact(
    c: &Connection,
    key: &str,
    patch: &ContactPatch,
    now: Millis,
) -> Result<Contact> {
    let old = contact_by(c, "email_key", key)?
        .ok_or_else(|| StoreError::NotFound(format!("no contact {key}")))?;
    let mut attrs = match old.attributes.clone() {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    if let Some(p) = &patch.attributes {
        for (k, v) in p {
            if v.is_null() {
                attrs.remove(k);
            } else {
                attrs.insert(k.clone(), v.clone());
            }
        }
    }
    let status = patch.status.unwrap_or(old.status);
    let reason = if patch.status.is_some() {
        patch
            .reason
            .clone()
            .or_else(|| status.is_suppressed().then(|| "manual".to_string()))
    } else {
        old.reason.clone()
    };
    let reason = reason.filter(|_| status.is_suppressed());
    // A status set by hand is the base the policy folds later events onto (see
    // `ContactState::set_manually`); a patch of attributes only changes nothing of that.
    let set_by_hand = patch.status.is_some();
    c.execute(
        "UPDATE contacts SET status = ?1, reason = ?2, attributes = ?3, updated_at = ?4,
                soft_bounce_count = CASE WHEN ?6 THEN 0 ELSE soft_bounce_count END,
                soft_bounces = CASE WHEN ?6 THEN '[]' ELSE soft_bounces END,
                manual_at = CASE WHEN ?6 THEN ?7 ELSE manual_at END,
                manual_status = CASE WHEN ?6 THEN ?1 ELSE manual_status END,
                manual_reason = CASE WHEN ?6 THEN ?2 ELSE manual_reason END
         WHERE id = ?5",
        params![
            status.as_str(),
            reason,
            serde_json::Value::Object(attrs).to_string(),
            now,
            old.id,
            set_by_hand,
            manual_at(old.last_event_at, now),
        ],
    )?;
    record_manual(c, old.id, "api", old.status, status, reason.as_deref(), now)?;
    contact_by(c, "id", &old.id.to_string())?.ok_or_else(|| StoreError::NotFound(key.to_string()))
}

pub(crate) fn delete_contact(c: &Connection, key: &str) -> Result<bool> {
    let Some(old) = contact_by(c, "email_key", key)? else {
        return Ok(false);
    };
    c.execute("DELETE FROM events WHERE contact_id = ?1", [old.id])?;
    c.execute("DELETE FROM contacts WHERE id = ?1", [old.id])?;
    Ok(true)
}

pub(crate) fn list_contacts(c: &Connection, f: &ContactFilter) -> Result<Page<Contact>> {
    let limit = clamp_limit(f.limit);
    let after = cursor_id(&f.cursor)?.unwrap_or(0);
    let q = f.q.as_ref().map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {CONTACT_COLS} FROM contacts
         WHERE id > ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR email_key LIKE ?3 ESCAPE '\\')
         ORDER BY id LIMIT ?4"
    ))?;
    let items: Vec<Contact> = stmt
        .query_map(
            params![after, f.status.map(Status::as_str), q, limit + 1],
            contact_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(page(items, limit, |c| c.id))
}

fn page<T>(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|x| id(x).to_string())
    } else {
        None
    };
    Page { items, next_cursor }
}

// ---------------------------------------------------------------- events & log

pub(crate) fn list_events(c: &Connection, f: &EventFilter) -> Result<Page<StoredEvent>> {
    let limit = clamp_limit(f.limit);
    let before = cursor_id(&f.cursor)?.unwrap_or(i64::MAX);
    let contact_id: Option<i64> = match &f.email_key {
        Some(k) => match c
            .query_row("SELECT id FROM contacts WHERE email_key = ?1", [k], |r| {
                r.get(0)
            })
            .optional()?
        {
            Some(id) => Some(id),
            None => {
                return Ok(Page {
                    items: vec![],
                    next_cursor: None,
                })
            }
        },
        None => None,
    };
    let mut stmt = c.prepare_cached(
        "SELECT e.id, c.email, e.source_id, e.provider, e.kind, e.class, e.reason, e.status_code, e.diagnostic,
                e.message_id, e.provider_event_id, e.occurred_at, e.recorded_at, e.status_before, e.status_after,
                e.note, e.details, e.inbox_id
         FROM events e JOIN contacts c ON c.id = e.contact_id
         WHERE e.id < ?1 AND (?2 IS NULL OR e.contact_id = ?2) AND (?3 IS NULL OR e.kind = ?3)
               AND (?4 IS NULL OR e.source_id = ?4)
         ORDER BY e.id DESC LIMIT ?5",
    )?;
    let items: Vec<StoredEvent> = stmt
        .query_map(
            params![before, contact_id, f.kind, f.source_id, limit + 1],
            |r| {
                Ok(StoredEvent {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    source_id: r.get(2)?,
                    provider: r.get(3)?,
                    kind: r.get(4)?,
                    class: r.get(5)?,
                    reason: r.get(6)?,
                    status: r.get(7)?,
                    diagnostic: r.get(8)?,
                    message_id: r.get(9)?,
                    provider_event_id: r.get(10)?,
                    occurred_at: r.get(11)?,
                    recorded_at: r.get(12)?,
                    status_before: r.get(13)?,
                    status_after: r.get(14)?,
                    note: r.get(15)?,
                    details: parse_json(r.get(16)?),
                    inbox_id: r.get(17)?,
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(page(items, limit, |e| e.id))
}

pub(crate) fn list_log(c: &Connection, f: &LogFilter) -> Result<Page<LogEntry>> {
    let limit = clamp_limit(f.limit);
    let before = cursor_id(&f.cursor)?.unwrap_or(i64::MAX);
    let mut stmt = c.prepare_cached(
        "SELECT id, received_at, source_id, provider, method, path, remote_addr, http_status,
                outcome, error, state, attempts, last_error, events_created
         FROM inbox
         WHERE id < ?1 AND (?2 IS NULL OR outcome = ?2) AND (?3 IS NULL OR state = ?3)
               AND (?4 IS NULL OR source_id = ?4)
         ORDER BY id DESC LIMIT ?5",
    )?;
    let items: Vec<LogEntry> = stmt
        .query_map(
            params![before, f.outcome, f.processing, f.source_id, limit + 1],
            |r| {
                Ok(LogEntry {
                    id: r.get(0)?,
                    received_at: r.get(1)?,
                    source_id: r.get(2)?,
                    provider: r.get(3)?,
                    method: r.get(4)?,
                    path: r.get(5)?,
                    remote_addr: r.get(6)?,
                    http_status: r.get(7)?,
                    outcome: r.get(8)?,
                    error: r.get(9)?,
                    inbox_id: None,
                    processing: r.get(10)?,
                    attempts: r.get(11)?,
                    processing_error: r.get(12)?,
                    events: r.get(13)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<LogEntry>>>()?;
    let items = items.into_iter().map(log_entry_shape).collect();
    Ok(page(items, limit, |e: &LogEntry| e.id))
}

/// Log entries of requests that were only logged carry no processing fields.
fn log_entry_shape(mut e: LogEntry) -> LogEntry {
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
