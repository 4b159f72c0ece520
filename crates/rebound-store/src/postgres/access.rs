//! API keys, users and sessions on PostgreSQL: the shared SQL of [`crate::access`].

use ::postgres::Row;
use rebound_core::Millis;

use super::Conn;
use crate::access::*;
use crate::{Result, StoreError};

fn key_from_row(r: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        scope: r.try_get(2)?,
        prefix: r.try_get(3)?,
        created_at: r.try_get(4)?,
        last_used_at: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
    })
}

fn user_from_row(r: &Row, at: usize) -> Result<User> {
    Ok(User {
        id: r.try_get(at)?,
        email: r.try_get(at + 1)?,
        role: r.try_get(at + 2)?,
        password_hash: r.try_get(at + 3)?,
        created_at: r.try_get(at + 4)?,
        last_login_at: r.try_get(at + 5)?,
    })
}

pub(crate) fn create_api_key(c: &mut Conn, k: &NewApiKey) -> Result<ApiKey> {
    let r = c.query_one(
        INSERT_KEY,
        &[&k.name, &k.scope, &k.key_hash, &k.prefix, &k.created_at],
    )?;
    key_from_row(&r)
}

pub(crate) fn list_api_keys(c: &mut Conn) -> Result<Vec<ApiKey>> {
    c.query(LIST_KEYS, &[])?.iter().map(key_from_row).collect()
}

pub(crate) fn api_key_by_hash(c: &mut Conn, hash: &str) -> Result<Option<ApiKey>> {
    c.query_opt(KEY_BY_HASH, &[&hash])?
        .as_ref()
        .map(key_from_row)
        .transpose()
}

pub(crate) fn revoke_api_key(c: &mut Conn, id: i64, now: Millis) -> Result<bool> {
    Ok(c.execute(REVOKE_KEY, &[&now, &id])? > 0)
}

pub(crate) fn touch_api_key(c: &mut Conn, id: i64, now: Millis) -> Result<()> {
    c.execute(TOUCH_KEY, &[&now, &id])?;
    Ok(())
}

pub(crate) fn create_user(c: &mut Conn, u: &NewUser) -> Result<User> {
    c.query_opt(
        INSERT_USER,
        &[
            &u.email,
            &u.email_key,
            &u.role,
            &u.password_hash,
            &u.created_at,
        ],
    )?
    .map(|r| user_from_row(&r, 0))
    .transpose()?
    .ok_or_else(|| StoreError::Conflict(format!("user {} already exists", u.email)))
}

pub(crate) fn list_users(c: &mut Conn) -> Result<Vec<User>> {
    c.query(LIST_USERS, &[])?
        .iter()
        .map(|r| user_from_row(r, 0))
        .collect()
}

pub(crate) fn user_by_email(c: &mut Conn, email_key: &str) -> Result<Option<User>> {
    c.query_opt(USER_BY_EMAIL, &[&email_key])?
        .map(|r| user_from_row(&r, 0))
        .transpose()
}

pub(crate) fn delete_user(c: &mut Conn, id: i64) -> Result<bool> {
    c.execute(DELETE_USER_SESSIONS, &[&id])?;
    Ok(c.execute(DELETE_USER, &[&id])? > 0)
}

pub(crate) fn create_session(c: &mut Conn, s: &NewSession) -> Result<()> {
    c.execute(PRUNE_SESSIONS, &[&s.created_at])?;
    c.execute(
        INSERT_SESSION,
        &[
            &s.id_hash,
            &s.user_id,
            &s.csrf,
            &s.created_at,
            &s.expires_at,
        ],
    )?;
    c.execute(LOGGED_IN, &[&s.created_at, &s.user_id])?;
    Ok(())
}

pub(crate) fn session(c: &mut Conn, id_hash: &str, now: Millis) -> Result<Option<Session>> {
    c.query_opt(SESSION, &[&id_hash, &now])?
        .map(|r| {
            Ok(Session {
                csrf: r.try_get(0)?,
                expires_at: r.try_get(1)?,
                user: user_from_row(&r, 2)?,
            })
        })
        .transpose()
}

pub(crate) fn delete_session(c: &mut Conn, id_hash: &str) -> Result<()> {
    c.execute(DELETE_SESSION, &[&id_hash])?;
    Ok(())
}
