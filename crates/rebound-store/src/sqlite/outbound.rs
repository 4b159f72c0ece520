//! The SQL of outbound webhooks on SQLite ([`crate::outbound`]).

use rebound_core::Millis;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::outbound::*;
use crate::{Result, StoreError};

const SUB_COLS: &str = "id, url, kind, events, secret, previous_secret, previous_until, enabled,
                        description, created_at, failing_since, disabled_reason, sources";

fn sub_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<Subscription> {
    let kind: String = r.get(at + 2)?;
    let events: String = r.get(at + 3)?;
    Ok(Subscription {
        id: r.get(at)?,
        url: r.get(at + 1)?,
        kind: SubscriptionKind::parse(&kind).unwrap_or(SubscriptionKind::Webhook),
        events: parse_events(&events),
        secret: r.get(at + 4)?,
        previous_secret: r.get(at + 5)?,
        previous_until: r.get(at + 6)?,
        enabled: r.get(at + 7)?,
        description: r.get(at + 8)?,
        created_at: r.get(at + 9)?,
        failing_since: r.get(at + 10)?,
        disabled_reason: r.get(at + 11)?,
        sources: parse_sources(r.get::<_, Option<String>>(at + 12)?.as_deref()),
    })
}

pub(crate) fn create_subscription(c: &Connection, s: &NewSubscription) -> Result<Subscription> {
    c.execute(
        "INSERT INTO subscriptions (url, kind, events, secret, description, created_at, sources)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            s.url,
            s.kind.as_str(),
            events_text(&s.events),
            s.secret,
            s.description,
            s.created_at,
            sources_text(s.sources.as_deref())
        ],
    )?;
    let id = c.last_insert_rowid();
    get_subscription(c, id)?.ok_or_else(|| StoreError::Db("subscription not stored".into()))
}

fn get_subscription(c: &Connection, id: i64) -> Result<Option<Subscription>> {
    let sql = format!("SELECT {SUB_COLS} FROM subscriptions WHERE id = ?1");
    Ok(c.query_row(&sql, [id], |r| sub_from_row(r, 0)).optional()?)
}

