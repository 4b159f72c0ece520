//! The SQL of the PostgreSQL store, as plain functions over a connection: the statements of
//! the SQLite store (`crate::sqlite::ops`, `retention`) in PostgreSQL's dialect, with the same
//! meaning. Writers run inside the writer thread's group transaction; readers on a reader
//! connection.

use ::postgres::Row;
use rebound_core::{Millis, Status};

use super::{Conn, IngestJob};
use crate::common::*;
use crate::*;

/// A BIGINT column that holds a count or a small number.
pub(crate) fn small<T: TryFrom<i64> + Default>(r: &Row, i: usize) -> Result<T> {
    let v: i64 = r.try_get(i)?;
    Ok(T::try_from(v).unwrap_or_default())
}

pub(crate) fn small_opt<T: TryFrom<i64>>(r: &Row, i: usize) -> Result<Option<T>> {
    let v: Option<i64> = r.try_get(i)?;
    Ok(v.and_then(|v| T::try_from(v).ok()))
}

// ---------------------------------------------------------------- ingest & log

/// Logs a request that is not queued for processing (a rejection, an SNS confirmation).
pub(crate) fn insert_log(c: &mut Conn, log: &NewLogEntry) -> Result<i64> {
    Ok(c
        .query_one(
            "INSERT INTO inbox (received_at, source_id, provider, method, path, remote_addr, http_status, outcome, error, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'logged') RETURNING id",
            &[
                &log.received_at,
                &log.source_id,
                &log.provider,
                &log.method,
                &log.path,
                &log.remote_addr,
                &i64::from(log.http_status),
                &log.outcome,
                &log.error,
            ],
        )?
        .try_get(0)?)
}

/// Stores one accepted request (its inbox and log row); `headers` is their JSON text.
pub(crate) fn ingest_one(
    c: &mut Conn,
    item: &NewInbox,
    headers: &str,
    log: &NewLogEntry,
) -> Result<i64> {
    Ok(c
        .query_one(
            "INSERT INTO inbox (source_id, provider, received_at, headers, body, method, path, remote_addr, http_status, outcome, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            &[
                &item.source_id,
                &item.provider,
                &item.received_at,
                &headers,
                &item.body,
                &log.method,
                &log.path,
                &log.remote_addr,
                &i64::from(log.http_status),
                &log.outcome,
                &log.error,
            ],
        )?
        .try_get(0)?)
}

/// Stores every accepted request of a group in one statement (one round trip); returns
/// their ids in the order given. Each row's id is drawn once, in a materialized input that
/// both the insert and the answer read, so the answer pairs every id with its position.
pub(crate) fn ingest_many(c: &mut Conn, jobs: &[Box<IngestJob>]) -> Result<Vec<i64>> {
    let n = jobs.len();
    let mut source_id = Vec::with_capacity(n);
    let mut provider = Vec::with_capacity(n);
    let mut received_at = Vec::with_capacity(n);
    let mut headers = Vec::with_capacity(n);
    let mut body: Vec<&[u8]> = Vec::with_capacity(n);
    let mut method = Vec::with_capacity(n);
    let mut path = Vec::with_capacity(n);
    let mut remote_addr = Vec::with_capacity(n);
    let mut http_status = Vec::with_capacity(n);
    let mut outcome = Vec::with_capacity(n);
    let mut error = Vec::with_capacity(n);
    for j in jobs {
        source_id.push(j.item.source_id);
        provider.push(j.item.provider.as_str());
        received_at.push(j.item.received_at);
        headers.push(j.headers.as_str());
        body.push(&j.item.body);
        method.push(j.log.method.as_str());
        path.push(j.log.path.as_str());
        remote_addr.push(j.log.remote_addr.as_deref());
        http_status.push(i64::from(j.log.http_status));
        outcome.push(j.log.outcome.as_str());
        error.push(j.log.error.as_deref());
    }
    let rows = c.query(
        "WITH input AS MATERIALIZED (
             SELECT nextval('inbox_id_seq') AS id, t.*
             FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], $6::text[],
                         $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[])
                  WITH ORDINALITY AS t(s, p, r, h, b, m, pa, ra, hs, o, e, ord)),
         stored AS (
             INSERT INTO inbox (id, source_id, provider, received_at, headers, body, method, path,
                                remote_addr, http_status, outcome, error)
             SELECT id, s, p, r, h, b, m, pa, ra, hs, o, e FROM input)
         SELECT id, ord FROM input",
        &[
            &source_id,
            &provider,
            &received_at,
            &headers,
            &body,
            &method,
            &path,
            &remote_addr,
            &http_status,
            &outcome,
            &error,
        ],
    )?;
    let mut ids = vec![None; n];
    for r in rows {
        let (id, ord): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
        if let Some(slot) = usize::try_from(ord - 1).ok().and_then(|i| ids.get_mut(i)) {
            *slot = Some(id);
        }
    }
    ids.into_iter()
        .map(|id| id.ok_or_else(|| StoreError::Db("a request of the group was not stored".into())))
        .collect()
}

