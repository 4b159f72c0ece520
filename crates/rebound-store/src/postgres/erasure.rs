//! Erasure on PostgreSQL: the shared SQL of [`crate::erasure`].

use std::collections::HashSet;

use rebound_core::Millis;

use super::Conn;
use crate::erasure::*;
use crate::Result;

pub(crate) fn erase(c: &mut Conn, key: &str, hash: &str, now: Millis) -> Result<bool> {
    let row = c.query_opt(
        "SELECT id FROM contacts WHERE email_key = $1 FOR UPDATE",
        &[&key],
    )?;
    let id: Option<i64> = row.map(|r| r.try_get(0)).transpose()?;
    if let Some(id) = id {
        c.execute(EMPTY_BODIES, &[&Vec::<u8>::new(), &id])?;
        c.execute(DELETE_DELIVERIES, &[&id])?;
        c.execute(DELETE_OUTBOX, &[&id])?;
        c.execute(DELETE_EVENTS, &[&id])?;
        c.execute(DELETE_CONTACT, &[&id])?;
    }
    c.execute(RECORD, &[&hash, &now])?;
    Ok(id.is_some())
}

pub(crate) fn erased(c: &mut Conn, hashes: &[String]) -> Result<HashSet<String>> {
    let rows = c.query(
        "SELECT address_hash FROM erased WHERE address_hash = ANY($1)",
        &[&hashes],
    )?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}
