-- rebound schema on PostgreSQL: the SQLite migrations 0001–0005 in one file, the same
-- tables, columns and meaning. Every integer column is BIGINT (times in ms since the epoch,
-- counts), JSON is TEXT as on SQLite (the Rust side reads and writes text), bodies BYTEA.
-- No foreign keys, as on SQLite: events keep the source and inbox ids they came with even
-- after those rows are pruned.

CREATE TABLE sources (
    id             BIGSERIAL PRIMARY KEY,
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
-- A worker's lease: `locked_until` (when it expires) and `locked_by` (the store instance).
CREATE TABLE inbox (
    id              BIGSERIAL PRIMARY KEY,
    source_id       BIGINT,
    provider        TEXT,
    received_at     BIGINT  NOT NULL,
    headers         TEXT    NOT NULL DEFAULT '[]',
    body            BYTEA   NOT NULL DEFAULT '\x'::bytea,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT,
    processed_at    BIGINT,
    events_created  BIGINT,
    method          TEXT    NOT NULL DEFAULT 'POST',
    path            TEXT    NOT NULL DEFAULT '',
    remote_addr     TEXT,
    http_status     BIGINT  NOT NULL DEFAULT 200,
    outcome         TEXT    NOT NULL DEFAULT 'accepted',
    error           TEXT,
    locked_until    BIGINT,
    locked_by       TEXT
);
CREATE INDEX inbox_pending ON inbox (id) WHERE state = 'pending';
CREATE INDEX inbox_failed ON inbox (id) WHERE state = 'failed';

CREATE TABLE contacts (
    id                   BIGSERIAL PRIMARY KEY,
    email                TEXT    NOT NULL,
    email_key            TEXT    NOT NULL UNIQUE,
    uuid                 TEXT    NOT NULL UNIQUE,
    status               TEXT    NOT NULL DEFAULT 'subscribed',
    reason               TEXT,
    soft_bounce_count    BIGINT  NOT NULL DEFAULT 0,
    soft_bounces         TEXT    NOT NULL DEFAULT '[]',
    last_event_at        BIGINT,
    last_delivered_at    BIGINT,
    last_engaged_at      BIGINT,
    attributes           TEXT    NOT NULL DEFAULT '{}',
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    -- When the newest bounce, delivery, complaint or unsubscribe of the contact happened.
    last_policy_event_at BIGINT,
    -- The last status set by hand (API, import): when, what, and why.
    manual_at            BIGINT,
    manual_status        TEXT,
    manual_reason        TEXT
);
CREATE INDEX contacts_status ON contacts (status, id);

CREATE TABLE events (
    id                BIGSERIAL PRIMARY KEY,
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
-- A bounce email's returned Message-ID is matched to the send it belongs to.
CREATE INDEX events_message_id ON events (message_id) WHERE message_id IS NOT NULL;

CREATE TABLE settings (
    key        TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per message fetched from a bounce mailbox, written in the same transaction as its
-- inbox row. scope: `source:ID` for a mailbox source, `url:HASH` for a one-off scan.
CREATE TABLE mailbox_messages (
    scope      TEXT    NOT NULL,
    uid        TEXT    NOT NULL,
    inbox_id   BIGINT,
    is_bounce  BOOLEAN NOT NULL,
    fetched_at BIGINT  NOT NULL,
    PRIMARY KEY (scope, uid)
);

-- Rejected requests counted per minute, source, status and error. source_id 0 and
-- provider '' stand for "none".
CREATE TABLE rejection_counts (
    minute      BIGINT  NOT NULL,
    source_id   BIGINT  NOT NULL,
    provider    TEXT    NOT NULL,
    http_status BIGINT  NOT NULL,
    error       TEXT    NOT NULL,
    count       BIGINT  NOT NULL,
    PRIMARY KEY (minute, source_id, provider, http_status, error)
);