pub(crate) fn mailbox_seen(c: &mut Conn, scope: &str) -> Result<std::collections::HashSet<String>> {
    let rows = c.query(
        "SELECT uid FROM mailbox_messages WHERE scope = $1",
        &[&scope],
    )?;
    rows.iter()
        .map(|r| Ok(r.try_get::<_, String>(0)?))
        .collect()
}

pub(crate) fn mailbox_store(
    c: &mut Conn,
    scope: &str,
    uid: &str,
    is_bounce: bool,
    item: &NewInbox,
    headers: &str,
    log: &NewLogEntry,
) -> Result<MailStored> {
    let before = c.query_opt(
        "SELECT inbox_id, is_bounce FROM mailbox_messages WHERE scope = $1 AND uid = $2",
        &[&scope, &uid],
    )?;
    if let Some(r) = before {
        return Ok(MailStored {
            inbox_id: r.try_get(0)?,
            is_bounce: r.try_get(1)?,
            new: false,
        });
    }
    let inbox_id = ingest_one(c, item, headers, log)?;
    c.execute(
        "INSERT INTO mailbox_messages (scope, uid, inbox_id, is_bounce, fetched_at) VALUES ($1, $2, $3, $4, $5)",
        &[&scope, &uid, &inbox_id, &is_bounce, &item.received_at],
    )?;
    Ok(MailStored {
        inbox_id: Some(inbox_id),
        is_bounce,
        new: true,
    })
}

/// Leases up to `limit` inbox rows that are pending, due, and not leased or whose lease
/// expired, oldest first, to `node` until `lease_until`; returns them in id order. Rows
/// another node is claiming at this moment are skipped, not waited for.
pub(crate) fn claim(
    c: &mut Conn,
    limit: usize,
    now: Millis,
    lease_until: Millis,
    node: &str,
) -> Result<Vec<InboxRow>> {
    let rows = c.query(
        "UPDATE inbox SET locked_until = $3, locked_by = $4
         WHERE id IN (SELECT id FROM inbox
                      WHERE state = 'pending' AND next_attempt_at <= $1
                            AND (locked_until IS NULL OR locked_until <= $1)
                      ORDER BY id LIMIT $2
                      FOR UPDATE SKIP LOCKED)
         RETURNING id, source_id, provider, received_at, headers, body, attempts",
        &[&now, &(limit as i64), &lease_until, &node],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let headers: String = r.try_get(4)?;
        let attempts: u32 = small(&r, 6)?;
        let source_id: Option<i64> = r.try_get(1)?;
        let provider: Option<String> = r.try_get(2)?;
        out.push(InboxRow {
            id: r.try_get(0)?,
            source_id: source_id.unwrap_or_default(),
            provider: provider.unwrap_or_default(),
            received_at: r.try_get(3)?,
            headers: serde_json::from_str(&headers).unwrap_or_default(),
            body: r.try_get(5)?,
            attempts: attempts + 1,
        });
    }
    // RETURNING gives rows in no promised order.
    out.sort_unstable_by_key(|r| r.id);
    Ok(out)
}

