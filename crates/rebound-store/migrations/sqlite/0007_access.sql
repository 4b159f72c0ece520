-- rebound schema: who may use rebound. API keys with a scope (admin, read, check) and UI
-- users with a role (admin, viewer) and their login sessions. Keys and session ids are
-- stored as their SHA-256 (hex), passwords as Argon2 hashes.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT   NOT NULL,
    scope        TEXT   NOT NULL,
    key_hash     TEXT   NOT NULL UNIQUE,
    prefix       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT   NOT NULL,
    email_key     TEXT   NOT NULL UNIQUE,
    role          TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT
);
CREATE TABLE sessions (
    id_hash    TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
