//! The SQL of the SQLite store, as plain functions over a connection. Writers run inside
//! the writer thread's group transaction; readers on a reader connection.

use rebound_core::{Millis, Status};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::common::*;
use crate::*;

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

/// Leases up to `limit` inbox rows that are pending, due, and not leased or whose lease
/// expired, oldest first, to `node` until `lease_until`; returns them in id order.
/// `attempts` is the attempt about to be made.
pub(crate) fn claim(
    c: &Connection,
    limit: usize,
    now: Millis,
    lease_until: Millis,
    node: &str,
) -> Result<Vec<InboxRow>> {
    let mut stmt = c.prepare_cached(
        "UPDATE inbox SET locked_until = ?3, locked_by = ?4
         WHERE id IN (SELECT id FROM inbox
                      WHERE state = 'pending' AND next_attempt_at <= ?1
                            AND (locked_until IS NULL OR locked_until <= ?1)
                      ORDER BY id LIMIT ?2)
         RETURNING id, source_id, provider, received_at, headers, body, attempts",
    )?;
    let mut rows = stmt.query(params![now, limit as i64, lease_until, node])?;
    let mut out = Vec::with_capacity(limit.min(4096));
    while let Some(r) = rows.next()? {
        let headers: String = r.get(4)?;
        let attempts: u32 = r.get(6)?;
        out.push(InboxRow {
            id: r.get(0)?,
            source_id: r.get(1)?,
            provider: r.get(2)?,
            received_at: r.get(3)?,
            headers: serde_json::from_str(&headers).unwrap_or_default(),
            body: r.get(5)?,
            attempts: attempts + 1,
        });
    }
    // RETURNING gives rows in no promised order.
    out.sort_unstable_by_key(|r| r.id);
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

pub(crate) fn oldest_pending_received_at(c: &Connection) -> Result<Option<Millis>> {
    // `inbox_pending` (id WHERE state = 'pending'): the first entry, not a scan.
    Ok(c.prepare_cached(
        "SELECT received_at FROM inbox WHERE state = 'pending' ORDER BY id LIMIT 1",
    )?
    .query_row([], |r| r.get(0))
    .optional()?)
}

pub(crate) fn status_counts(c: &Connection) -> Result<StatusCounts> {
    let mut counts = StatusCounts::default();
    let mut stmt = c.prepare_cached(crate::common::STATUS_COUNTS_SQL)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (status, n): (String, i64) = (r.get(0)?, r.get(1)?);
        counts.add(&status, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}

pub(crate) fn hourly_event_counts(
    c: &Connection,
    since: Millis,
    after_id: i64,
) -> Result<HourlyCounts> {
    let upto_id: i64 = c.query_row(NEWEST_EVENT_SQL, [], |r| r.get(0))?;
    let sql = if after_id == 0 {
        HOURLY_EVENTS_SQL
    } else {
        HOURLY_EVENTS_AFTER_SQL
    };
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params![since, after_id, upto_id], |r| {
            Ok(HourCount {
                hour: r.get(0)?,
                source_id: r.get(1)?,
                kind: r.get(2)?,
                sending_domain: r.get(3)?,
                count: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(HourlyCounts { upto_id, rows })
}

pub(crate) fn source_traffic(c: &Connection, since: Millis) -> Result<Vec<SourceTraffic>> {
    let mut stmt = c.prepare_cached(SOURCE_TRAFFIC_SQL)?;
    let rows = stmt
        .query_map([since], |r| {
            Ok(SourceTraffic {
                source_id: r.get(0)?,
                accepted: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                last_received_at: r.get(2)?,
                rejected: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
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

fn record_manual(
    c: &Connection,
    (contact_id, uuid, email): (i64, &str, &str),
    (provider, by): (&str, &str),
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
        format!("{provider}:manual:{}", crate::new_uuid()),
        contact_id,
        provider,
        reason,
        now,
        before.as_str(),
        after.as_str(),
        crate::common::manual_note(by, before, after),
    ])?;
    let event_id = c.last_insert_rowid();
    announce_manual(
        &mut super::rows::SqliteRows(c),
        (contact_id, uuid, email, event_id),
        provider,
        (before, after, reason),
        now,
    )
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
                let uuid = n.uuid.clone().unwrap_or_else(crate::new_uuid);
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
                    (id, &uuid, &n.email),
                    ("import", "import"),
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
                    (old.id, &old.uuid, &old.email),
                    ("import", "import"),
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
    let attrs = patch.merged_attributes(&old.attributes);
    let (status, reason) = patch.status_and_reason(&old);
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
    let why = patch.reason.as_deref().or(reason.as_deref());
    let by = patch.by.as_deref().unwrap_or("api");
    record_manual(
        c,
        (old.id, &old.uuid, &old.email),
        ("api", by),
        old.status,
        status,
        why,
        now,
    )?;
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
           AND (?5 IS NULL OR reason = ?5)
           AND (?6 IS NULL OR EXISTS (SELECT 1 FROM events WHERE events.contact_id = contacts.id AND events.source_id = ?6))
           AND (?7 IS NULL OR last_event_at >= ?7) AND (?8 IS NULL OR last_event_at < ?8)
         ORDER BY id LIMIT ?4"
    ))?;
    let items: Vec<Contact> = stmt
        .query_map(
            params![
                after,
                f.status.map(Status::as_str),
                q,
                limit + 1,
                f.reason,
                f.source_id,
                f.since,
                f.until
            ],
            contact_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(page(items, limit, |c| c.id))
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
    // One contact's timeline names the contact outright, so that SQLite reads it from
    // `events_contact (contact_id, id)`: with `?2 IS NULL OR …` the plan is made before the
    // value is known and walks the whole table from the newest event (seconds at 5,000,000
    // events, bench/ui.sh).
    let contact_cond = if contact_id.is_some() {
        "e.contact_id = ?2"
    } else {
        "?2 IS NULL"
    };
    let mut stmt = c.prepare_cached(&format!(
        "SELECT e.id, c.email, e.source_id, e.provider, e.kind, e.class, e.reason, e.status_code, e.diagnostic,
                e.message_id, e.provider_event_id, e.occurred_at, e.recorded_at, e.status_before, e.status_after,
                e.note, e.details, e.inbox_id, e.sending_domain
         FROM events e JOIN contacts c ON c.id = e.contact_id
         WHERE e.id < ?1 AND {contact_cond} AND (?3 IS NULL OR e.kind = ?3)
               AND (?4 IS NULL OR e.source_id = ?4)
         ORDER BY e.id DESC LIMIT ?5"
    ))?;
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
                    sending_domain: r.get(18)?,
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
               AND (?6 IS NULL OR http_status >= ?6) AND (?7 IS NULL OR http_status <= ?7)
               AND (?8 IS NULL OR received_at >= ?8) AND (?9 IS NULL OR received_at < ?9)
         ORDER BY id DESC LIMIT ?5",
    )?;
    let items: Vec<LogEntry> = stmt
        .query_map(
            params![
                before,
                f.outcome,
                f.processing,
                f.source_id,
                limit + 1,
                f.status_min,
                f.status_max,
                f.since,
                f.until
            ],
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

pub(crate) fn raw_request(c: &Connection, id: i64) -> Result<Option<RawRequest>> {
    Ok(c.prepare_cached(crate::common::RAW_REQUEST_SQL)?
        .query_row([id], |r| {
            let headers: String = r.get(0)?;
            Ok(RawRequest {
                headers: crate::common::parse_headers(&headers),
                body: r.get(1)?,
            })
        })
        .optional()?)
}

pub(crate) fn kind_counts_by_sending_domain(
    c: &Connection,
    since: Millis,
) -> Result<Vec<DomainKindCount>> {
    kind_counts(c, KIND_COUNTS_BY_SENDING_DOMAIN_SQL, since, domain_count)
}

pub(crate) fn kind_counts_by_source(c: &Connection, since: Millis) -> Result<Vec<SourceKindCount>> {
    kind_counts(c, KIND_COUNTS_BY_SOURCE_SQL, since, source_count)
}

/// The `(group, kind, count)` rows of a count query since `since`, as `T`.
fn kind_counts<G: rusqlite::types::FromSql, T>(
    c: &Connection,
    sql: &str,
    since: Millis,
    row: impl Fn(G, String, u64) -> T,
) -> Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map([since], |r| {
        let count = u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0);
        Ok(row(r.get(0)?, r.get(1)?, count))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