pub(crate) fn replay(c: &mut Conn, log_id: i64) -> Result<()> {
    let state: Option<String> = c
        .query_opt("SELECT state FROM inbox WHERE id = $1", &[&log_id])?
        .map(|r| r.try_get(0))
        .transpose()?;
    match state.as_deref() {
        None => Err(StoreError::NotFound(format!("no request log entry {log_id}"))),
        Some("logged") => Err(StoreError::Invalid(format!(
            "request {log_id} was rejected or answered without being stored: its body was not kept, nothing to replay"
        ))),
        Some(_) => {
            c.execute(
                "UPDATE inbox SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE id = $1",
                &[&log_id],
            )?;
            Ok(())
        }
    }
}

pub(crate) fn inbox_counts(c: &mut Conn) -> Result<InboxCounts> {
    let mut counts = InboxCounts::default();
    for r in c.query("SELECT state, COUNT(*) FROM inbox GROUP BY state", &[])? {
        let (state, n): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
        match state.as_str() {
            "pending" => counts.pending = n as u64,
            "done" => counts.done = n as u64,
            "failed" => counts.failed = n as u64,
            _ => {}
        }
    }
    Ok(counts)
}

pub(crate) fn oldest_pending_received_at(c: &mut Conn) -> Result<Option<Millis>> {
    // `inbox_pending` (id WHERE state = 'pending'): the first entry, not a scan.
    let row = c.query_opt(
        "SELECT received_at FROM inbox WHERE state = 'pending' ORDER BY id LIMIT 1",
        &[],
    )?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

pub(crate) fn status_counts(c: &mut Conn) -> Result<StatusCounts> {
    let mut counts = StatusCounts::default();
    for r in c.query(crate::common::STATUS_COUNTS_SQL, &[])? {
        let (status, n): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
        counts.add(&status, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}

pub(crate) fn hourly_event_counts(
    c: &mut Conn,
    since: Millis,
    after_id: i64,
) -> Result<HourlyCounts> {
    let upto_id: i64 = c
        .query_one(crate::common::NEWEST_EVENT_SQL, &[])?
        .try_get(0)?;
    let sql = if after_id == 0 {
        crate::common::HOURLY_EVENTS_SQL
    } else {
        crate::common::HOURLY_EVENTS_AFTER_SQL
    };
    let mut rows = Vec::new();
    for r in c.query(sql, &[&since, &after_id, &upto_id])? {
        rows.push(HourCount {
            hour: r.try_get(0)?,
            source_id: r.try_get(1)?,
            kind: r.try_get(2)?,
            sending_domain: r.try_get(3)?,
            count: u64::try_from(r.try_get::<_, i64>(4)?).unwrap_or(0),
        });
    }
    Ok(HourlyCounts { upto_id, rows })
}

pub(crate) fn source_traffic(c: &mut Conn, since: Millis) -> Result<Vec<SourceTraffic>> {
    let mut out = Vec::new();
    for r in c.query(crate::common::SOURCE_TRAFFIC_SQL, &[&since])? {
        out.push(SourceTraffic {
            source_id: r.try_get(0)?,
            accepted: u64::try_from(r.try_get::<_, i64>(1)?).unwrap_or(0),
            last_received_at: r.try_get(2)?,
            rejected: u64::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- retention

/// See [`crate::Store::try_lock`]; removes a few expired locks on the way.
pub(crate) fn try_lock(
    c: &mut Conn,
    name: &str,
    holder: &str,
    until: Millis,
    now: Millis,
) -> Result<bool> {
    c.execute(
        "DELETE FROM named_locks WHERE name IN (
             SELECT name FROM named_locks WHERE until < $1 AND name <> $2
             LIMIT 10 FOR UPDATE SKIP LOCKED)",
        &[&now, &name],
    )?;
    let taken = c.query_opt(
        "INSERT INTO named_locks (name, holder, until) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
         WHERE named_locks.until <= $4 OR named_locks.holder = EXCLUDED.holder
         RETURNING 1",
        &[&name, &holder, &until, &now],
    )?;
    Ok(taken.is_some())
}

/// See [`crate::Store::unlock`].
pub(crate) fn unlock(c: &mut Conn, name: &str, holder: &str) -> Result<()> {
    c.execute(
        "DELETE FROM named_locks WHERE name = $1 AND holder = $2",
        &[&name, &holder],
    )?;
    Ok(())
}

pub(crate) fn add_rejections(c: &mut Conn, counts: &[RejectionCount]) -> Result<()> {
    for r in counts {
        c.execute(
            "INSERT INTO rejection_counts (minute, source_id, provider, http_status, error, count)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (minute, source_id, provider, http_status, error)
             DO UPDATE SET count = rejection_counts.count + excluded.count",
            &[
                &r.minute,
                &r.source_id.unwrap_or(0),
                &r.provider.as_deref().unwrap_or(""),
                &i64::from(r.http_status),
                &r.error,
                &i64::try_from(r.count).unwrap_or(i64::MAX),
            ],
        )?;
    }
    Ok(())
}

pub(crate) fn list_rejections(
    c: &mut Conn,
    since: Millis,
    limit: u32,
) -> Result<Vec<RejectionCount>> {
    let rows = c.query(
        "SELECT minute, source_id, provider, http_status, error, count FROM rejection_counts
         WHERE minute >= $1 ORDER BY minute DESC, count DESC LIMIT $2",
        &[&since, &i64::from(limit)],
    )?;
    rows.iter()
        .map(|r| {
            let source_id: i64 = r.try_get(1)?;
            let provider: String = r.try_get(2)?;
            let count: i64 = r.try_get(5)?;
            Ok(RejectionCount {
                minute: r.try_get(0)?,
                source_id: (source_id != 0).then_some(source_id),
                provider: (!provider.is_empty()).then_some(provider),
                http_status: small(r, 3)?,
                error: r.try_get(4)?,
                count: u64::try_from(count).unwrap_or(0),
            })
        })
        .collect()
}

/// One batch: the oldest rows first (ids grow with time), so a batch is an index range.
pub(crate) fn prune(c: &mut Conn, before: Millis, batch: u32) -> Result<PruneReport> {
    let batch = i64::from(batch);
    let requests = c.execute(
        "DELETE FROM inbox WHERE id IN (
             SELECT id FROM inbox WHERE received_at < $1 AND state IN ('done', 'logged')
             ORDER BY id LIMIT $2)",
        &[&before, &batch],
    )?;
    let rejection_counts = c.execute(
        "DELETE FROM rejection_counts WHERE (minute, source_id, provider, http_status, error) IN (
             SELECT minute, source_id, provider, http_status, error FROM rejection_counts
             WHERE minute < $1 LIMIT $2)",
        &[&before, &batch],
    )?;
    let deliveries = c.execute(crate::outbound::PRUNE_DELIVERIES, &[&before, &batch])?;
    let outbox = c.execute(crate::outbound::PRUNE_OUTBOX, &[&before, &batch])?;
    Ok(PruneReport {
        requests,
        rejection_counts,
        outbox,
        deliveries,
    })
}

// ---------------------------------------------------------------- sources & settings

fn source_from_row(r: &Row) -> Result<Source> {
    Ok(Source {
        id: r.try_get(0)?,
        provider: r.try_get(1)?,
        name: r.try_get(2)?,
        key: r.try_get(3)?,
        secret: r.try_get(4)?,
        config: parse_json(r.try_get(5)?),
        status: r.try_get(6)?,
        status_message: r.try_get(7)?,
        created_at: r.try_get(8)?,
    })
}

pub(crate) fn create_source(c: &mut Conn, s: &NewSource) -> Result<Source> {
    let r = c.query_one(
        &format!(
            "INSERT INTO sources (provider, name, url_key, secret, config, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SOURCE_COLS}"
        ),
        &[
            &s.provider,
            &s.name,
            &s.key,
            &s.secret,
            &json_text(&s.config),
            &s.created_at,
        ],
    )?;
    source_from_row(&r)
}

pub(crate) fn list_sources(c: &mut Conn) -> Result<Vec<Source>> {
    c.query(
        &format!("SELECT {SOURCE_COLS} FROM sources ORDER BY id"),
        &[],
    )?
    .iter()
    .map(source_from_row)
    .collect()
}

pub(crate) fn get_setting(c: &mut Conn, key: &str) -> Result<Option<serde_json::Value>> {
    let v: Option<String> = c
        .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?
        .map(|r| r.try_get(0))
        .transpose()?;
    Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
}

pub(crate) fn put_setting(
    c: &mut Conn,
    key: &str,
    value: &serde_json::Value,
    overwrite: bool,
) -> Result<bool> {
    let sql = if overwrite {
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    } else {
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING"
    };
    Ok(c.execute(sql, &[&key, &value.to_string(), &now_ms()])? > 0)
}

// ---------------------------------------------------------------- contacts

fn contact_from_row(r: &Row) -> Result<Contact> {
    let status: String = r.try_get(3)?;
    let status = Status::parse(&status).unwrap_or_default();
    let soft: String = r.try_get(6)?;
    Ok(Contact {
        id: r.try_get(0)?,
        uuid: r.try_get(1)?,
        email: r.try_get(2)?,
        status,
        reason: r.try_get(4)?,
        suppressed: status.is_suppressed(),
        soft_bounce_count: small(r, 5)?,
        soft_bounces: serde_json::from_str(&soft).unwrap_or_default(),
        last_event_at: r.try_get(7)?,
        last_delivered_at: r.try_get(8)?,
        last_engaged_at: r.try_get(9)?,
        attributes: parse_json(r.try_get(10)?),
        created_at: r.try_get(11)?,
        updated_at: r.try_get(12)?,
    })
}

/// The contact whose `column` (`email_key` or `uuid`) is `value`.
pub(crate) fn contact_by(c: &mut Conn, column: &str, value: &str) -> Result<Option<Contact>> {
    let sql = format!("SELECT {CONTACT_COLS} FROM contacts WHERE {column} = $1");
    c.query_opt(&sql, &[&value])?
        .map(|r| contact_from_row(&r))
        .transpose()
}

fn contact_by_id(c: &mut Conn, id: i64) -> Result<Option<Contact>> {
    let sql = format!("SELECT {CONTACT_COLS} FROM contacts WHERE id = $1");
    c.query_opt(&sql, &[&id])?
        .map(|r| contact_from_row(&r))
        .transpose()
}

/// Contacts by normalized address, in the order asked, in one query.
pub(crate) fn contacts_by_keys(c: &mut Conn, keys: &[String]) -> Result<Vec<Option<Contact>>> {
    let sql = format!("SELECT email_key, {CONTACT_COLS} FROM contacts WHERE email_key = ANY($1)");
    let mut found = std::collections::HashMap::new();
    for r in c.query(&sql, &[&keys])? {
        let key: String = r.try_get(0)?;
        // The contact's columns follow the key.
        let contact = contact_from_row_at(&r, 1)?;
        found.insert(key, contact);
    }
    Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
}

fn contact_from_row_at(r: &Row, at: usize) -> Result<Contact> {
    let status: String = r.try_get(at + 3)?;
    let status = Status::parse(&status).unwrap_or_default();
    let soft: String = r.try_get(at + 6)?;
    Ok(Contact {
        id: r.try_get(at)?,
        uuid: r.try_get(at + 1)?,
        email: r.try_get(at + 2)?,
        status,
        reason: r.try_get(at + 4)?,
        suppressed: status.is_suppressed(),
        soft_bounce_count: small(r, at + 5)?,
        soft_bounces: serde_json::from_str(&soft).unwrap_or_default(),
        last_event_at: r.try_get(at + 7)?,
        last_delivered_at: r.try_get(at + 8)?,
        last_engaged_at: r.try_get(at + 9)?,
        attributes: parse_json(r.try_get(at + 10)?),
        created_at: r.try_get(at + 11)?,
        updated_at: r.try_get(at + 12)?,
    })
}

fn record_manual(
    c: &mut Conn,
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
    let event_id: i64 = c.query_one(
        "INSERT INTO events (dedup_key, contact_id, provider, kind, reason, occurred_at, recorded_at, status_before, status_after, note)
         VALUES ($1, $2, $3, 'other', $4, $5, $5, $6, $7, $8) RETURNING id",
        &[
            &format!("{provider}:manual:{}", crate::new_uuid()),
            &contact_id,
            &provider,
            &reason,
            &now,
            &before.as_str(),
            &after.as_str(),
            &crate::common::manual_note(by, before, after),
        ],
    )?
    .try_get(0)?;
    announce_manual(
        &mut super::rows::PgRows(c),
        (contact_id, uuid, email, event_id),
        provider,
        (before, after, reason),
        now,
    )
}

pub(crate) fn upsert_contacts(
    c: &mut Conn,
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
                let manual_status = manual.map(|_| status.as_str());
                let id: i64 = c
                    .query_one(
                        "INSERT INTO contacts (email, email_key, uuid, status, reason, attributes, created_at, updated_at,
                                               manual_at, manual_status, manual_reason)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $5) RETURNING id",
                        &[
                            &n.email,
                            &n.email_key,
                            &uuid,
                            &status.as_str(),
                            &reason,
                            &json_text(&n.attributes),
                            &n.now,
                            &manual,
                            &manual_status,
                        ],
                    )?
                    .try_get(0)?;
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
                c.execute(
                    "UPDATE contacts SET status = $1, reason = $2, attributes = $3, updated_at = $4,
                            soft_bounce_count = 0, soft_bounces = '[]',
                            manual_at = $6, manual_status = $1, manual_reason = $2
                     WHERE id = $5",
                    &[
                        &status.as_str(),
                        &reason,
                        &json_text(&n.attributes),
                        &n.now,
                        &old.id,
                        &manual_at(old.last_event_at, n.now),
                    ],
                )?;
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
    c: &mut Conn,
    key: &str,
    patch: &ContactPatch,
    now: Millis,
) -> Result<Contact> {
    // Locked: a node applying events of this contact waits for the patch, and the other way.
    let sql = format!("SELECT {CONTACT_COLS} FROM contacts WHERE email_key = $1 FOR UPDATE");
    let old = c
        .query_opt(&sql, &[&key])?
        .map(|r| contact_from_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("no contact {key}")))?;
    let attrs = patch.merged_attributes(&old.attributes);
    let (status, reason) = patch.status_and_reason(&old);
    // A status set by hand is the base the policy folds later events onto (see
    // `ContactState::set_manually`); a patch of attributes only changes nothing of that.
    let set_by_hand = patch.status.is_some();
    c.execute(
        "UPDATE contacts SET status = $1, reason = $2, attributes = $3, updated_at = $4,
                soft_bounce_count = CASE WHEN $6 THEN 0 ELSE soft_bounce_count END,
                soft_bounces = CASE WHEN $6 THEN '[]' ELSE soft_bounces END,
                manual_at = CASE WHEN $6 THEN $7 ELSE manual_at END,
                manual_status = CASE WHEN $6 THEN $1 ELSE manual_status END,
                manual_reason = CASE WHEN $6 THEN $2 ELSE manual_reason END
         WHERE id = $5",
        &[
            &status.as_str(),
            &reason,
            &serde_json::Value::Object(attrs).to_string(),
            &now,
            &old.id,
            &set_by_hand,
            &manual_at(old.last_event_at, now),
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
    contact_by_id(c, old.id)?.ok_or_else(|| StoreError::NotFound(key.to_string()))
}

pub(crate) fn delete_contact(c: &mut Conn, key: &str) -> Result<bool> {
    let Some(row) = c.query_opt(
        "SELECT id FROM contacts WHERE email_key = $1 FOR UPDATE",
        &[&key],
    )?
    else {
        return Ok(false);
    };
    let id: i64 = row.try_get(0)?;
    c.execute("DELETE FROM events WHERE contact_id = $1", &[&id])?;
    c.execute("DELETE FROM contacts WHERE id = $1", &[&id])?;
    Ok(true)
}

pub(crate) fn list_contacts(c: &mut Conn, f: &ContactFilter) -> Result<Page<Contact>> {
    let limit = clamp_limit(f.limit);
    let after = cursor_id(&f.cursor)?.unwrap_or(0);
    // LIKE's escape character is the backslash.
    let q = f.q.as_ref().map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows = c.query(
        &format!(
            "SELECT {CONTACT_COLS} FROM contacts
             WHERE id > $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR email_key LIKE $3)
               AND ($5::text IS NULL OR reason = $5)
               AND ($6::bigint IS NULL OR EXISTS (SELECT 1 FROM events WHERE events.contact_id = contacts.id AND events.source_id = $6))
               AND ($7::bigint IS NULL OR last_event_at >= $7) AND ($8::bigint IS NULL OR last_event_at < $8)
             ORDER BY id LIMIT $4"
        ),
        &[
            &after,
            &f.status.map(Status::as_str),
            &q,
            &i64::from(limit + 1),
            &f.reason,
            &f.source_id,
            &f.since,
            &f.until,
        ],
    )?;
    let items = rows
        .iter()
        .map(contact_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page(items, limit, |c| c.id))
}

// ---------------------------------------------------------------- events & log

pub(crate) fn list_events(c: &mut Conn, f: &EventFilter) -> Result<Page<StoredEvent>> {
    let limit = clamp_limit(f.limit);
    let before = cursor_id(&f.cursor)?.unwrap_or(i64::MAX);
    let contact_id: Option<i64> = match &f.email_key {
        Some(k) => match c.query_opt("SELECT id FROM contacts WHERE email_key = $1", &[k])? {
            Some(r) => Some(r.try_get(0)?),
            None => {
                return Ok(Page {
                    items: vec![],
                    next_cursor: None,
                })
            }
        },
        None => None,
    };
    // One contact's timeline names the contact outright, so that it is read from
    // `events_contact (contact_id, id)` whatever plan a prepared statement settles on: with
    // `$2 IS NULL OR …` a generic plan cannot use the index (as on SQLite, where it walked the
    // whole table at 5,000,000 events; bench/ui.sh).
    let contact_cond = if contact_id.is_some() {
        "e.contact_id = $2"
    } else {
        "$2::bigint IS NULL"
    };
    let rows = c.query(
        &format!(
            "SELECT e.id, c.email, e.source_id, e.provider, e.kind, e.class, e.reason, e.status_code, e.diagnostic,
                e.message_id, e.provider_event_id, e.occurred_at, e.recorded_at, e.status_before, e.status_after,
                e.note, e.details, e.inbox_id, e.sending_domain
         FROM events e JOIN contacts c ON c.id = e.contact_id
         WHERE e.id < $1 AND {contact_cond} AND ($3::text IS NULL OR e.kind = $3)
               AND ($4::bigint IS NULL OR e.source_id = $4)
         ORDER BY e.id DESC LIMIT $5"
        ),
        &[
            &before,
            &contact_id,
            &f.kind,
            &f.source_id,
            &i64::from(limit + 1),
        ],
    )?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(StoredEvent {
                id: r.try_get(0)?,
                email: r.try_get(1)?,
                source_id: r.try_get(2)?,
                provider: r.try_get(3)?,
                kind: r.try_get(4)?,
                class: r.try_get(5)?,
                reason: r.try_get(6)?,
                status: r.try_get(7)?,
                diagnostic: r.try_get(8)?,
                message_id: r.try_get(9)?,
                provider_event_id: r.try_get(10)?,
                occurred_at: r.try_get(11)?,
                recorded_at: r.try_get(12)?,
                status_before: r.try_get(13)?,
                status_after: r.try_get(14)?,
                note: r.try_get(15)?,
                details: parse_json(r.try_get(16)?),
                inbox_id: r.try_get(17)?,
                sending_domain: r.try_get(18)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(page(items, limit, |e| e.id))
}

pub(crate) fn list_log(c: &mut Conn, f: &LogFilter) -> Result<Page<LogEntry>> {
    let limit = clamp_limit(f.limit);
    let before = cursor_id(&f.cursor)?.unwrap_or(i64::MAX);
    let rows = c.query(
        "SELECT id, received_at, source_id, provider, method, path, remote_addr, http_status,
                outcome, error, state, attempts, last_error, events_created
         FROM inbox
         WHERE id < $1 AND ($2::text IS NULL OR outcome = $2) AND ($3::text IS NULL OR state = $3)
               AND ($4::bigint IS NULL OR source_id = $4)
               AND ($6::bigint IS NULL OR http_status >= $6)
               AND ($7::bigint IS NULL OR http_status <= $7)
               AND ($8::bigint IS NULL OR received_at >= $8)
               AND ($9::bigint IS NULL OR received_at < $9)
         ORDER BY id DESC LIMIT $5",
        &[
            &before,
            &f.outcome,
            &f.processing,
            &f.source_id,
            &i64::from(limit + 1),
            &f.status_min.map(i64::from),
            &f.status_max.map(i64::from),
            &f.since,
            &f.until,
        ],
    )?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(log_entry_shape(LogEntry {
                id: r.try_get(0)?,
                received_at: r.try_get(1)?,
                source_id: r.try_get(2)?,
                provider: r.try_get(3)?,
                method: r.try_get(4)?,
                path: r.try_get(5)?,
                remote_addr: r.try_get(6)?,
                http_status: small(r, 7)?,
                outcome: r.try_get(8)?,
                error: r.try_get(9)?,
                inbox_id: None,
                processing: r.try_get(10)?,
                attempts: small_opt(r, 11)?,
                processing_error: r.try_get(12)?,
                events: small_opt(r, 13)?,
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(page(items, limit, |e: &LogEntry| e.id))
}

pub(crate) fn raw_request(c: &mut Conn, id: i64) -> Result<Option<RawRequest>> {
    c.query_opt(crate::common::RAW_REQUEST_SQL, &[&id])?
        .map(|r| {
            let headers: String = r.try_get(0)?;
            Ok(RawRequest {
                headers: crate::common::parse_headers(&headers),
                body: r.try_get(1)?,
            })
        })
        .transpose()
}

pub(crate) fn kind_counts_by_sending_domain(
    c: &mut Conn,
    since: Millis,
) -> Result<Vec<DomainKindCount>> {
    kind_counts(c, KIND_COUNTS_BY_SENDING_DOMAIN_SQL, since, domain_count)
}

pub(crate) fn kind_counts_by_source(c: &mut Conn, since: Millis) -> Result<Vec<SourceKindCount>> {
    kind_counts(c, KIND_COUNTS_BY_SOURCE_SQL, since, source_count)
}

/// The `(group, kind, count)` rows of a count query since `since`, as `T`.
fn kind_counts<G: for<'a> ::postgres::types::FromSql<'a>, T>(
    c: &mut Conn,
    sql: &str,
    since: Millis,
    row: impl Fn(G, String, u64) -> T,
) -> Result<Vec<T>> {
    c.query(sql, &[&since])?
        .iter()
        .map(|r| {
            let count = u64::try_from(r.try_get::<_, i64>(2)?).unwrap_or(0);
            Ok(row(r.try_get(0)?, r.try_get(1)?, count))
        })
        .collect()
}
