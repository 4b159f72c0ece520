//! What keeps the database from growing without bound: rejection counts instead of one row
//! per rejected request, and pruning of old request-log rows and counts.

use rebound_core::Millis;
use rusqlite::{params, Connection};

use crate::{PruneReport, RejectionCount, Result};

pub(crate) fn add_rejections(c: &Connection, counts: &[RejectionCount]) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO rejection_counts (minute, source_id, provider, http_status, error, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (minute, source_id, provider, http_status, error)
         DO UPDATE SET count = count + excluded.count",
    )?;
    for r in counts {
        stmt.execute(params![
            r.minute,
            r.source_id.unwrap_or(0),
            r.provider.as_deref().unwrap_or(""),
            r.http_status,
            r.error,
            i64::try_from(r.count).unwrap_or(i64::MAX),
        ])?;
    }
    Ok(())
}

pub(crate) fn list_rejections(
    c: &Connection,
    since: Millis,
    limit: u32,
) -> Result<Vec<RejectionCount>> {
    let mut stmt = c.prepare_cached(
        "SELECT minute, source_id, provider, http_status, error, count FROM rejection_counts
         WHERE minute >= ?1 ORDER BY minute DESC, count DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![since, limit], |r| {
            let source_id: i64 = r.get(1)?;
            let provider: String = r.get(2)?;
            let count: i64 = r.get(5)?;
            Ok(RejectionCount {
                minute: r.get(0)?,
                source_id: (source_id != 0).then_some(source_id),
                provider: (!provider.is_empty()).then_some(provider),
                http_status: r.get(3)?,
                error: r.get(4)?,
                count: u64::try_from(count).unwrap_or(0),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// One batch: the oldest rows first (ids grow with time), so a batch is an index range.
pub(crate) fn prune(c: &Connection, before: Millis, batch: u32) -> Result<PruneReport> {
    let requests = c.execute(
        "DELETE FROM inbox WHERE id IN (
             SELECT id FROM inbox WHERE received_at < ?1 AND state IN ('done', 'logged')
             ORDER BY id LIMIT ?2)",
        params![before, batch],
    )?;
    let rejection_counts = c.execute(
        "DELETE FROM rejection_counts WHERE rowid IN (
             SELECT rowid FROM rejection_counts WHERE minute < ?1 LIMIT ?2)",
        params![before, batch],
    )?;
    let deliveries = c.execute(crate::outbound::PRUNE_DELIVERIES, params![before, batch])?;
    let outbox = c.execute(crate::outbound::PRUNE_OUTBOX, params![before, batch])?;
    Ok(PruneReport {
        requests: requests as u64,
        rejection_counts: rejection_counts as u64,
        outbox: outbox as u64,
        deliveries: deliveries as u64,
    })
}

/// Takes the named lock for `holder` until `until` unless another holder has it and it has
/// not expired; removes a few expired locks on the way (their number stays bounded).
pub(crate) fn try_lock(
    c: &Connection,
    name: &str,
    holder: &str,
    until: Millis,
    now: Millis,
) -> Result<bool> {
    c.prepare_cached(
        "DELETE FROM named_locks WHERE name IN (
             SELECT name FROM named_locks WHERE until < ?1 AND name <> ?2 LIMIT 10)",
    )?
    .execute(params![now, name])?;
    let taken = c
        .prepare_cached(
            "INSERT INTO named_locks (name, holder, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE named_locks.until <= ?4 OR named_locks.holder = excluded.holder",
        )?
        .execute(params![name, holder, until, now])?;
    Ok(taken == 1)
}
