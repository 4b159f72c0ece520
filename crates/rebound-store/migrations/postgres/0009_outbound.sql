-- rebound schema, version 9: outbound webhooks. Subscriptions (a target URL, a kind, an event filter,
-- the signing secret and the one it replaced while both sign), the durable outbox (one row
-- per subscription and message, written in the transaction of the change that causes it)
-- and the log of delivery attempts.
CREATE TABLE subscriptions (
    id              BIGSERIAL PRIMARY KEY,
    url             TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    events          TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    previous_secret TEXT,
    previous_until  BIGINT,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    description     TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    failing_since   BIGINT,
    disabled_reason TEXT
);
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    subscription_id BIGINT  NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    message_id      TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    contact_id      BIGINT  NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    locked_until    BIGINT,
    locked_by       TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_contact ON outbox (subscription_id, contact_id, id) WHERE state = 'pending';
CREATE INDEX outbox_subscription ON outbox (subscription_id, state, updated_at);
CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    outbox_id       BIGINT  NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    subscription_id BIGINT  NOT NULL,
    attempt         BIGINT  NOT NULL,
    attempted_at    BIGINT  NOT NULL,
    http_status     BIGINT,
    latency_ms      BIGINT  NOT NULL,
    response        TEXT,
    error           TEXT,
    ok              BOOLEAN NOT NULL
);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id);
CREATE INDEX deliveries_outbox ON deliveries (outbox_id);
