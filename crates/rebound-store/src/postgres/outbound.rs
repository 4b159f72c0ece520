//! The SQL of outbound webhooks on PostgreSQL ([`crate::outbound`]).

use ::postgres::Row;
use rebound_core::Millis;

use super::ops::{small, small_opt};
use super::Conn;
use crate::outbound::*;
use crate::{Result, StoreError};

const SUB_COLS: &str =
    "s.id, s.url, s.kind, s.events, s.secret, s.previous_secret, s.previous_until,
                        s.enabled, s.description, s.created_at, s.failing_since, s.disabled_reason, s.sources";

fn sub_from_row(r: &Row, at: usize) -> Result<Subscription> {
    let kind: String = r.try_get(at + 2)?;
    let events: String = r.try_get(at + 3)?;
    Ok(Subscription {
        id: r.try_get(at)?,
        url: r.try_get(at + 1)?,
        kind: SubscriptionKind::parse(&kind).unwrap_or(SubscriptionKind::Webhook),
        events: parse_events(&events),
        secret: r.try_get(at + 4)?,
        previous_secret: r.try_get(at + 5)?,
        previous_until: r.try_get(at + 6)?,
        enabled: r.try_get(at + 7)?,
        description: r.try_get(at + 8)?,
        created_at: r.try_get(at + 9)?,
        failing_since: r.try_get(at + 10)?,
        disabled_reason: r.try_get(at + 11)?,
        sources: parse_sources(r.try_get::<_, Option<String>>(at + 12)?.as_deref()),
    })
}

pub(crate) fn create_subscription(c: &mut Conn, s: &NewSubscription) -> Result<Subscription> {
    let id: i64 = c
        .query_one(
            "INSERT INTO subscriptions (url, kind, events, secret, description, created_at,
                                        sources)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &s.url,
                &s.kind.as_str(),
                &events_text(&s.events),
                &s.secret,
                &s.description,
                &s.created_at,
                &sources_text(s.sources.as_deref()),
            ],
        )?
        .try_get(0)?;
    let sql = format!("SELECT {SUB_COLS} FROM subscriptions s WHERE s.id = $1");
    let row = c
        .query_opt(&sql, &[&id])?
        .ok_or_else(|| StoreError::Db("subscription not stored".into()))?;
    sub_from_row(&row, 0)
}

pub(crate) fn list_subscriptions(c: &mut Conn) -> Result<Vec<Subscription>> {
    let sql = format!("SELECT {SUB_COLS} FROM subscriptions s ORDER BY s.id");
    c.query(&sql, &[])?
        .iter()
        .map(|r| sub_from_row(r, 0))
        .collect()
}

pub(crate) fn update_subscription(c: &mut Conn, s: &Subscription) -> Result<()> {
    let n = c.execute(
        "UPDATE subscriptions SET url = $1, events = $2, secret = $3, previous_secret = $4,
                previous_until = $5, enabled = $6, description = $7, failing_since = $8,
                disabled_reason = $9, sources = $11
         WHERE id = $10",
        &[
            &s.url,
            &events_text(&s.events),
            &s.secret,
            &s.previous_secret,
            &s.previous_until,
            &s.enabled,
            &s.description,
            &s.failing_since,
            &s.disabled_reason,
            &s.id,
            &sources_text(s.sources.as_deref()),
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no subscription {}", s.id)));
    }
    Ok(())
}

pub(crate) fn claim_outbox(
    c: &mut Conn,
    limit: usize,
    now: Millis,
    lease_until: Millis,
    node: &str,
) -> Result<Vec<OutboxItem>> {
    let sql = format!(
        "WITH claimed AS (
             UPDATE outbox SET locked_until = $3, locked_by = $4
             WHERE id IN (
                 SELECT o.id FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
                 WHERE o.state = 'pending' AND o.next_attempt_at <= $1 AND s.enabled
                       AND (o.locked_until IS NULL OR o.locked_until <= $1)
                       AND NOT EXISTS (SELECT 1 FROM outbox p
                                       WHERE p.subscription_id = o.subscription_id
                                             AND p.contact_id = o.contact_id
                                             AND p.state = 'pending' AND p.id < o.id)
                 ORDER BY o.id LIMIT $2
                 FOR UPDATE OF o SKIP LOCKED)
             RETURNING id, subscription_id, message_id, payload, attempts, created_at)
         SELECT o.id, o.message_id, o.payload, o.attempts, o.created_at, {SUB_COLS}
         FROM claimed o JOIN subscriptions s ON s.id = o.subscription_id
         ORDER BY o.id"
    );
    c.query(&sql, &[&now, &(limit as i64), &lease_until, &node])?
        .iter()
        .map(|r| {
            Ok(OutboxItem {
                id: r.try_get(0)?,
                message_id: r.try_get(1)?,
                payload: r.try_get(2)?,
                attempt: small::<u32>(r, 3)? + 1,
                created_at: r.try_get(4)?,
                subscription: sub_from_row(r, 5)?,
            })
        })
        .collect()
}

