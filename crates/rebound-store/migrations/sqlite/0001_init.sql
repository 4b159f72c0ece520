-- rebound schema, version 1. Types are written so the same DDL reads naturally on PostgreSQL
-- (BIGINT times in ms since the epoch, TEXT JSON); only the id columns differ there.

CREATE TABLE sources (
    id             INTEGER PRIMARY KEY,
    provider       TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    url_key        TEXT    NOT NULL UNIQUE,
    secret         TEXT,
    config         TEXT    NOT NULL DEFAULT '{}',
    status         TEXT    NOT NULL DEFAULT 'active',
    status_message TEXT,
    created_at     BIGINT  NOT NULL
);

-- The inbox is also the request log: one row per inbound request. Accepted requests keep
-- their raw headers and body and move pending → done | failed; rejected ones (and requests
-- answered without storing, like SNS confirmations) are state 'logged' with no body.
CREATE TABLE inbox (
    id              INTEGER PRIMARY KEY,
    source_id       BIGINT,
    provider        TEXT,
    received_at     BIGINT  NOT NULL,
    headers         TEXT    NOT NULL DEFAULT '[]',
    body            BLOB    NOT NULL DEFAULT x'',
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT,
    processed_at    BIGINT,
    events_created  INTEGER,
    method          TEXT    NOT NULL DEFAULT 'POST',
    path            TEXT    NOT NULL DEFAULT '',
    remote_addr     TEXT,
    http_status     INTEGER NOT NULL DEFAULT 200,
    outcome         TEXT    NOT NULL DEFAULT 'accepted',
    error           TEXT
);
CREATE INDEX inbox_pending ON inbox (id) WHERE state = 'pending';
CREATE INDEX inbox_failed ON inbox (id) WHERE state = 'failed';

CREATE TABLE contacts (
    id                INTEGER PRIMARY KEY,
    email             TEXT    NOT NULL,
    email_key         TEXT    NOT NULL UNIQUE,
    uuid              TEXT    NOT NULL UNIQUE,
    status            TEXT    NOT NULL DEFAULT 'subscribed',
    reason            TEXT,
    soft_bounce_count INTEGER NOT NULL DEFAULT 0,
    soft_bounces      TEXT    NOT NULL DEFAULT '[]',
    last_event_at     BIGINT,
    last_delivered_at BIGINT,
    last_engaged_at   BIGINT,
    attributes        TEXT    NOT NULL DEFAULT '{}',
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);
CREATE INDEX contacts_status ON contacts (status, id);

CREATE TABLE events (
    id                INTEGER PRIMARY KEY,
    dedup_key         TEXT    NOT NULL UNIQUE,
    contact_id        BIGINT  NOT NULL,
    source_id         BIGINT,
    inbox_id          BIGINT,
    provider          TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    class             TEXT,
    reason            TEXT,
    status_code       TEXT,
    diagnostic        TEXT,
    message_id        TEXT,
    provider_event_id TEXT,
    occurred_at       BIGINT  NOT NULL,
    recorded_at       BIGINT  NOT NULL,
    status_before     TEXT,
    status_after      TEXT,
    note              TEXT,
    details           TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX events_contact ON events (contact_id, id);

CREATE TABLE settings (
    key        TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