pub(crate) fn list_subscriptions(c: &Connection) -> Result<Vec<Subscription>> {
    let sql = format!("SELECT {SUB_COLS} FROM subscriptions ORDER BY id");
    let mut stmt = c.prepare(&sql)?;
    let subs = stmt
        .query_map([], |r| sub_from_row(r, 0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(subs)
}

pub(crate) fn update_subscription(c: &Connection, s: &Subscription) -> Result<()> {
    let n = c.execute(
        "UPDATE subscriptions SET url = ?1, events = ?2, secret = ?3, previous_secret = ?4,
                previous_until = ?5, enabled = ?6, description = ?7, failing_since = ?8,
                disabled_reason = ?9, sources = ?11
         WHERE id = ?10",
        params![
            s.url,
            events_text(&s.events),
            s.secret,
            s.previous_secret,
            s.previous_until,
            s.enabled,
            s.description,
            s.failing_since,
            s.disabled_reason,
            s.id,
            sources_text(s.sources.as_deref())
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no subscription {}", s.id)));
    }
    Ok(())
}

pub(crate) fn claim_outbox(
    c: &Connection,
    limit: usize,
    now: Millis,
    lease_until: Millis,
    node: &str,
) -> Result<Vec<OutboxItem>> {
    let ids: Vec<i64> = c
        .prepare_cached(
            "UPDATE outbox SET locked_until = ?3, locked_by = ?4
             WHERE id IN (
                 SELECT o.id FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
                 WHERE o.state = 'pending' AND o.next_attempt_at <= ?1 AND s.enabled
                       AND (o.locked_until IS NULL OR o.locked_until <= ?1)
                       AND NOT EXISTS (SELECT 1 FROM outbox p
                                       WHERE p.subscription_id = o.subscription_id
                                             AND p.contact_id = o.contact_id
                                             AND p.state = 'pending' AND p.id < o.id)
                 ORDER BY o.id LIMIT ?2)
             RETURNING id",
        )?
        .query_map(params![now, limit as i64, lease_until, node], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let sql = format!(
        "SELECT o.id, o.message_id, o.payload, o.attempts, o.created_at, {}
         FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id WHERE o.id = ?1",
        SUB_COLS
            .split(',')
            .map(|c| format!("s.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(stmt.query_row([id], |r| {
            Ok(OutboxItem {
                id: r.get(0)?,
                message_id: r.get(1)?,
                payload: r.get(2)?,
                attempt: r.get::<_, u32>(3)? + 1,
                created_at: r.get(4)?,
                subscription: sub_from_row(r, 5)?,
            })
        })?);
    }
    out.sort_unstable_by_key(|o| o.id);
    Ok(out)
}

pub(crate) fn record_attempt(c: &Connection, a: &AttemptRecord) -> Result<()> {
    let ok = a.next == OutboxNext::Delivered;
    c.prepare_cached(
        "INSERT INTO deliveries (outbox_id, subscription_id, attempt, attempted_at, http_status,
                                 latency_ms, response, error, ok)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        a.outbox_id,
        a.subscription_id,
        a.attempt,
        a.at,
        a.http_status,
        a.latency_ms,
        a.response,
        a.error,
        ok
    ])?;
    let (state, next_at) = match a.next {
        OutboxNext::Delivered => ("delivered", a.at),
        OutboxNext::Retry(at) => ("pending", at),
        OutboxNext::GaveUp => ("failed", a.at),
    };
    c.prepare_cached(
        "UPDATE outbox SET state = ?1, attempts = ?2, next_attempt_at = ?3, updated_at = ?4,
                locked_until = NULL, locked_by = NULL
         WHERE id = ?5 AND state = 'pending'",
    )?
    .execute(params![state, a.attempt, next_at, a.at, a.outbox_id])?;
    c.prepare_cached(
        "UPDATE subscriptions SET
                failing_since = CASE WHEN ?1 THEN NULL ELSE COALESCE(failing_since, ?2) END,
                enabled = CASE WHEN ?3 IS NULL THEN enabled ELSE 0 END,
                disabled_reason = COALESCE(?3, disabled_reason)
         WHERE id = ?4",
    )?
    .execute(params![ok, a.at, a.disable, a.subscription_id])?;
    Ok(())
}

pub(crate) fn list_deliveries(
    c: &Connection,
    subscription_id: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Delivery>> {
    let mut stmt = c.prepare_cached(
        "SELECT d.id, d.outbox_id, o.message_id, o.event_type, d.attempt, d.attempted_at,
                d.http_status, d.latency_ms, d.response, d.error, d.ok, o.state
         FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
         WHERE d.subscription_id = ?1 AND d.id < ?2
         ORDER BY d.id DESC LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(
            params![subscription_id, before.unwrap_or(i64::MAX), limit],
            |r| {
                Ok(Delivery {
                    id: r.get(0)?,
                    outbox_id: r.get(1)?,
                    message_id: r.get(2)?,
                    event_type: r.get(3)?,
                    attempt: r.get(4)?,
                    attempted_at: r.get(5)?,
                    http_status: r.get(6)?,
                    latency_ms: r.get(7)?,
                    response: r.get(8)?,
                    error: r.get(9)?,
                    ok: r.get(10)?,
                    state: r.get(11)?,
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub(crate) fn requeue(
    c: &Connection,
    subscription_id: i64,
    what: Requeue,
    now: Millis,
) -> Result<u64> {
    let n = match what {
        Requeue::Delivery(id) => c.execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?1,
                    updated_at = ?1, locked_until = NULL, locked_by = NULL
             WHERE subscription_id = ?2
                   AND id = (SELECT outbox_id FROM deliveries WHERE id = ?3)",
            params![now, subscription_id, id],
        )?,
        Requeue::FailedSince(since) => c.execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?1,
                    updated_at = ?1, locked_until = NULL, locked_by = NULL
             WHERE subscription_id = ?2 AND state = 'failed' AND updated_at >= ?3",
            params![now, subscription_id, since],
        )?,
    };
    Ok(n as u64)
}

pub(crate) fn next_outbox_due(c: &Connection) -> Result<Option<Millis>> {
    Ok(c.prepare_cached(
        "SELECT MIN(MAX(o.next_attempt_at, COALESCE(o.locked_until, 0)))
         FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
         WHERE o.state = 'pending' AND s.enabled
               AND NOT EXISTS (SELECT 1 FROM outbox p
                               WHERE p.subscription_id = o.subscription_id
                                     AND p.contact_id = o.contact_id
                                     AND p.state = 'pending' AND p.id < o.id)",
    )?
    .query_row([], |r| r.get(0))?)
}