pub(crate) fn record_attempt(c: &mut Conn, a: &AttemptRecord) -> Result<()> {
    let ok = a.next == OutboxNext::Delivered;
    c.execute(
        "INSERT INTO deliveries (outbox_id, subscription_id, attempt, attempted_at, http_status,
                                 latency_ms, response, error, ok)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &a.outbox_id,
            &a.subscription_id,
            &i64::from(a.attempt),
            &a.at,
            &a.http_status.map(i64::from),
            &a.latency_ms,
            &a.response,
            &a.error,
            &ok,
        ],
    )?;
    let (state, next_at) = match a.next {
        OutboxNext::Delivered => ("delivered", a.at),
        OutboxNext::Retry(at) => ("pending", at),
        OutboxNext::GaveUp => ("failed", a.at),
    };
    c.execute(
        "UPDATE outbox SET state = $1, attempts = $2, next_attempt_at = $3, updated_at = $4,
                locked_until = NULL, locked_by = NULL
         WHERE id = $5 AND state = 'pending'",
        &[&state, &i64::from(a.attempt), &next_at, &a.at, &a.outbox_id],
    )?;
    c.execute(
        "UPDATE subscriptions SET
                failing_since = CASE WHEN $1 THEN NULL ELSE COALESCE(failing_since, $2) END,
                enabled = CASE WHEN $3::TEXT IS NULL THEN enabled ELSE FALSE END,
                disabled_reason = COALESCE($3, disabled_reason)
         WHERE id = $4",
        &[&ok, &a.at, &a.disable, &a.subscription_id],
    )?;
    Ok(())
}

pub(crate) fn list_deliveries(
    c: &mut Conn,
    subscription_id: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Delivery>> {
    c.query(
        "SELECT d.id, d.outbox_id, o.message_id, o.event_type, d.attempt, d.attempted_at,
                d.http_status, d.latency_ms, d.response, d.error, d.ok, o.state
         FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
         WHERE d.subscription_id = $1 AND d.id < $2
         ORDER BY d.id DESC LIMIT $3",
        &[
            &subscription_id,
            &before.unwrap_or(i64::MAX),
            &i64::from(limit),
        ],
    )?
    .iter()
    .map(|r| {
        Ok(Delivery {
            id: r.try_get(0)?,
            outbox_id: r.try_get(1)?,
            message_id: r.try_get(2)?,
            event_type: r.try_get(3)?,
            attempt: small(r, 4)?,
            attempted_at: r.try_get(5)?,
            http_status: small_opt(r, 6)?,
            latency_ms: r.try_get(7)?,
            response: r.try_get(8)?,
            error: r.try_get(9)?,
            ok: r.try_get(10)?,
            state: r.try_get(11)?,
        })
    })
    .collect()
}

pub(crate) fn requeue(
    c: &mut Conn,
    subscription_id: i64,
    what: Requeue,
    now: Millis,
) -> Result<u64> {
    match what {
        Requeue::Delivery(id) => c.execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1,
                    updated_at = $1, locked_until = NULL, locked_by = NULL
             WHERE subscription_id = $2
                   AND id = (SELECT outbox_id FROM deliveries WHERE id = $3)",
            &[&now, &subscription_id, &id],
        ),
        Requeue::FailedSince(since) => c.execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1,
                    updated_at = $1, locked_until = NULL, locked_by = NULL
             WHERE subscription_id = $2 AND state = 'failed' AND updated_at >= $3",
            &[&now, &subscription_id, &since],
        ),
    }
}

pub(crate) fn next_outbox_due(c: &mut Conn) -> Result<Option<Millis>> {
    Ok(c.query_one(
        "SELECT MIN(GREATEST(o.next_attempt_at, COALESCE(o.locked_until, 0)))
         FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
         WHERE o.state = 'pending' AND s.enabled
               AND NOT EXISTS (SELECT 1 FROM outbox p
                               WHERE p.subscription_id = o.subscription_id
                                     AND p.contact_id = o.contact_id
                                     AND p.state = 'pending' AND p.id < o.id)",
        &[],
    )?
    .try_get(0)?)
}
