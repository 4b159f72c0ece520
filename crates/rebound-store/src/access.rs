//! Who may use rebound: API keys (with a scope), UI users (with a role) and their login
//! sessions. Secrets are never stored: keys and session ids as their SHA-256 (hex), passwords
//! as Argon2 hashes made by the caller. Both backends run the same SQL (`$n` parameters,
//! first used in ascending order, which SQLite numbers the same way).

use rebound_core::Millis;
use serde::Serialize;

use rebound_core::timestamp::serde_rfc3339 as ts;

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Id.
    pub id: i64,
    /// A name to tell keys apart.
    pub name: String,
    /// `admin`, `read` or `check`.
    pub scope: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// Creation time.
    #[serde(serialize_with = "ts::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    /// When it was last used (to the minute).
    #[serde(serialize_with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Millis>,
    /// When it was revoked; a revoked key opens nothing.
    #[serde(serialize_with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Millis>,
}

/// A key to store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// A name to tell keys apart.
    pub name: String,
    /// `admin`, `read` or `check`.
    pub scope: String,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// The key's first characters.
    pub prefix: String,
    /// Creation time.
    pub created_at: Millis,
}

/// A UI user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Login address, as given.
    pub email: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// Argon2 hash (PHC string); never serialized.
    #[serde(skip)]
    pub password_hash: String,
    /// Creation time.
    #[serde(serialize_with = "ts::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    /// Last successful login.
    #[serde(serialize_with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<Millis>,
}

/// A user to store.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login address, as given.
    pub email: String,
    /// The address as compared (lower case).
    pub email_key: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// Argon2 hash (PHC string).
    pub password_hash: String,
    /// Creation time.
    pub created_at: Millis,
}

/// A login session to store.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the cookie's value, hex.
    pub id_hash: String,
    /// Whose.
    pub user_id: i64,
    /// The session's CSRF token (sent back in every form).
    pub csrf: String,
    /// Creation time.
    pub created_at: Millis,
    /// It opens nothing after this.
    pub expires_at: Millis,
}

/// A live session with its user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's CSRF token.
    pub csrf: String,
    /// It opens nothing after this.
    pub expires_at: Millis,
    /// Whose.
    pub user: User,
}

pub(crate) const INSERT_KEY: &str =
    "INSERT INTO api_keys (name, scope, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)
     RETURNING id, name, scope, prefix, created_at, last_used_at, revoked_at";
pub(crate) const LIST_KEYS: &str =
    "SELECT id, name, scope, prefix, created_at, last_used_at, revoked_at FROM api_keys ORDER BY id";
pub(crate) const KEY_BY_HASH: &str =
    "SELECT id, name, scope, prefix, created_at, last_used_at, revoked_at FROM api_keys
     WHERE key_hash = $1 AND revoked_at IS NULL";
pub(crate) const REVOKE_KEY: &str =
    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
pub(crate) const TOUCH_KEY: &str = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2";

pub(crate) const INSERT_USER: &str =
    "INSERT INTO users (email, email_key, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (email_key) DO NOTHING
     RETURNING users.id, users.email, users.role, users.password_hash, users.created_at, users.last_login_at";
pub(crate) const LIST_USERS: &str =
    "SELECT users.id, users.email, users.role, users.password_hash, users.created_at, users.last_login_at
     FROM users ORDER BY id";
pub(crate) const USER_BY_EMAIL: &str =
    "SELECT users.id, users.email, users.role, users.password_hash, users.created_at, users.last_login_at
     FROM users WHERE email_key = $1";
pub(crate) const DELETE_USER: &str = "DELETE FROM users WHERE id = $1";
pub(crate) const DELETE_USER_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = $1";
pub(crate) const LOGGED_IN: &str = "UPDATE users SET last_login_at = $1 WHERE id = $2";

pub(crate) const INSERT_SESSION: &str =
    "INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
/// Expired sessions go a few at a time, whenever someone logs in.
pub(crate) const PRUNE_SESSIONS: &str = "DELETE FROM sessions WHERE id_hash IN
     (SELECT id_hash FROM sessions WHERE expires_at < $1 LIMIT 100)";
pub(crate) const SESSION: &str =
    "SELECT sessions.csrf, sessions.expires_at, users.id, users.email, users.role, users.password_hash,
            users.created_at, users.last_login_at
     FROM sessions JOIN users ON users.id = sessions.user_id
     WHERE sessions.id_hash = $1 AND sessions.expires_at > $2";
pub(crate) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id_hash = $1";
