//! API keys, users and sessions on SQLite: the shared SQL of [`crate::access`].

use rebound_core::Millis;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::access::*;
use crate::{Result, StoreError};

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        scope: r.get(2)?,
        prefix: r.get(3)?,
        created_at: r.get(4)?,
        last_used_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

fn user_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(at)?,
        email: r.get(at + 1)?,
        role: r.get(at + 2)?,
        password_hash: r.get(at + 3)?,
        created_at: r.get(at + 4)?,
        last_login_at: r.get(at + 5)?,
    })
}

pub(crate) fn create_api_key(c: &Connection, k: &NewApiKey) -> Result<ApiKey> {
    Ok(c.query_row(
        INSERT_KEY,
        params![k.name, k.scope, k.key_hash, k.prefix, k.created_at],
        key_from_row,
    )?)
}

pub(crate) fn list_api_keys(c: &Connection) -> Result<Vec<ApiKey>> {
    let mut stmt = c.prepare_cached(LIST_KEYS)?;
    let rows = stmt.query_map([], key_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn api_key_by_hash(c: &Connection, hash: &str) -> Result<Option<ApiKey>> {
    let mut stmt = c.prepare_cached(KEY_BY_HASH)?;
    Ok(stmt.query_row([hash], key_from_row).optional()?)
}

pub(crate) fn revoke_api_key(c: &Connection, id: i64, now: Millis) -> Result<bool> {
    Ok(c.execute(REVOKE_KEY, params![now, id])? > 0)
}

pub(crate) fn touch_api_key(c: &Connection, id: i64, now: Millis) -> Result<()> {
    c.execute(TOUCH_KEY, params![now, id])?;
    Ok(())
}

pub(crate) fn create_user(c: &Connection, u: &NewUser) -> Result<User> {
    c.query_row(
        INSERT_USER,
        params![u.email, u.email_key, u.role, u.password_hash, u.created_at],
        |r| user_from_row(r, 0),
    )
    .optional()?
    .ok_or_else(|| StoreError::Conflict(format!("user {} already exists", u.email)))
}

pub(crate) fn list_users(c: &Connection) -> Result<Vec<User>> {
    let mut stmt = c.prepare_cached(LIST_USERS)?;
    let rows = stmt.query_map([], |r| user_from_row(r, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn user_by_email(c: &Connection, email_key: &str) -> Result<Option<User>> {
    let mut stmt = c.prepare_cached(USER_BY_EMAIL)?;
    Ok(stmt
        .query_row([email_key], |r| user_from_row(r, 0))
        .optional()?)
}

pub(crate) fn delete_user(c: &Connection, id: i64) -> Result<bool> {
    c.execute(DELETE_USER_SESSIONS, [id])?;
    Ok(c.execute(DELETE_USER, [id])? > 0)
}

pub(crate) fn create_session(c: &Connection, s: &NewSession) -> Result<()> {
    c.execute(PRUNE_SESSIONS, [s.created_at])?;
    c.execute(
        INSERT_SESSION,
        params![s.id_hash, s.user_id, s.csrf, s.created_at, s.expires_at],
    )?;
    c.execute(LOGGED_IN, params![s.created_at, s.user_id])?;
    Ok(())
}

pub(crate) fn session(c: &Connection, id_hash: &str, now: Millis) -> Result<Option<Session>> {
    let mut stmt = c.prepare_cached(SESSION)?;
    Ok(stmt
        .query_row(params![id_hash, now], |r| {
            Ok(Session {
                csrf: r.get(0)?,
                expires_at: r.get(1)?,
                user: user_from_row(r, 2)?,
            })
        })
        .optional()?)
}

pub(crate) fn delete_session(c: &Connection, id_hash: &str) -> Result<()> {
    c.execute(DELETE_SESSION, [id_hash])?;
    Ok(())
}
