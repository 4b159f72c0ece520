//! Erasure on SQLite: the shared SQL of [`crate::erasure`].

use std::collections::HashSet;

use rebound_core::Millis;
use rusqlite::{params, Connection, OptionalExtension};

use crate::erasure::*;
use crate::Result;

pub(crate) fn erase(c: &Connection, key: &str, hash: &str, now: Millis) -> Result<bool> {
    let id: Option<i64> = c
        .query_row("SELECT id FROM contacts WHERE email_key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(id) = id {
        c.execute(EMPTY_BODIES, params![Vec::<u8>::new(), id])?;
        c.execute(DELETE_DELIVERIES, [id])?;
        c.execute(DELETE_OUTBOX, [id])?;
        c.execute(DELETE_EVENTS, [id])?;
        c.execute(DELETE_CONTACT, [id])?;
    }
    c.execute(RECORD, params![hash, now])?;
    Ok(id.is_some())
}

pub(crate) fn erased(c: &Connection, hashes: &[String]) -> Result<HashSet<String>> {
    let mut stmt = c.prepare_cached("SELECT 1 FROM erased WHERE address_hash = ?1")?;
    let mut found = HashSet::new();
    for h in hashes {
        if stmt.exists([h])? {
            found.insert(h.clone());
        }
    }
    Ok(found)
}
